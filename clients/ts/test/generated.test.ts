import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'

import { MiniBatchKMeansContract } from '../src/generated/contracts.js'
import { MiniBatchKMeans } from '../src/index.js'
import { PKG_ROOT, REPO_ROOT, ms, tempDir } from './helpers.js'

const SCHEMA = join(REPO_ROOT, 'schemas/contract.schema.json')
const GENERATOR = join(PKG_ROOT, 'scripts/gen-types.mjs')
const GENERATED = join(PKG_ROOT, 'src/generated')

interface Contract {
  protocol: { errors: Record<string, string>; dtypes: string[]; [key: string]: unknown }
  [key: string]: unknown
}

/** Temp dirs made by these tests, removed at the end. */
const made: string[] = []
function scratch(): string {
  const dir = tempDir()
  made.push(dir)
  return dir
}
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
})

function readContract(): Contract {
  return JSON.parse(readFileSync(SCHEMA, 'utf8')) as Contract
}

function runGenerator(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [GENERATOR, ...args], { encoding: 'utf8' })
  return { status: r.status, output: `${r.stderr}${r.stdout}` }
}

/** A contract file with the given change applied, in a fresh temp dir. */
function modifiedContract(change: (c: Contract) => void): string {
  const contract = readContract()
  change(contract)
  const path = join(scratch(), 'contract.schema.json')
  writeFileSync(path, JSON.stringify(contract))
  return path
}

