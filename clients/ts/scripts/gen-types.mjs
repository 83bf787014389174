#!/usr/bin/env node
// Generates src/generated/types.ts from the wire contract (schemas/contract.schema.json).
//
//   node scripts/gen-types.mjs                 write src/generated/types.ts
//   node scripts/gen-types.mjs --check         exit 1 when the committed file is stale
//   node scripts/gen-types.mjs --schema PATH   read another contract file
//   node scripts/gen-types.mjs --out PATH      write somewhere else ('-' = stdout)
//
// Plain Node, no dependencies. The mapping from JSON Schema to TypeScript:
//   integer/number -> number, boolean, string, null; enum/const -> literal unions;
//   anyOf/oneOf -> unions; arrays -> T[]; objects -> Record<string, JsonValue>;
//   "x-kind": matrix -> MatrixInput, vector -> VectorInput, strings -> readonly string[]
//   (inputs) and MatrixResult<M> / VectorResult<M> / string[] (results).

import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const pkgRoot = resolve(here, '..')

function parseArgs(argv) {
  const args = { check: false, schema: resolve(pkgRoot, '../../schemas/contract.schema.json'), out: resolve(pkgRoot, 'src/generated/types.ts') }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--check') args.check = true
    else if (a === '--schema') args.schema = resolve(argv[++i])
    else if (a === '--out') args.out = argv[++i] === '-' ? '-' : resolve(argv[i])
    else throw new Error(`unknown argument ${a}`)
  }
  return args
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/

function pascal(name) {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join('')
}

function literal(value) {
  return typeof value === 'string' ? `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : JSON.stringify(value)
}

function propKey(name) {
  return IDENT.test(name) ? name : literal(name)
}

function uniq(items) {
  return [...new Set(items)]
}

function makeResolver(root) {
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
 * TypeScript type of a schema. `side` is 'input' (options, params) or 'result'
 * (returns, attributes): the array kinds differ.
 */
function tsType(schema, side, deref) {
  const s = deref(schema ?? {})
  const kind = s['x-kind']
  if (kind !== undefined) {
    if (kind === 'matrix') return side === 'input' ? 'MatrixInput' : 'MatrixResult<M>'
    if (kind === 'vector') return side === 'input' ? 'VectorInput' : 'VectorResult<M>'
    if (kind === 'strings') return side === 'input' ? 'readonly string[]' : 'string[]'
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
      return side === 'input' ? `readonly ${wrapped}[]` : `${wrapped}[]`
    }
    case 'object':
      return side === 'input' ? 'Readonly<Record<string, JsonValue>>' : '{ [key: string]: JsonValue }'
    case undefined:
      return side === 'input' ? 'JsonValue' : 'unknown'
    default:
      throw new Error(`unsupported JSON Schema type ${s.type}`)
  }
}

/** The runtime array kind of a field: 'matrix' | 'vector' | 'strings' | undefined. */
function arrayKind(schema, deref) {
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

function wrapText(text, width = 92) {
  const out = []
  for (const para of String(text).split(/\n/)) {
    let line = ''
    for (const word of para.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        out.push(line)
        line = word
      } else line = line ? `${line} ${word}` : word
    }
    out.push(line)
  }
  return out
}

function docComment(indent, lines) {
  const body = lines.filter((l) => l !== undefined).map((l) => l.replace(/\*\//g, '*\\/'))
  if (body.length === 0) return []
  return [`${indent}/**`, ...body.map((l) => (l ? `${indent} * ${l}` : `${indent} *`)), `${indent} */`]
}

function constraintLines(schema, deref) {
  const s = deref(schema ?? {})
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
  visit(s)
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

function objectInterface(name, schema, deref, { allOptional, header }) {
  const s = deref(schema)
  const required = new Set(allOptional ? [] : (s.required ?? []))
  const props = s.properties ?? {}
  let inCode = false
  const wrapped = header.flatMap((l) => {
    if (l.startsWith('```')) inCode = !inCode
    return inCode || l.startsWith('```') || l.startsWith('@') ? [l] : wrapText(l)
  })
  const lines = [...docComment('', wrapped), `export interface ${name} {`]
  for (const [key, prop] of Object.entries(props)) {
    lines.push(...fieldDoc(prop, deref, '  '))
    lines.push(`  ${propKey(key)}${required.has(key) ? '' : '?'}: ${tsType(prop, 'input', deref)}`)
  }
  lines.push('}')
  return lines
}

