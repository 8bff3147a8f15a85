import { type HostPort, parseHostPort } from '../config.ts'
import { UsageError } from '../errors.ts'
import { type DotenvValue, loadDotenv } from './dotenv.ts'

/** What the working directory's `.env` sets, to say where a bad value came from. */
let dotenv = new Map<string, DotenvValue>()

/** Checks the working directory's `.env` (a bad line is a UsageError) before any setting is read. */
export function readDotenv(dir = process.cwd()): void {
  dotenv = loadDotenv(dir)
}

/** A setting's text and who gave it, for an error to name: `--listen`, or `DDB_LISTEN` and its `.env` line. */
export interface Setting {
  text: string
  /** The flag, or the environment variable, that gave the text. */
  name: string
  /** ` (from .env line N)` when the variable came from `.env`, else empty. */
  where: string
}

/** The flag's value if given, else the environment variable's (envName null: there is none), else the default. */
export function lookup(flag: string | undefined, flagName: string, envName: string | null, fallback: string): Setting {
  const env = envName === null ? undefined : process.env[envName]
  if (flag !== undefined || env === undefined || envName === null)
    return { text: flag ?? fallback, name: flagName, where: '' }
  const line = dotenv.get(envName)
  return { text: env, name: envName, where: line?.value === env ? ` (from .env line ${line.line})` : '' }
}

/** A setting's text (the flag, else the environment, else the default), where no error needs its source. */
export function setting(flag: string | undefined, envName: string, fallback: string): string {
  return lookup(flag, envName, envName, fallback).text
}

/** Like lookup(), but there is no default: a missing value is a usage error naming the flag and the variable. */
export function required(flag: string | undefined, flagName: string, envName: string): Setting {
  const s = lookup(flag, flagName, envName, '')
  if (!s.text) throw new UsageError(`missing ${flagName}`, `pass ${flagName} HOST:PORT or set ${envName}`)
  return s
}

/** The usage error for a bad value: `invalid DDB_LISTEN "x" (from .env line 3): expected HOST:PORT …`. */
export function invalid(s: Setting, expected: string): UsageError {
  return new UsageError(`invalid ${s.name} "${s.text}"${s.where}: ${expected}`)
}

/** Parses HOST:PORT. */
export function hostPort(s: Setting): HostPort {
  try {
    return parseHostPort(s.text, s.name)
  } catch {
    throw invalid(s, 'expected HOST:PORT, e.g. 127.0.0.1:8080')
  }
}

/** Parses a comma-separated list of HOST:PORT (`--master a:8080,b:8080`), each once. */
export function hostPorts(s: Setting): HostPort[] {
  const parts = s.text.split(',').map((p) => p.trim())
  if (parts.some((p) => p === '')) throw invalid(s, 'expected HOST:PORT[,HOST:PORT…], e.g. db1:8080,db2:8080')
  const unique = [...new Set(parts)]
  return unique.map((text) => hostPort({ ...s, text }))
}

/** Parses a non-negative whole number. */
export function count(s: Setting): number {
  const n = Number(s.text)
  if (!/^\d+$/.test(s.text) || !Number.isSafeInteger(n)) throw invalid(s, 'expected a whole number')
  return n
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/** Parses a duration with its unit (30s, 12h, 7d; also ms, m, w) into milliseconds. */
export function duration(s: Setting): number {
  const m = /^(\d+)(ms|s|m|h|d|w)$/.exec(s.text.trim())
  const ms = m ? Number(m[1]) * DURATION_UNITS[m[2]!]! : NaN
  if (!Number.isSafeInteger(ms)) throw invalid(s, 'expected a duration such as 90s, 30m, 12h or 7d')
  return ms
}

/** Binary multiples, as MySQL counts its sizes: 1KB = 1024 bytes. */
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }

/** Parses a size in bytes, with an optional unit: 512MB, 10GB, 64K, 1TiB (1KB = 1024 bytes). */
export function size(s: Setting): number {
  const m = /^(\d+)\s*(?:([kmgt])(?:i?b)?|(b)?)$/i.exec(s.text.trim())
  const bytes = m ? Number(m[1]) * SIZE_UNITS[(m[2] ?? m[3] ?? '').toLowerCase()]! : NaN
  if (!Number.isSafeInteger(bytes)) throw invalid(s, 'expected a size such as 512MB or 10GB')
  return bytes
}

/** Parses one of a fixed set of words. */
export function choice<T extends string>(s: Setting, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(s.text)) throw invalid(s, `expected ${choices.join(' or ')}`)
  return s.text as T
}

/** A switch: true if the flag is given, else the environment variable's 1/true/yes (0/false/no or unset: false). */
export function enabled(flag: boolean | undefined, flagName: string, envName: string): boolean {
  if (flag !== undefined) return flag
  const s = lookup(undefined, flagName, envName, '')
  const word = s.text.toLowerCase()
  if (['1', 'true', 'yes'].includes(word)) return true
  if (['', '0', 'false', 'no'].includes(word)) return false
  throw invalid(s, 'expected 1, true, yes, 0, false or no')
}

/**
 * Starts a node on the store `db` names. The store's own check of the URL says
 * `invalid --db URL "…"`; when the URL came from the environment, the error
 * names the variable (and its .env line) instead, as every other setting's does.
 */
export async function namingDb<T>(db: Setting, start: () => Promise<T>): Promise<T> {
  try {
    return await start()
  } catch (err) {
    const bad = err instanceof UsageError ? /^invalid --db URL ("(?:[^"\\]|\\.)*")(.*)$/.exec(err.message) : null
    if (!bad || db.name === '--db') throw err
    throw new UsageError(`invalid ${db.name} URL ${bad[1]}${db.where}${bad[2]}`)
  }
}
