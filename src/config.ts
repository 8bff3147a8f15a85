import { UsageError } from './errors.ts'

/** Where a master listens for slaves and clients unless told otherwise. */
export const DEFAULT_MASTER_LISTEN = '127.0.0.1:8080'
/** Where a slave listens for clients unless told otherwise. */
export const DEFAULT_SLAVE_LISTEN = '127.0.0.1:8081'
/** Where a master serves the MySQL client protocol unless told otherwise (MySQL's own 3306 stays free). */
export const DEFAULT_MASTER_MYSQL_LISTEN = '127.0.0.1:3307'
/** Where a slave serves the MySQL client protocol unless told otherwise. */
export const DEFAULT_SLAVE_MYSQL_LISTEN = '127.0.0.1:3308'
export const DEFAULT_MASTER_DB = 'sqlite:ddb-master.sqlite'
export const DEFAULT_SLAVE_DB = 'sqlite:ddb-slave.sqlite'
export const DEFAULT_LOG = 'ddb-log.sqlite'

/** The master sends a heartbeat after this long without entries. */
export const HEARTBEAT_MS = 1_000
/** A peer silent for this long is considered gone and its connection closed. */
export const PEER_TIMEOUT_MS = 10_000
/** How long a new connection may take to finish the handshake. */
export const HANDSHAKE_TIMEOUT_MS = 5_000
/** A slave's reconnect back-off: starts here and doubles… */
export const RECONNECT_MIN_MS = 100
/** …up to this. */
export const RECONNECT_MAX_MS = 5_000
/** Entries read from the log per catch-up page. */
export const CATCH_UP_PAGE_ENTRIES = 1_000
/** Most entries a slave applies in one store transaction. */
export const APPLY_BATCH_ENTRIES = 1_000
/** Most rows in one chunk of a snapshot… */
export const SNAPSHOT_CHUNK_ROWS = 1_000
/** …and most bytes (as JSON), so a chunk of wide rows stays a small frame and memory stays flat on both sides. */
export const SNAPSHOT_CHUNK_BYTES = 4 * 1024 * 1024
/** How long the master keeps a snapshot open for a slave that lost its connection mid-way, to go on where it stopped. */
export const SNAPSHOT_LINGER_MS = 120_000
/** Most client writes the master commits together in one store transaction. */
export const GROUP_COMMIT_MAX = 500

export interface HostPort {
  host: string
  port: number
}

/** Parses "host:port" (or "[::1]:port"); `what` names the flag in the error. */
export function parseHostPort(text: string, what: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim())
  const port = m ? Number(m[3]) : NaN
  if (!m || port > 65535) throw new UsageError(`invalid ${what} "${text}": expected HOST:PORT, e.g. 127.0.0.1:8080`)
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port }
}

/** Renders a HostPort back as "host:port". */
export function formatHostPort(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`
}