function returnKind(returns, deref) {
  const r = deref(returns ?? {})
  if (typeof r['x-kind'] === 'string') return r['x-kind']
  return 'value'
}

function generate(contract) {
  const deref = makeResolver(contract)
  if (contract.protocol?.version !== 1) throw new Error(`contract is for protocol ${contract.protocol?.version}, this generator knows 1`)
  const out = []
  out.push(
    '// GENERATED FILE, DO NOT EDIT.',
    '// Generated by clients/ts/scripts/gen-types.mjs from schemas/contract.schema.json.',
    '// Regenerate with `npm run gen`; a test fails when this file is stale.',
    '',
    "import type { MatrixInput, MatrixResult, ResultMode, VectorInput, VectorResult } from '../arrays.js'",
    '',
    '/**',
    ' * Any msgpack-representable value (options such as `init` strings, routing maps...).',
    ' *',
    ' * @example',
    ' * ```ts',
    " * const v: JsonValue = { fit: { sample_weight: null } }",
    ' * ```',
    ' */',
    'export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue }',
    '',
    '/**',
    ' * The wire protocol version the contract was generated for.',
    ' *',
    ' * @example',
    ' * ```ts',
    ' * CONTRACT_PROTOCOL // 1',
    ' * ```',
    ' */',
    `export const CONTRACT_PROTOCOL = ${contract.protocol.version}`,
    '',
  )
  const classNames = Object.keys(contract.classes ?? {})
  for (const cls of classNames) {
    const c = contract.classes[cls]
    const optName = `${cls}Options`
    out.push(
      ...objectInterface(optName, c.options, deref, {
        allOptional: true,
        header: [
          `Constructor options of \`${cls}\`: ${c.description ?? deref(c.options).description ?? ''}`.trim(),
          '',
          'Every option is optional; the server fills in the documented defaults.',
          '',
          '@example',
          '```ts',
          `const opts: ${optName} = ${exampleOptions(c.options, deref)}`,
          '```',
        ],
      }),
      '',
    )
    const methods = Object.entries(c.methods ?? {})
    for (const [method, m] of methods) {
      const name = `${cls}${pascal(method)}Params`
      const params = deref(m.params ?? { type: 'object', properties: {} })
      const req = params.required ?? []
      out.push(
        ...objectInterface(name, params, deref, {
          allOptional: false,
          header: [
            `Parameters of \`${cls}.${method}()\`: ${m.description ?? ''}`.trim(),
            '',
            '@example',
            '```ts',
            `const params: ${name} = ${req.length ? `{ ${req.map((r) => `${r}: ${exampleValue(params.properties?.[r], deref)}`).join(', ')} }` : '{}'}`,
            '```',
          ],
        }),
        '',
      )
    }
    // Result types.
    out.push(
      ...docComment('', [
        `What each \`${cls}\` method resolves to, by result mode \`M\`; \`Self\` is the estimator.`,
        '',
        '@example',
        '```ts',
        `type Labels = ${cls}Results['predict'] // number[] in the default 'plain' mode`,
        '```',
      ]),
      `export interface ${cls}Results<M extends ResultMode = 'plain', Self = unknown> {`,
    )
    for (const [method, m] of methods) {
      out.push(...docComment('  ', m.description ? wrapText(m.description) : []))
      out.push(`  ${propKey(method)}: ${tsType(m.returns ?? {}, 'result', deref)}`)
    }
    out.push('}', '')
    out.push(
      ...docComment('', [
        `Fitted attributes of \`${cls}\` and their types, by result mode \`M\`.`,
        '',
        '@example',
        '```ts',
        `type Centers = ${cls}Attributes['cluster_centers_'] // number[][]`,
        '```',
      ]),
      `export interface ${cls}Attributes<M extends ResultMode = 'plain'> {`,
    )
    for (const [attr, a] of Object.entries(c.attributes ?? {})) {
      out.push(...docComment('  ', a.description ? wrapText(a.description) : []))
      out.push(`  ${propKey(attr)}: ${tsType(a, 'result', deref)}`)
    }
    out.push('}', '')
    // Runtime contract: which fields hold arrays, what each method returns.
    out.push(
      ...docComment('', [
        `Runtime view of the \`${cls}\` contract: the array kind of each array-valued field and the`,
        'result kind of each method (`self`, `matrix`, `vector`, `strings` or `value`).',
        '',
        '@example',
        '```ts',
        `${cls}Contract.methods.predict.returns // 'vector'`,
        '```',
      ]),
      `export const ${cls}Contract = {`,
      `  className: ${literal(cls)},`,
      `  options: ${kindMap(deref(c.options).properties, deref)},`,
      '  methods: {',
    )
    for (const [method, m] of methods) {
      const params = deref(m.params ?? { properties: {} })
      out.push(`    ${propKey(method)}: { params: ${kindMap(params.properties, deref)}, returns: ${literal(returnKind(m.returns, deref))} },`)
    }
    out.push('  },', '  attributes: {')
    for (const [attr, a] of Object.entries(c.attributes ?? {})) {
      out.push(`    ${propKey(attr)}: ${literal(returnKind(a, deref))},`)
    }
    out.push('  },', '} as const', '')
  }
  out.push(
    '/**',
    ' * Estimator classes described by the contract.',
    ' *',
    ' * @example',
    ' * ```ts',
    " * CONTRACT_CLASSES.includes('MiniBatchKMeans') // true",
    ' * ```',
    ' */',
    `export const CONTRACT_CLASSES = [${classNames.map(literal).join(', ')}] as const`,
    '',
  )
  return out.join('\n')
}

