import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Mariadb, type StartMariadbOptions, startMariadb } from './mariadb.ts'

/** Where a test node keeps its store: a SQLite file, or a private mariadbd of its own. */
export interface Backend {
  readonly kind: 'sqlite' | 'mysql'
  /** A new, empty store URL (MySQL: on a new private server, as in production, started with `options`). */
  newStore(options?: StartMariadbOptions): Promise<string>
  /** The private mariadbd behind a MySQL store URL (to crash or restart it); undefined for SQLite. */
  serverOf(url: string): Mariadb | undefined
  /** Runs SQL on a store directly, behind ddb's back (to alter a slave by hand, or read its offset). */
  direct(url: string, sql: string): Promise<Record<string, unknown>[]>
  /** The offset a store holds, read directly. */
  offsetOf(url: string): Promise<number>
  /** A temp directory for logs and files. */
  readonly dir: string
  close(): Promise<void>
}

/** SQLite and MySQL: every end-to-end test runs against both. */
export const BACKEND_KINDS = ['sqlite', 'mysql'] as const

export function createBackend(kind: 'sqlite' | 'mysql'): Backend {
  const dir = mkdtempSync(join(tmpdir(), `ddb-e2e-${kind}-`))
  const servers = new Map<string, Mariadb>()
  let n = 0
  return {
    kind,
    dir,
    async newStore(options) {
      n++
      if (kind === 'sqlite') return `sqlite:${join(dir, `store${n}.sqlite`)}`
      const server = await startMariadb(options)
      const url = server.url('app')
      servers.set(url, server)
      return url
    },
    serverOf: (url) => servers.get(url),
    async direct(url, sql) {
      if (kind === 'sqlite') {
        const db = new Database(url.slice('sqlite:'.length))
        try {
          db.exec('PRAGMA busy_timeout = 5000')
          return db.query(sql).all() as Record<string, unknown>[]
        } finally {
          db.close()
        }
      }
      return servers.get(url)!.query(sql)
    },
    async offsetOf(url) {
      const where = kind === 'sqlite' ? 'ddb_state' : `ddb.stores WHERE db = '${new URL(url).pathname.slice(1)}'`
      const rows = await this.direct(url, `SELECT applied_offset AS o FROM ${where}`)
      return Number(rows[0]?.o ?? 0)
    },
    async close() {
      await Promise.all([...servers.values()].map((s) => s.stop()))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
