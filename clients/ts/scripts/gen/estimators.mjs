// generated/<Class>.ts: one estimator class per contract class, with a typed method per
// contract method and an accessor per attribute; generated/classes.ts re-exports them.

import { HEADER, camel, docWithExample, pascal, propKey } from './text.mjs'
import { exampleOptions, exampleParams, plainShape, returnKind } from './schema.mjs'

// The methods whose calls may ask for interim progress messages (PROTOCOL.md 3, `call`,
// Progress). The contract's methods carry no such flag, so the list lives here.
export const PROGRESS_METHODS = new Set(['fit', 'partial_fit', 'fit_predict', 'fit_transform'])

function methodLines(cls, method, m, deref) {
  const params = deref(m.params ?? { type: 'object', properties: {} })
  const hasRequired = (params.required ?? []).length > 0
  const args = exampleParams(params, deref)
  const kind = returnKind(m.returns, deref)
  const call = `await model.${method}(${args})`
  const example = kind === 'self' ? [call] : [`const ${camel(method)} = ${call} // ${plainShape(kind, m.returns, deref)}`]
  const type = `${cls}Results<M, this>[${propKey(method) === method ? `'${method}'` : propKey(method)}]`
  const opts = `opts: ${cls}${pascal(method)}Params${hasRequired ? '' : ' = {}'}`
  const optionsType = PROGRESS_METHODS.has(method) ? 'ProgressCallOptions' : 'MethodCallOptions'
  return [
    ...docWithExample('  ', [m.description ?? ''], example),
    `  ${propKey(method)}(${opts}, options?: ${optionsType}): Promise<${type}> {`,
    `    return this._call('${method}', opts, options) as Promise<${type}>`,
    '  }',
    '',
  ]
}

function attributeLines(cls, attr, a, deref) {
  const kind = returnKind(a, deref)
  const type = `${cls}Attributes<M>['${attr}']`
  return [
    ...docWithExample('  ', [a.description ?? ''], [`const ${camel(attr)} = await model.${attr} // ${plainShape(kind, a, deref)}`]),
    `  get ${attr}(): Promise<${type}> {`,
    `    return this._get('${attr}') as Promise<${type}>`,
    '  }',
    '',
  ]
}

export function classFile(cls, c, deref) {
  const methods = Object.entries(c.methods ?? {})
  const paramTypes = methods.map(([method]) => `${cls}${pascal(method)}Params`)
  const typeImports = [`${cls}Attributes`, `${cls}Options`, `${cls}Results`, ...paramTypes].sort()
  const fit = c.methods?.fit ? ['await model.fit({ X }) // X: number[][], typed-array rows, { data, shape } or CSR'] : []
  const out = [
    ...HEADER,
    "import type { ResultMode } from '../array-types.js'",
    "import type { PythonBridge } from '../bridge.js'",
    "import type { CallOptions, MethodCallOptions, ProgressCallOptions } from '../call-options.js'",
    "import { Estimator } from '../estimator.js'",
    `import { ${cls}Contract } from './contracts.js'`,
    `import type {\n${typeImports.map((t) => `  ${t},`).join('\n')}\n} from './types.js'`,
    '',
    ...docWithExample(
      '',
      [
        `${c.description ?? cls} Computed by scikit-learn-compatible code in a Python server process; arrays travel as raw binary frames.`,
        '',
        'Every method takes its parameters as one object (as in scikit-learn-ts) and, optionally, a second object of call options: a `timeout` and an `AbortSignal` (either cancels the call on the server), an `idempotencyKey`, and for the fitting methods an `onProgress` callback.',
        '',
        `\`M\` is the result mode of the bridge: leave it out for plain \`number[][]\` results; write \`new ${cls}<'ndarray'>()\` to use a bridge made with \`{ ndarray: true }\`.`,
      ],
      [
        "import * as sklearn from 'skbridge'",
        '',
        'const py = await sklearn.createPythonBridge()',
        `const model = new sklearn.${cls}()`,
        'await model.init(py)',
        ...fit,
        'await model.dispose()',
        'await py.disconnect()',
      ],
    ),
    `export class ${cls}<M extends ResultMode = 'plain'> extends Estimator<${cls}Options, M> {`,
    ...docWithExample('  ', [`Creates the estimator locally; nothing reaches Python until \`init(py)\`.`], [
      `const model = new ${cls}(${exampleOptions(c.options, deref)})`,
    ]),
    `  constructor(opts?: ${cls}Options) {`,
    `    super(${cls}Contract, opts)`,
    '  }',
    '',
    ...docWithExample(
      '  ',
      [
        `Creates a new ${cls} on the server from model-format bytes (from \`save()\`, or from \`save\` in Python) and resolves with a ready model (no \`init\` needed). Its \`opts\` are not known on this side and stay empty. Rejects with \`InvalidModelError\` when the bytes are not a valid model file.`,
      ],
      ['const bytes = await model.save()', `const copy = await ${cls}.load(py, bytes)`],
    ),
    `  static async load<M extends ResultMode = 'plain'>(py: PythonBridge<M>, model: Uint8Array, options?: CallOptions): Promise<${cls}<M>> {`,
    `    const loaded = new ${cls}<M>()`,
    '    await loaded._load(py, model, options)',
    '    return loaded',
    '  }',
    '',
  ]
  for (const [method, m] of methods) out.push(...methodLines(cls, method, m, deref))
  for (const [attr, a] of Object.entries(c.attributes ?? {})) out.push(...attributeLines(cls, attr, a, deref))
  if (out[out.length - 1] === '') out.pop()
  out.push('}', '')
  return out.join('\n')
}

export function classesBarrel(contract) {
  const out = [...HEADER]
  for (const cls of Object.keys(contract.classes ?? {})) out.push(`export { ${cls} } from './${cls}.js'`)
  out.push('')
  return out.join('\n')
}
