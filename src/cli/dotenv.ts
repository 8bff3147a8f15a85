import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { UsageError } from '../errors.ts'

/** A variable a `.env` file sets: its value as written and the line that sets it. */
export interface DotenvValue {
  value: string
  line: number
}

const ASSIGNMENT = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/
const QUOTES = new Set(['"', "'", '`'])

/**
 * Reads the `.env` file of `dir` (none is fine) and checks every line: Bun loads
 * the file before ddb runs and skips a line it cannot read without a word, so
 * ddb reads it again and refuses a bad line, naming the file, the line and the
 * variable. Sets a variable the environment lacks (a binary built without
 * Bun's loader); one the environment already has stays. Returns what the file sets.
 */
export function loadDotenv(dir: string): Map<string, DotenvValue> {
  const file = join(dir, '.env')
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return new Map()
  }
  const values = new Map<string, DotenvValue>()
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = i + 1
    if (/^\s*(#.*)?$/.test(raw)) continue
    const m = ASSIGNMENT.exec(raw)
    if (!m) throw new UsageError(`${file} line ${line}: ${JSON.stringify(raw.trim())} is not NAME=value`)
    const name = m[1]!
    const value = unquoted(m[2]!.trim())
    if (value === null) throw new UsageError(`${file} line ${line}: ${name}: a quote is not closed, or text follows it`)
    values.set(name, { value, line })
  }
  for (const [name, { value }] of values) process.env[name] ??= value
  return values
}

/** The value of `NAME=<text>`: quoted ('…', "…", `…`) or bare up to a ` #` comment; null if a quote is not closed. */
function unquoted(text: string): string | null {
  const quote = text[0]
  if (quote === undefined || !QUOTES.has(quote)) return text.replace(/\s+#.*$/, '')
  const close = text.indexOf(quote, 1)
  if (close < 0 || !/^\s*(#.*)?$/.test(text.slice(close + 1))) return null
  const inner = text.slice(1, close)
  return quote === '"' ? inner.replace(/\\n/g, '\n') : inner
}