describe('generated code', () => {
  it('src/generated/ is up to date with schemas/contract.schema.json (--check)', () => {
    const r = runGenerator('--check', '--schema', SCHEMA)
    assert.equal(r.status, 0, r.output)
  })

  it('--check fails on an edited, a missing or a left-over generated file', () => {
    const dir = scratch()
    cpSync(GENERATED, dir, { recursive: true })
    assert.equal(runGenerator('--check', '--schema', SCHEMA, '--out-dir', dir).status, 0)

    writeFileSync(join(dir, 'errors.ts'), `${readFileSync(join(dir, 'errors.ts'), 'utf8')}\n// hand edit\n`)
    const edited = runGenerator('--check', '--schema', SCHEMA, '--out-dir', dir)
    assert.equal(edited.status, 1)
    assert.match(edited.output, /stale in .*errors\.ts/)

    rmSync(join(dir, 'errors.ts'))
    assert.match(runGenerator('--check', '--schema', SCHEMA, '--out-dir', dir).output, /errors\.ts/)

    cpSync(join(GENERATED, 'errors.ts'), join(dir, 'errors.ts'))
    writeFileSync(join(dir, 'OldEstimator.ts'), '// GENERATED FILE, DO NOT EDIT.\n')
    const leftover = runGenerator('--check', '--schema', SCHEMA, '--out-dir', dir)
    assert.equal(leftover.status, 1)
    assert.match(leftover.output, /OldEstimator\.ts/)
  })

  it('--check fails when the contract changes and the files are not regenerated', () => {
    const schema = modifiedContract((c) => {
      c.protocol.errors.not_fitted = 'a changed meaning'
    })
    const r = runGenerator('--check', '--schema', schema)
    assert.equal(r.status, 1)
    assert.match(r.output, /errors\.ts/)
  })

  it('every generated file says so on its first line', () => {
    const files = readdirSync(GENERATED).filter((f) => f.endsWith('.ts'))
    assert.ok(files.length >= 7, files.join(', '))
    for (const f of files) {
      assert.match(readFileSync(join(GENERATED, f), 'utf8').split('\n')[0] ?? '', /GENERATED FILE, DO NOT EDIT/, f)
    }
  })

  it('MiniBatchKMeans implements every method and attribute of the contract, documented from it', () => {
    const contract = readContract() as unknown as {
      classes: { MiniBatchKMeans: { methods: Record<string, { description: string }>; attributes: Record<string, { description: string }> } }
    }
    const spec = contract.classes.MiniBatchKMeans
    assert.deepEqual(Object.keys(MiniBatchKMeansContract.methods), Object.keys(spec.methods))
    assert.deepEqual(Object.keys(MiniBatchKMeansContract.attributes), Object.keys(spec.attributes))
    const proto = MiniBatchKMeans.prototype as unknown as Record<string, unknown>
    for (const method of Object.keys(spec.methods)) assert.equal(typeof proto[method], 'function', `missing method ${method}`)
    for (const attr of Object.keys(spec.attributes)) {
      assert.equal(typeof Object.getOwnPropertyDescriptor(MiniBatchKMeans.prototype, attr)?.get, 'function', `missing accessor ${attr}`)
    }
    // The TSDoc of each member is the schema's description (whitespace aside).
    const text = readFileSync(join(GENERATED, 'MiniBatchKMeans.ts'), 'utf8').replace(/\n\s*\* ?/g, ' ')
    for (const { description } of [...Object.values(spec.methods), ...Object.values(spec.attributes)]) {
      assert.ok(text.includes(description), `TSDoc lacks: ${description}`)
    }
  })

  it('maps JSON Schema to TypeScript', async () => {
    const mod = (await import(GENERATOR)) as { generate: (c: unknown) => Record<string, string> }
    const contract = readContract()
    const files = mod.generate({
      protocol: contract.protocol,
      classes: {
        Toy: {
          description: 'A toy.',
          options: {
            type: 'object',
            properties: {
              mode: { enum: ['a', "b'c"], type: 'string', default: 'a', description: 'Mode. */ not a comment end' },
              k: { type: 'integer', minimum: 1, maximum: 9 },
              w: { anyOf: [{ 'x-kind': 'vector' }, { type: 'null' }] },
              tags: { type: 'array', items: { type: 'string' } },
              ref: { $ref: '#/$defs/Flag' },
            },
          },
          methods: {
            go: {
              description: 'Go.',
              params: { type: 'object', properties: { X: { 'x-kind': 'matrix' } }, required: ['X'] },
              returns: { 'x-kind': 'matrix' },
            },
            stop: { description: 'Stop.', params: { type: 'object', properties: {} }, returns: { 'x-kind': 'self' } },
          },
          attributes: { names_: { 'x-kind': 'strings', description: 'Names.' }, n_: { type: 'integer' } },
        },
      },
      $defs: { Flag: { type: 'boolean' } },
    })
    const types = files['types.ts'] ?? ''
    assert.match(types, /mode\?: 'a' \| 'b\\'c'/)
    assert.match(types, /\*\\\/ not a comment end/)
    assert.match(types, /Constraints: >= 1, <= 9\./)
    assert.match(types, /k\?: number/)
    assert.match(types, /w\?: VectorData \| null/) // options take data, not dataset handles
    assert.match(types, /tags\?: readonly string\[\]/)
    assert.match(types, /ref\?: boolean/)
    assert.match(types, /X: MatrixInput/)
    assert.match(types, /go: MatrixResult<M>/)
    assert.match(types, /names_: string\[\]/)
    assert.match(files['contracts.ts'] ?? '', /go: \{ params: \{ X: 'matrix' \}, returns: 'matrix' \}/)
    const cls = files['Toy.ts'] ?? ''
    assert.match(cls, /export class Toy<M extends ResultMode = 'plain'> extends Estimator<ToyOptions, M>/)
    assert.match(cls, /go\(opts: ToyGoParams, options\?: MethodCallOptions\)/)
    assert.match(cls, /stop\(opts: ToyStopParams = \{\}, options\?: MethodCallOptions\)/)
    assert.match(cls, /get names_\(\): Promise<ToyAttributes<M>\['names_'\]>/)
    assert.match(files['classes.ts'] ?? '', /export \{ Toy \} from '.\/Toy.js'/)
  })
})

describe('changing the contract is the whole change', () => {
  // A copy of the package inside it (so node_modules resolves), removed at the end.
  const work = mkdtempSync(join(PKG_ROOT, 'dist-test', 'contract-change-'))
  after(() => rmSync(work, { recursive: true, force: true }))

  it('an extra dtype, an extra error code and a changed meaning appear after regenerating', () => {
    const schema = modifiedContract((c) => {
      c.protocol.dtypes.push('float16')
      c.protocol.errors.quota_exceeded = 'the server refuses more instances for this client'
      c.protocol.errors.not_fitted = 'call fit first'
    })
    const out = join(work, 'gen-only')
    const r = runGenerator('--schema', schema, '--out-dir', out)
    assert.equal(r.status, 0, r.output)
    const dtypes = readFileSync(join(out, 'dtypes.ts'), 'utf8')
    assert.match(dtypes, /export type DType = .*'float64' \| 'float16'/)
    assert.match(dtypes, /float16: Float16Array,/)
    assert.match(dtypes, /\[Float16Array, 'float16'\]/)
    const errors = readFileSync(join(out, 'errors.ts'), 'utf8')
    assert.match(errors, /Server error `quota_exceeded`: the server refuses more instances for this client\./)
    assert.match(errors, /export class QuotaExceededError extends ServerError \{\n {2}constructor\(message: string, options\?: ServerErrorOptions\) \{\n {4}super\('quota_exceeded'/)
    assert.match(errors, /Server error `not_fitted`: call fit first\./)
    assert.match(readFileSync(join(out, 'error-table.ts'), 'utf8'), /quota_exceeded: QuotaExceededError,/)
  })

  it('the hand-written client compiles and maps a new error code with no other edit', { timeout: ms(120_000) }, async () => {
    const schema = modifiedContract((c) => {
      c.protocol.errors.quota_exceeded = 'the server refuses more instances for this client'
    })
    const src = join(work, 'pkg', 'src')
    cpSync(join(PKG_ROOT, 'src'), src, { recursive: true })
    assert.equal(runGenerator('--schema', schema, '--out-dir', join(src, 'generated')).status, 0)
    const tsconfig = join(work, 'pkg', 'tsconfig.json')
    writeFileSync(tsconfig, JSON.stringify({ extends: join(PKG_ROOT, 'tsconfig.json'), compilerOptions: { rootDir: 'src', outDir: 'dist', typeRoots: [join(PKG_ROOT, 'node_modules/@types')] }, include: ['src/**/*.ts'] }))
    const tsc = spawnSync(process.execPath, [join(PKG_ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], { encoding: 'utf8' })
    assert.equal(tsc.status, 0, `${tsc.stdout}${tsc.stderr}`)
    const wire = (await import(join(work, 'pkg', 'dist', 'wire-errors.js'))) as { errorFromWire: (e: unknown) => Error & { code: string } }
    const index = (await import(join(work, 'pkg', 'dist', 'generated', 'errors.js'))) as Record<string, new (m: string) => Error>
    const err = wire.errorFromWire({ code: 'quota_exceeded', message: 'too many' })
    assert.ok(index.QuotaExceededError && err instanceof index.QuotaExceededError)
    assert.equal(err.code, 'quota_exceeded')
    assert.equal(err.name, 'QuotaExceededError')
  })
})
