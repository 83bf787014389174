import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { PKG_ROOT } from './helpers.js'

/** Every exported declaration of the published .d.ts files, with the TSDoc block above it. */
function exportedDeclarations(dir: string): Array<{ file: string; name: string; doc: string }> {
  const out: Array<{ file: string; name: string; doc: string }> = []
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name)
      if (entry.isDirectory()) walk(p)
      else if (entry.name.endsWith('.d.ts')) {
        const text = readFileSync(p, 'utf8')
        const re = /(\/\*\*(?:(?!\*\/)[\s\S])*\*\/\s*)?export (?:declare )?(?:abstract )?(?:class|interface|type|function|const) ([A-Za-z_$][\w$]*)/g
        const seen = new Set<string>()
        for (const m of text.matchAll(re)) {
          const name = m[2] as string
          if (seen.has(name)) continue // overloads: the first signature carries the doc
          seen.add(name)
          out.push({ file: p.slice(PKG_ROOT.length + 1), name, doc: m[1] ?? '' })
        }
      }
    }
  }
  walk(dir)
  return out
}

describe('public API documentation', () => {
  it('every export in dist/*.d.ts has TSDoc with an @example', () => {
    const decls = exportedDeclarations(join(PKG_ROOT, 'dist'))
    assert.ok(decls.length > 50, `found only ${decls.length} exports`)
    const missing = decls.filter((d) => !d.doc.includes('@example')).map((d) => `${d.file}: ${d.name}`)
    assert.deepEqual(missing, [])
  })

  it('the public .d.ts has no `any`', () => {
    const decls = readdirSync(join(PKG_ROOT, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'))
    const offenders: string[] = []
    for (const f of decls) {
      const code = readFileSync(join(PKG_ROOT, 'dist', f), 'utf8').replace(/\/\*\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
      if (/\bany\b/.test(code)) offenders.push(f)
    }
    assert.deepEqual(offenders, [])
  })
})
