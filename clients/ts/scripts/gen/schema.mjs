// JSON Schema -> TypeScript mapping:
//   integer/number -> number, boolean, string, null; enum/const -> literal unions;
//   anyOf/oneOf -> unions; arrays -> T[]; objects -> Record<string, JsonValue>;
//   "x-kind": matrix -> MatrixInput, vector -> VectorInput, strings -> readonly string[]
//   (inputs; options take MatrixData / VectorData, as dataset handles go in method
//   parameters only) and MatrixResult<M> / VectorResult<M> / string[] (results).

import { docComment, literal, propKey, uniq, wrapText } from './text.mjs'

export function makeResolver(root) {
  return (schema) => {
    let s = schema
    const seen = new Set()
    while (s && typeof s.$ref === 'string') {
      if (seen.has(s.$ref)) throw new Error(`circular $ref ${s.$ref}`)
      seen.add(s.$ref)
      const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(s.$ref)
      if (!m) throw new Error(`unsupported $ref ${s.$ref}`)
      const { $ref, ...rest } = s
      s = { ...root[m[1]]?.[m[2]], ...rest }
    }
    return s
  }
}

/**
 * TypeScript type of a schema. `side` is 'input' (params), 'option' (constructor options)
 * or 'result' (returns, attributes): the array kinds differ.
 */
export function tsType(schema, side, deref) {
  const s = deref(schema ?? {})
  const kind = s['x-kind']
  if (kind !== undefined) {
    if (kind === 'matrix') return { input: 'MatrixInput', option: 'MatrixData' }[side] ?? 'MatrixResult<M>'
    if (kind === 'vector') return { input: 'VectorInput', option: 'VectorData' }[side] ?? 'VectorResult<M>'
    if (kind === 'strings') return side !== 'result' ? 'readonly string[]' : 'string[]'
    if (kind === 'self') return 'Self'
    throw new Error(`unknown x-kind ${kind}`)
  }
  const alts = s.anyOf ?? s.oneOf
  if (Array.isArray(alts)) return uniq(alts.map((a) => tsType(a, side, deref))).join(' | ')
  if ('const' in s) return literal(s.const)
  if (Array.isArray(s.enum)) return uniq(s.enum.map(literal)).join(' | ')
  if (Array.isArray(s.type)) return uniq(s.type.map((t) => tsType({ ...s, type: t }, side, deref))).join(' | ')
  switch (s.type) {
    case 'integer':
    case 'number':
      return 'number'
    case 'boolean':
      return 'boolean'
    case 'string':
      return 'string'
    case 'null':
      return 'null'
    case 'array': {
      const item = tsType(s.items ?? {}, side, deref)
      const wrapped = /[|&]/.test(item) ? `(${item})` : item
      return side !== 'result' ? `readonly ${wrapped}[]` : `${wrapped}[]`
    }
    case 'object':
      return side !== 'result' ? 'Readonly<Record<string, JsonValue>>' : '{ [key: string]: JsonValue }'
    case undefined:
      return side !== 'result' ? 'JsonValue' : 'unknown'
    default:
      throw new Error(`unsupported JSON Schema type ${s.type}`)
  }
}

/** The runtime array kind of a field: 'matrix' | 'vector' | 'strings' | undefined. */
export function arrayKind(schema, deref) {
  const s = deref(schema ?? {})
  if (typeof s['x-kind'] === 'string') return s['x-kind']
  const alts = s.anyOf ?? s.oneOf
  if (Array.isArray(alts)) {
    const kinds = uniq(alts.map((a) => arrayKind(a, deref)).filter(Boolean))
    if (kinds.length > 1) throw new Error(`field mixes array kinds ${kinds.join(', ')}`)
    return kinds[0]
  }
  return undefined
}

/** What a method or attribute resolves to: an x-kind, or 'value'. */
export function returnKind(returns, deref) {
  const r = deref(returns ?? {})
  return typeof r['x-kind'] === 'string' ? r['x-kind'] : 'value'
}

