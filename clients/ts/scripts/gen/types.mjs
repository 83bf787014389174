// generated/types.ts (option, parameter, result and attribute types of every class) and
// generated/contracts.ts (their runtime view: array kinds and result kinds).

import { HEADER, docWithExample, literal, pascal, propKey, wrapText, docComment } from './text.mjs'
import { PROGRESS_METHODS } from './estimators.mjs'
import { exampleOptions, exampleParams, kindMap, objectInterface, returnKind, tsType } from './schema.mjs'

function classTypes(cls, c, deref) {
  const out = []
  const optName = `${cls}Options`
  out.push(
    ...objectInterface(optName, c.options, deref, {
      allOptional: true,
      side: 'option',
      doc: docWithExample(
        '',
        [`Constructor options of \`${cls}\`: ${c.description ?? deref(c.options).description ?? ''}`.trim(), '', 'Every option is optional; the server fills in the documented defaults.'],
        [`const opts: ${optName} = ${exampleOptions(c.options, deref)}`],
      ),
    }),
    '',
  )
  const methods = Object.entries(c.methods ?? {})
  for (const [method, m] of methods) {
    const name = `${cls}${pascal(method)}Params`
    const params = deref(m.params ?? { type: 'object', properties: {} })
    out.push(
      ...objectInterface(name, params, deref, {
        allOptional: false,
        doc: docWithExample('', [`Parameters of \`${cls}.${method}()\`: ${m.description ?? ''}`.trim()], [
          `const params: ${name} = ${exampleParams(params, deref) || '{}'}`,
        ]),
      }),
      '',
    )
  }
  out.push(
    ...docWithExample('', [`What each \`${cls}\` method resolves to, by result mode \`M\`; \`Self\` is the estimator.`], [
      `type Labels = ${cls}Results['predict'] // number[] in the default 'plain' mode`,
    ]),
    `export interface ${cls}Results<M extends ResultMode = 'plain', Self = unknown> {`,
  )
  for (const [method, m] of methods) {
    out.push(...docComment('  ', m.description ? wrapText(m.description) : []))
    out.push(`  ${propKey(method)}: ${tsType(m.returns ?? {}, 'result', deref)}`)
  }
  out.push('}', '')
  out.push(
    ...docWithExample('', [`Fitted attributes of \`${cls}\` and their types, by result mode \`M\`.`], [
      `type Centers = ${cls}Attributes['cluster_centers_'] // number[][]`,
    ]),
    `export interface ${cls}Attributes<M extends ResultMode = 'plain'> {`,
  )
  for (const [attr, a] of Object.entries(c.attributes ?? {})) {
    out.push(...docComment('  ', a.description ? wrapText(a.description) : []))
    out.push(`  ${propKey(attr)}: ${tsType(a, 'result', deref)}`)
  }
  out.push('}', '')
  return out
}

export function typesFile(contract, deref) {
  const out = [
    ...HEADER,
    "import type { MatrixData, MatrixInput, MatrixResult, ResultMode, VectorData, VectorInput, VectorResult } from '../array-types.js'",
    '',
    ...docWithExample('', ['Any msgpack-representable value (options such as `init` strings, routing maps...).'], [
      'const v: JsonValue = { fit: { sample_weight: null } }',
    ]),
    'export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue }',
    '',
  ]
  for (const [cls, c] of Object.entries(contract.classes ?? {})) out.push(...classTypes(cls, c, deref))
  return out.join('\n')
}

export function contractsFile(contract, deref) {
  const out = [...HEADER]
  const classNames = Object.keys(contract.classes ?? {})
  for (const cls of classNames) {
    const c = contract.classes[cls]
    out.push(
      ...docWithExample(
        '',
        [
          `Runtime view of the \`${cls}\` contract: the array kind of each array-valued field and the`,
          'result kind of each method (`self`, `matrix`, `vector`, `strings` or `value`); `progress`',
          'marks the methods that can report progress.',
        ],
        [`${cls}Contract.methods.predict.returns // 'vector'`],
      ),
      `export const ${cls}Contract = {`,
      `  className: ${literal(cls)},`,
      `  options: ${kindMap(deref(c.options).properties, deref)},`,
      '  methods: {',
    )
    for (const [method, m] of Object.entries(c.methods ?? {})) {
      const params = deref(m.params ?? { properties: {} })
      const progress = PROGRESS_METHODS.has(method) ? ', progress: true' : ''
      out.push(`    ${propKey(method)}: { params: ${kindMap(params.properties, deref)}, returns: ${literal(returnKind(m.returns, deref))}${progress} },`)
    }
    out.push('  },', '  attributes: {')
    for (const [attr, a] of Object.entries(c.attributes ?? {})) out.push(`    ${propKey(attr)}: ${literal(returnKind(a, deref))},`)
    out.push('  },', '} as const', '')
  }
  out.push(
    ...docWithExample('', ['Estimator classes described by the contract.'], ["CONTRACT_CLASSES.includes('MiniBatchKMeans') // true"]),
    `export const CONTRACT_CLASSES = [${classNames.map(literal).join(', ')}] as const`,
    '',
  )
  return out.join('\n')
}
