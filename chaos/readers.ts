/**
 * Readers that never go through ddb: bun:sqlite on a SQLite store or the log
 * file (read-only), mysql2 straight to a node's mariadbd. The checks judge
 * ddb by what these see.
 */
import { Database } from 'bun:sqlite'
import type mysql from 'mysql2/promise'
import { connectMysql } from '../bench/native.ts'
import { entryChecksum, entryHash } from '../src/entry.ts'

/** The tables the writers write (created through the master at the start). */
export const ROWS_TABLE = 'chaos_rows'
export const COUNTERS_TABLE = 'chaos_counters'

/** What a store holds of the chaos tables. */
export interface StoreContent {
  /** id → v */
  rows: Map<number, string>
  /** counter id → n */
  counters: Map<number, number>
}

export interface StoreReader {
  readonly name: string
  read(): Promise<StoreContent>
  /** Runs SQL on the store behind ddb's back: only for --self-test, to prove the checks catch damage. */
  tamper(sql: string): Promise<void>
  close(): Promise<void>
}

/** A SQLite store file, opened read-only for each read (the node keeps writing it). */
export function sqliteReader(name: string, path: string): StoreReader {
  const open = (readonly: boolean) => {
    const db = new Database(path, readonly ? { readonly: true } : { readwrite: true })
    db.exec('PRAGMA busy_timeout = 5000')
    return db
  }
  return {
    name,
    async read() {
      const db = open(true)
      try {
        // One read transaction: rows and counters from the same snapshot.
        return db.transaction(() => ({
          rows: new Map(
            db
              .query<{ id: number; v: string }, []>(`SELECT id, v FROM ${ROWS_TABLE}`)
              .all()
              .map((r) => [Number(r.id), r.v]),
          ),
          counters: new Map(
            db
              .query<{ id: number; n: number }, []>(`SELECT id, n FROM ${COUNTERS_TABLE}`)
              .all()
              .map((r) => [Number(r.id), Number(r.n)]),
          ),
        }))()
      } finally {
        db.close()
      }
    },
    async tamper(sql) {
      const db = open(false)
      try {
        db.exec(sql)
      } finally {
        db.close()
      }
    },
    async close() {},
  }
}

/** Database `database` on the mariadbd at 127.0.0.1:`port` (a connection per read: the server may have been restarted). */
export function mysqlReader(name: string, port: number, database: string): StoreReader {
  const withConn = async <T>(fn: (c: mysql.Connection) => Promise<T>): Promise<T> => {
    const c = await connectMysql(port, database)
    try {
      return await fn(c)
    } finally {
      c.destroy()
    }
  }
  return {
    name,
    read: () =>
      withConn(async (c) => {
        await c.query('START TRANSACTION WITH CONSISTENT SNAPSHOT')
        const [rows] = await c.query(`SELECT id, v FROM ${ROWS_TABLE}`)
        const [counters] = await c.query(`SELECT id, n FROM ${COUNTERS_TABLE}`)
        await c.query('COMMIT')
        return {
          rows: new Map((rows as Array<{ id: unknown; v: string }>).map((r) => [Number(r.id), r.v])),
          counters: new Map((counters as Array<{ id: unknown; n: unknown }>).map((r) => [Number(r.id), Number(r.n)])),
        }
      }),
    tamper: (sql) => withConn(async (c) => void (await c.query(sql))),
    async close() {},
  }
}

/** What a scan of the log file found. */
export interface LogScan {
  /** Entries in the file. */
  entries: number
  /** The newest offset. */
  last: number
  /** Offsets missing between 1 and `last` (at most 20 listed), and how many in all. */
  gaps: number[]
  gapCount: number
  /** Offsets whose stored checksum does not match their content (at most 20 listed), and how many in all. */
  corrupt: number[]
  corruptCount: number
  /** For each offset asked about, its statements as stored (JSON text), to find a write's marker in. */
  statements: Map<number, string>
}

/** Reads the log's entries table read-only (its schema: src/log/replication-log.ts), oldest first. */
export function scanLog(path: string, wanted: ReadonlySet<number>): LogScan {
  const db = new Database(path, { readonly: true })
  db.exec('PRAGMA busy_timeout = 5000')
  const scan: LogScan = {
    entries: 0,
    last: 0,
    gaps: [],
    gapCount: 0,
    corrupt: [],
    corruptCount: 0,
    statements: new Map(),
  }
  try {
    type Row = { offset: number; ts: number; db: string | null; statements: string; affected: string }
    const rows = db.query<Row & { checksum: number; time_zone: string | null; epoch: number; hash: string }, []>(
      'SELECT offset, ts, db, statements, affected, checksum, time_zone, epoch, hash FROM entries ORDER BY offset',
    )
    let previous: string | null = null
    for (const row of rows.iterate()) {
      scan.entries++
      for (let missing = scan.last + 1; missing < row.offset; missing++) {
        scan.gapCount++
        if (scan.gaps.length < 20) scan.gaps.push(missing)
      }
      scan.last = row.offset
      // Recomputed here from the columns, not by the log's own reader, so a bug there cannot hide from this check.
      let sum: number | null = null
      const { checksum: _, time_zone, statements, affected, ...fields } = row
      try {
        const parsed = { statements: JSON.parse(statements), affected: JSON.parse(affected) }
        const entry = { ...fields, ...(time_zone ? { timeZone: time_zone } : {}), ...parsed }
        // The chain too: each entry's hash follows from the one before (the first one's is taken as it is).
        if (previous === null || entryHash(previous, entry) === entry.hash) sum = entryChecksum(entry)
      } catch {
        // unreadable JSON: corrupt
      }
      previous = row.hash
      if (sum !== row.checksum) {
        scan.corruptCount++
        if (scan.corrupt.length < 20) scan.corrupt.push(row.offset)
      }
      if (wanted.has(row.offset)) scan.statements.set(row.offset, row.statements)
    }
  } finally {
    db.close()
  }
  return scan
}

/** Runs SQL on the log file behind ddb's back: only for --self-test. */
export function tamperLog(path: string, sql: string): void {
  const db = new Database(path, { readwrite: true })
  try {
    db.exec('PRAGMA busy_timeout = 5000')
    db.exec(sql)
  } finally {
    db.close()
  }
}

/** The newest offset in the log file (0 when empty). */
export function logLast(path: string): number {
  const db = new Database(path, { readonly: true })
  try {
    db.exec('PRAGMA busy_timeout = 5000')
    return db.query<{ last: number }, []>('SELECT coalesce(max(offset), 0) AS last FROM entries').get()!.last
  } finally {
    db.close()
  }
}