function constraintLines(schema, deref) {
  const parts = []
  const visit = (x) => {
    const d = deref(x)
    for (const [key, label] of [
      ['minimum', '>='],
      ['exclusiveMinimum', '>'],
      ['maximum', '<='],
      ['exclusiveMaximum', '<'],
    ]) {
      if (typeof d[key] === 'number') parts.push(`${label} ${d[key]}`)
    }
    for (const a of d.anyOf ?? d.oneOf ?? []) visit(a)
  }
  visit(deref(schema ?? {}))
  return parts.length ? [`Constraints: ${uniq(parts).join(', ')}.`] : []
}

function fieldDoc(schema, deref, indent) {
  const s = deref(schema ?? {})
  const lines = s.description ? wrapText(s.description) : []
  const constraints = constraintLines(s, deref)
  if (constraints.length && lines.length) lines.push('')
  lines.push(...constraints)
  if ('default' in s) {
    if (lines.length) lines.push('')
    lines.push(`@defaultValue \`${JSON.stringify(s.default)}\``)
  }
  return docComment(indent, lines)
}

/** `export interface name { ... }` with one documented property per schema property. */
export function objectInterface(name, schema, deref, { allOptional, doc, side = 'input' }) {
  const s = deref(schema)
  const required = new Set(allOptional ? [] : (s.required ?? []))
  const lines = [...doc, `export interface ${name} {`]
  for (const [key, prop] of Object.entries(s.properties ?? {})) {
    lines.push(...fieldDoc(prop, deref, '  '))
    lines.push(`  ${propKey(key)}${required.has(key) ? '' : '?'}: ${tsType(prop, side, deref)}`)
  }
  lines.push('}')
  return lines
}

/** `{ X: 'matrix', ... }` for the array-valued properties. */
export function kindMap(properties, deref) {
  const entries = Object.entries(properties ?? {})
    .map(([k, v]) => [k, arrayKind(v, deref)])
    .filter(([, kind]) => kind !== undefined)
  if (entries.length === 0) return '{}'
  return `{ ${entries.map(([k, kind]) => `${propKey(k)}: ${literal(kind)}`).join(', ')} }`
}

/** A small literal value of a field's type, for examples. */
export function exampleValue(schema, deref) {
  const s = deref(schema ?? {})
  const kind = arrayKind(s, deref)
  if (kind === 'matrix') return '[[0, 1], [1, 0]]'
  if (kind === 'vector') return '[1, 1]'
  if (kind === 'strings') return "['a', 'b']"
  if ('default' in s) return JSON.stringify(s.default)
  return 'null'
}

/** The required parameters of a method as an example object literal ('' when none). */
export function exampleParams(params, deref) {
  const p = deref(params ?? {})
  const req = p.required ?? []
  return req.length ? `{ ${req.map((r) => `${propKey(r)}: ${exampleValue(p.properties?.[r], deref)}`).join(', ')} }` : ''
}

/** Up to two options with scalar defaults, as an example object literal. */
export function exampleOptions(schema, deref) {
  const s = deref(schema)
  const props = Object.entries(s.properties ?? {}).filter(([, p]) => {
    const d = deref(p)
    return 'default' in d && d.default !== null && typeof d.default !== 'object'
  })
  const picked = props.slice(0, 2).map(([k, p]) => `${propKey(k)}: ${literal(deref(p).default)}`)
  return picked.length ? `{ ${picked.join(', ')} }` : '{}'
}

/** How a result of the given kind looks in the default 'plain' mode, for example comments. */
export function plainShape(kind, schema, deref) {
  if (kind === 'matrix') return 'number[][]'
  if (kind === 'vector') return 'number[]'
  if (kind === 'strings') return 'string[]'
  if (kind === 'self') return 'the model'
  return tsType(schema, 'result', deref)
}