function kindMap(properties, deref) {
  const entries = Object.entries(properties ?? {})
    .map(([k, v]) => [k, arrayKind(v, deref)])
    .filter(([, kind]) => kind !== undefined)
  if (entries.length === 0) return '{}'
  return `{ ${entries.map(([k, kind]) => `${propKey(k)}: ${literal(kind)}`).join(', ')} }`
}

function exampleValue(schema, deref) {
  const s = deref(schema ?? {})
  const kind = arrayKind(s, deref)
  if (kind === 'matrix') return '[[0, 1], [1, 0]]'
  if (kind === 'vector') return '[1, 1]'
  if (kind === 'strings') return "['a', 'b']"
  if ('default' in s) return JSON.stringify(s.default)
  return 'null'
}

function exampleOptions(schema, deref) {
  const s = deref(schema)
  const props = Object.entries(s.properties ?? {}).filter(([, p]) => {
    const d = deref(p)
    return 'default' in d && d.default !== null && typeof d.default !== 'object'
  })
  const picked = props.slice(0, 2).map(([k, p]) => `${propKey(k)}: ${literal(deref(p).default)}`)
  return picked.length ? `{ ${picked.join(', ')} }` : '{}'
}

function main() {
  const args = parseArgs(process.argv.slice(2))
  const contract = JSON.parse(readFileSync(args.schema, 'utf8'))
  const text = generate(contract)
  if (args.check) {
    let current = ''
    try {
      current = readFileSync(args.out, 'utf8')
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      console.error(`${args.out} is stale: run \`npm run gen\` in clients/ts and commit the result.`)
      process.exit(1)
    }
    console.log(`${args.out} is up to date.`)
    return
  }
  if (args.out === '-') process.stdout.write(text)
  else {
    writeFileSync(args.out, text)
    console.log(`wrote ${args.out}`)
  }
}

export { generate }

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
