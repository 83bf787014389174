#!/usr/bin/env node
// Generates src/generated/ from the wire contract (schemas/contract.schema.json): the
// protocol's facts (version, request ids, operations, dtypes, server error classes) and,
// for every estimator class, its types, runtime contract and the class itself.
//
//   node scripts/gen-types.mjs                 write src/generated/*.ts
//   node scripts/gen-types.mjs --check         exit 1 when a generated file is stale
//   node scripts/gen-types.mjs --schema PATH   read another contract file
//   node scripts/gen-types.mjs --out-dir DIR   write (or check) somewhere else
//
// Plain Node, no dependencies. The pieces live in scripts/gen/.

import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import { classFile, classesBarrel } from './gen/estimators.mjs'
import { dtypesFile, errorTableFile, errorsFile, protocolFile } from './gen/protocol.mjs'
import { makeResolver } from './gen/schema.mjs'
import { contractsFile, typesFile } from './gen/types.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const pkgRoot = resolve(here, '..')

function parseArgs(argv) {
  const args = { check: false, schema: resolve(pkgRoot, '../../schemas/contract.schema.json'), outDir: resolve(pkgRoot, 'src/generated') }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--check') args.check = true
    else if (a === '--schema') args.schema = resolve(argv[++i])
    else if (a === '--out-dir') args.outDir = resolve(argv[++i])
    else throw new Error(`unknown argument ${a}`)
  }
  return args
}

/** Every generated file of `contract`, as `{ fileName: text }`. */
function generate(contract) {
  const deref = makeResolver(contract)
  const files = {
    'protocol.ts': protocolFile(contract),
    'dtypes.ts': dtypesFile(contract),
    'errors.ts': errorsFile(contract),
    'error-table.ts': errorTableFile(contract),
    'types.ts': typesFile(contract, deref),
    'contracts.ts': contractsFile(contract, deref),
    'classes.ts': classesBarrel(contract),
  }
  for (const [cls, c] of Object.entries(contract.classes ?? {})) {
    if (`${cls}.ts` in files) throw new Error(`class name ${cls} clashes with a generated file`)
    files[`${cls}.ts`] = classFile(cls, c, deref)
  }
  return files
}

/** Names of the files in `dir` that differ from `files`, are missing, or are left over. */
function staleFiles(dir, files) {
  const present = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.ts')) : []
  const stale = Object.entries(files)
    .filter(([name, text]) => !existsSync(join(dir, name)) || readFileSync(join(dir, name), 'utf8') !== text)
    .map(([name]) => name)
  return [...stale, ...present.filter((f) => !(f in files))]
}

function main() {
  const args = parseArgs(process.argv.slice(2))
  const files = generate(JSON.parse(readFileSync(args.schema, 'utf8')))
  if (args.check) {
    const stale = staleFiles(args.outDir, files)
    if (stale.length > 0) {
      console.error(`stale in ${args.outDir}: ${stale.join(', ')}. Run \`npm run gen\` in clients/ts and commit the result.`)
      process.exit(1)
    }
    console.log(`${args.outDir} is up to date.`)
    return
  }
  mkdirSync(args.outDir, { recursive: true })
  for (const [name, text] of Object.entries(files)) writeFileSync(join(args.outDir, name), text)
  const leftovers = staleFiles(args.outDir, files)
  if (leftovers.length > 0) console.warn(`not generated any more (delete them): ${leftovers.join(', ')}`)
  console.log(`wrote ${Object.keys(files).length} files to ${args.outDir}`)
}

export { generate }

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
