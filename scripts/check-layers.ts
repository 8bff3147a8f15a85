/**
 * Fails when a module imports one of a layer above it. The layers, from the top:
 *
 *   bin → cli → front (ddb port, MySQL, HTTP, prompt) → node → master | slave → stream | store → log | wire | sql → base
 *
 * Each layer lists what it may import below; a layer's own modules import each
 * other freely. Tests (*.test.ts) may import anything. Run: bun scripts/check-layers.ts
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const ROOT = resolve(import.meta.dir, '..')

/** The modules at src/'s top level, every layer's shared vocabulary. */
const BASE = 'base'

/** What each layer may import (besides itself). */
const ALLOWED: Record<string, string[]> = {
  [BASE]: [],
  sql: [BASE],
  log: [BASE],
  wire: [BASE],
  store: [BASE, 'sql'],
  stream: [BASE, 'log', 'wire'],
  master: [BASE, 'sql', 'log', 'wire', 'store', 'stream'],
  slave: [BASE, 'sql', 'log', 'wire', 'store', 'stream'],
  node: [BASE, 'sql', 'wire', 'store', 'stream', 'master', 'slave'],
  front: [BASE, 'sql', 'wire', 'node'],
  cli: [BASE, 'sql', 'log', 'wire', 'store', 'stream', 'master', 'slave', 'node', 'front'],
  bin: ['cli'],
}

/** The layer of a file: its folder under src/ (or bin), BASE for src/'s top level. */
function layerOf(file: string): string {
  const rel = relative(ROOT, file).split('/')
  if (rel[0] === 'bin') return 'bin'
  if (rel[0] !== 'src') throw new Error(`${file} is outside bin/ and src/`)
  return rel.length === 2 ? BASE : rel[1]!
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name)
    if (d.isDirectory()) return sources(path)
    return d.name.endsWith('.ts') && !d.name.endsWith('.test.ts') ? [path] : []
  })
}

/** Every relative module a file imports or re-exports, type-only imports included. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const found: string[] = []
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*['"](\.[^'"]+)['"]/gms)) found.push(m[1]!)
  for (const m of text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g)) found.push(m[1]!)
  return found.map((spec) => resolve(dirname(file), spec))
}

const problems: string[] = []
const files = [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'bin'))]
for (const file of files) {
  const from = layerOf(file)
  const allowed = ALLOWED[from]
  if (!allowed) {
    problems.push(`${relative(ROOT, file)}: layer "${from}" is not in scripts/check-layers.ts`)
    continue
  }
  for (const target of imports(file)) {
    const to = layerOf(target)
    if (to !== from && !allowed.includes(to)) {
      problems.push(`${relative(ROOT, file)} (${from}) imports ${relative(ROOT, target)} (${to})`)
    }
  }
}

if (problems.length > 0) {
  console.error(`layers: ${problems.length} import(s) against the layering:\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log(`layers: ${files.length} modules, every import points down`)
