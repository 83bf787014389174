import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { MiniBatchKMeans, MiniBatchKMeansContract } from '../src/index.js'
import { PKG_ROOT, REPO_ROOT } from './helpers.js'

const SCHEMA = join(REPO_ROOT, 'schemas/contract.schema.json')

describe('generated types', () => {
  it('src/generated/types.ts is up to date with schemas/contract.schema.json', { skip: !existsSync(SCHEMA) && 'no contract schema in this checkout' }, () => {
    const r = spawnSync(process.execPath, [join(PKG_ROOT, 'scripts/gen-types.mjs'), '--check', '--schema', SCHEMA], { encoding: 'utf8' })
    assert.equal(r.status, 0, `${r.stderr}${r.stdout}`)
  })

  it('has the generated-file header', () => {
    const text = readFileSync(join(PKG_ROOT, 'src/generated/types.ts'), 'utf8')
    assert.match(text.split('\n')[0] ?? '', /GENERATED FILE, DO NOT EDIT/)
  })

  it('MiniBatchKMeans implements every method and attribute of the contract', () => {
    const proto = MiniBatchKMeans.prototype as unknown as Record<string, unknown>
    for (const method of Object.keys(MiniBatchKMeansContract.methods)) {
      assert.equal(typeof proto[method], 'function', `missing method ${method}`)
    }
    for (const attr of Object.keys(MiniBatchKMeansContract.attributes)) {
      const desc = Object.getOwnPropertyDescriptor(MiniBatchKMeans.prototype, attr)
      assert.equal(typeof desc?.get, 'function', `missing accessor ${attr}`)
    }
  })

  it('maps JSON Schema to TypeScript', async () => {
    const mod = (await import(join(PKG_ROOT, 'scripts/gen-types.mjs'))) as { generate: (c: unknown) => string }
    const text = mod.generate({
      protocol: 1,
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
          },
          attributes: { names_: { 'x-kind': 'strings' }, n_: { type: 'integer' } },
        },
      },
      $defs: { Flag: { type: 'boolean' } },
    })
    assert.match(text, /mode\?: 'a' \| 'b\\'c'/)
    assert.match(text, /\*\\\/ not a comment end/)
    assert.match(text, /Constraints: >= 1, <= 9\./)
    assert.match(text, /k\?: number/)
    assert.match(text, /w\?: VectorInput \| null/)
    assert.match(text, /tags\?: readonly string\[\]/)
    assert.match(text, /ref\?: boolean/)
    assert.match(text, /X: MatrixInput/)
    assert.match(text, /go: MatrixResult<M>/)
    assert.match(text, /names_: string\[\]/)
    assert.match(text, /go: \{ params: \{ X: 'matrix' \}, returns: 'matrix' \}/)
  })
})
