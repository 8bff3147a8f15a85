import { UsageError } from '../errors.ts'
import { type MysqlStoreConfig, openMysqlStore } from './mysql-store.ts'
import type { NodeClaim } from './ownership.ts'
import { openSqliteStore } from './sqlite-store.ts'
import type { Store } from './store.ts'

const DEFAULT_MYSQL_PORT = 3306

/**
 * Opens the store a --db URL names: `sqlite:<path>` (relative or absolute) or
 * `mysql://user:pass@host:port/db[?socket=/path/to/mysqld.sock]` (port default 3306,
 * user default root; the database is created when missing; with `socket`, connections
 * go to that Unix socket instead of host:port). A malformed URL throws UsageError. With a
 * claim, the store is this process's alone until closed (see NodeClaim).
 */
export async function openStore(url: string, claim?: NodeClaim): Promise<Store> {
  const path = sqlitePath(url)
  if (path !== null) return openSqliteStore(path, claim ? { claim } : {})
  if (url.startsWith('mysql://')) return openMysqlStore(parseMysqlUrl(url), claim)
  throw invalid(url)
}

/** The file of a sqlite: URL, or null for another kind of URL. */
export function sqlitePath(url: string): string | null {
  if (!url.startsWith('sqlite:')) return null
  const path = url.slice('sqlite:'.length)
  if (!path || path.startsWith(':')) throw invalid(url)
  return path
}

function parseMysqlUrl(url: string): MysqlStoreConfig {
  let parsed: URL
  let user: string, password: string, database: string
  try {
    parsed = new URL(url)
    user = decodeURIComponent(parsed.username) || 'root'
    password = decodeURIComponent(parsed.password)
    database = decodeURIComponent(parsed.pathname.slice(1))
  } catch {
    throw invalid(url) // not a URL, or a bad %-escape
  }
  if (!parsed.hostname || !database || database.includes('/') || parsed.hash) throw invalid(url)
  // ?socket=<path>: the server's Unix socket, on its own machine (cheaper per round trip than TCP on loopback).
  const params = [...parsed.searchParams.keys()]
  const socketPath = parsed.searchParams.get('socket')
  if (params.some((k) => k !== 'socket') || params.length > 1 || socketPath === '') throw invalid(url)
  const port = parsed.port ? Number(parsed.port) : DEFAULT_MYSQL_PORT
  const credentials = password ? `${user}:***` : user
  const via = socketPath ? `?socket=${socketPath}` : ''
  const displayUrl = `mysql://${credentials}@${parsed.hostname}:${port}/${database}${via}`
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') // [::1] → ::1
  return { host, port, user, password, database, displayUrl, ...(socketPath ? { socketPath } : {}) }
}

function invalid(url: string): UsageError {
  // However malformed the URL, mask what may be a password: from the user's ':' to the last '@' (a password
  // may hold '/', '@' or ':'), or with no '@', all after a ':' that does not start a port.
  const scheme = url.startsWith('sqlite:') ? url : (/^[a-z][a-z0-9+.-]*:\/+/i.exec(url)?.[0] ?? '')
  const rest = url.slice(scheme.length)
  const colon = rest.indexOf(':')
  const at = rest.lastIndexOf('@')
  let masked = url
  if (colon >= 0 && colon < at) masked = `${scheme}${rest.slice(0, colon)}:***${rest.slice(at)}`
  else if (colon >= 0 && at < 0 && !/^:\d+(\/|$)/.test(rest.slice(colon)))
    masked = `${scheme}${rest.slice(0, colon)}:***`
  return new UsageError(
    `invalid --db URL "${masked}": expected sqlite:<file> or mysql://user:pass@host:port/db[?socket=<path>]`,
  )
}
