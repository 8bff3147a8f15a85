/** Snapshots of a SQLite store (the master's side) and their staging file (the slave's side): see snapshot.ts. */
import { Database } from 'bun:sqlite'
import { existsSync, rmSync } from 'node:fs'
import { canonicalNumber, type NeutralValue } from '../checksum.ts'
import type { Param } from '../entry.ts'
import { StoreError } from '../errors.ts'
import {
  progressAfter,
  type RowChunk,
  type RowCursor,
  rowsWithin,
  SnapshotRead,
  type SnapshotSchema,
  type SnapshotTable,
  type Staging,
  type StagingProgress,
  type StoreSnapshot,
} from '../snapshot.ts'
import { BUSY_TIMEOUT_MS } from './sqlite-store.ts'
import type { SnapshotHold } from './store.ts'
import { toDriverValue } from './values.ts'

/** ddb's own tables in a SQLite store, never part of a snapshot. */
const OWN_TABLE = /^(ddb_|sqlite_)/

const q = (name: string) => `"${name.replaceAll('"', '""')}"`

/** A read transaction on a connection of its own, whose first read (in `hold`) fixes what it sees; SQLite's schema is part of it. */
export async function openSqliteSnapshot(path: string, hold: SnapshotHold): Promise<StoreSnapshot> {
  const db = new Database(path, { readonly: true, safeIntegers: true })
  db.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
  try {
    let state!: { applied_offset: bigint; log_id: string | null }
    await hold(async () => {
      db.run('BEGIN')
      state = db.query('SELECT applied_offset, log_id FROM ddb_state WHERE id = 1').get() as typeof state
    })
    const schema = readSchema(db)
    return new SqliteSnapshot(db, Number(state.applied_offset), state.log_id, schema)
  } catch (err) {
    db.close()
    throw err
  }
}

/** The store's user tables (rowid tables carry their rowid), then its indexes, views and triggers. */
function readSchema(db: Database): SnapshotSchema {
  const objects = db
    .query('SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid')
    .all() as Array<{ type: string; name: string; tbl_name: string; sql: string }>
  const tables: SnapshotTable[] = []
  const after: SnapshotSchema['after'] = []
  for (const o of objects) {
    if (OWN_TABLE.test(o.tbl_name)) continue
    if (o.type !== 'table') {
      after.push({ db: null, sql: o.sql })
      continue
    }
    const info = db.query(`PRAGMA table_info(${q(o.name)})`).all() as Array<{ name: string; type: string; pk: bigint }>
    const pk = info.filter((c) => c.pk > 0n).sort((a, b) => Number(a.pk - b.pk))
    const withoutRowid = /\bWITHOUT\s+ROWID\s*$/i.test(o.sql)
    // A rowid table's rows keep their rowids: its INTEGER PRIMARY KEY, else the hidden rowid itself.
    const rowidAlias = pk.length === 1 && pk[0]!.type.toUpperCase() === 'INTEGER'
    const key = withoutRowid || rowidAlias ? pk : [{ name: 'rowid' }]
    const keyNames = key.map((c) => c.name)
    const rest = info.map((c) => c.name).filter((n) => !keyNames.includes(n))
    const count = db.query(`SELECT count(*) AS n FROM ${q(o.name)}`).get() as { n: bigint }
    tables.push({
      db: null,
      name: o.name,
      create: o.sql,
      columns: [...keyNames, ...rest],
      keyColumns: keyNames.length,
      rowsEstimate: Number(count.n),
    })
  }
  // AUTOINCREMENT counters, which may be past every row the table still has.
  const hasSequence = objects.some((o) => o.name === 'sqlite_sequence')
  const sequences = hasSequence
    ? (db.query('SELECT name, seq FROM sqlite_sequence').all() as Array<{ name: string; seq: bigint }>)
    : []
  for (const s of sequences) {
    after.push({ db: null, sql: `DELETE FROM sqlite_sequence WHERE name = ${quoteString(s.name)}` })
    after.push({ db: null, sql: `INSERT INTO sqlite_sequence (name, seq) VALUES (${quoteString(s.name)}, ${s.seq})` })
  }
  return { databases: [], tables, after }
}

class SqliteSnapshot extends SnapshotRead {
  readonly #db: Database

  constructor(db: Database, offset: number, logId: string | null, schema: SnapshotSchema) {
    super(offset, logId, schema)
    this.#db = db
  }

  /** Each value as quote() writes it, the key values also as they are (the next chunk's cursor). */
  async rows(table: number, after: RowCursor | null, limit: number, maxBytes: number): Promise<RowChunk> {
    const t = this.table(table)
    const key = t.columns.slice(0, t.keyColumns).map(q)
    const where = after ? `WHERE (${key.join(', ')}) > (${key.map(() => '?').join(', ')})` : ''
    const sql = `SELECT ${[...key, ...t.columns.map((c) => `quote(${q(c)})`)].join(', ')} FROM ${q(t.name)} ${where} ORDER BY ${key.join(', ')} LIMIT ?`
    const found = this.#db.query(sql).values(...(after ?? []).map(toDriverValue), limit) as unknown[][]
    const all = found.map((r) => r.slice(key.length))
    const kept = rowsWithin(all, maxBytes)
    const last = found[kept - 1]
    const more = kept < found.length || found.length === limit
    return { rows: all.slice(0, kept), next: more && last ? last.slice(0, key.length).map(cursorValue) : null }
  }

  neutralRow(_table: number, row: unknown[]): NeutralValue[] {
    return row.map(sqliteNeutralValue)
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}

/** A value as quote() writes it (NULL, a number, 'text' with '' for ', X'hex') in the neutral form (checksum.ts). */
export function sqliteNeutralValue(literal: unknown): NeutralValue {
  if (literal === null) return null
  if (typeof literal === 'bigint' || typeof literal === 'number') return { n: canonicalNumber(String(literal)) }
  const text = String(literal)
  if (text === 'NULL') return null
  if (text.startsWith("'")) return { s: text.slice(1, -1).replaceAll("''", "'") }
  if (text.startsWith("X'")) return { b: text.slice(2, -1).toLowerCase() }
  return { n: canonicalNumber(text) }
}

/** A key value as a bound parameter can carry it back: big integers as text (SQLite's numeric affinity compares them as numbers). */
function cursorValue(v: unknown): Param {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') }
  return v as Param
}

const PROGRESS_DDL = `CREATE TABLE IF NOT EXISTS ddb_snapshot (id INTEGER PRIMARY KEY CHECK (id = 1),
  snapshot_id TEXT NOT NULL, offset INTEGER NOT NULL, log_id TEXT NOT NULL, table_index INTEGER NOT NULL,
  after TEXT, rows INTEGER NOT NULL, bytes INTEGER NOT NULL, schema TEXT)`

/** The staging file beside a SQLite store: the snapshot's tables and the load's progress. */
export function sqliteStagingPath(storePath: string): string {
  return `${storePath}.snapshot`
}

/** The load in progress in the staging file, or null when there is none. */
export function openSqliteStaging(storePath: string, takeOver: SqliteTakeOver): SqliteStaging | null {
  const path = sqliteStagingPath(storePath)
  if (!existsSync(path)) return null
  const db = new Database(path, { readwrite: true })
  const row = (() => {
    try {
      return db.query('SELECT * FROM ddb_snapshot WHERE id = 1').get() as ProgressRow | null
    } catch {
      return null
    }
  })()
  if (!row) {
    db.close()
    removeStaging(path)
    return null
  }
  return new SqliteStaging(path, db, progressOf(row), takeOver)
}

/** A new staging file for snapshot `id` at `offset`, replacing any other. */
export function createSqliteStaging(
  storePath: string,
  progress: Pick<StagingProgress, 'id' | 'offset' | 'logId'>,
  takeOver: SqliteTakeOver,
): SqliteStaging {
  const path = sqliteStagingPath(storePath)
  removeStaging(path)
  const db = new Database(path, { create: true, readwrite: true })
  db.run('PRAGMA journal_mode = WAL')
  db.run('PRAGMA synchronous = NORMAL')
  db.run(PROGRESS_DDL)
  db.run(
    'INSERT INTO ddb_snapshot (id, snapshot_id, offset, log_id, table_index, after, rows, bytes) VALUES (1, ?, ?, ?, 0, NULL, 0, 0)',
    [progress.id, progress.offset, progress.logId],
  )
  return new SqliteStaging(path, db, { ...progress, table: 0, after: null, rows: 0, bytes: 0 }, takeOver)
}

function removeStaging(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true })
}

interface ProgressRow {
  snapshot_id: string
  offset: number
  log_id: string
  table_index: number
  after: string | null
  rows: number
  bytes: number
}

function progressOf(row: ProgressRow): StagingProgress {
  return {
    id: row.snapshot_id,
    offset: row.offset,
    logId: row.log_id,
    table: row.table_index,
    after: row.after === null ? null : JSON.parse(row.after),
    rows: row.rows,
    bytes: row.bytes,
  }
}

/** Puts a finished staging file's tables in place of the store's own (SqliteStore.takeOver). */
export type SqliteTakeOver = (stagingPath: string, schema: SnapshotSchema, progress: StagingProgress) => Promise<void>

class SqliteStaging implements Staging {
  progress: StagingProgress
  /** A SQLite takeover is one transaction: it never stops half-way. */
  readonly unfinished = null
  readonly #path: string
  readonly #db: Database
  readonly #takeOver: SqliteTakeOver

  constructor(path: string, db: Database, progress: StagingProgress, takeOver: SqliteTakeOver) {
    this.#path = path
    this.#db = db
    this.progress = progress
    this.#takeOver = takeOver
  }

  async create(schema: SnapshotSchema): Promise<void> {
    this.#db.transaction(() => {
      for (const t of schema.tables) if (!t.skip) this.#db.run(t.create)
      this.#db.run('UPDATE ddb_snapshot SET schema = ? WHERE id = 1', [JSON.stringify(schema)])
    })()
  }

  async load(table: number, chunk: RowChunk, columns: string[], bytes: number): Promise<void> {
    const t = columns.map(q).join(', ')
    const { name, skip } = this.#table(table)
    const progress = progressAfter(this.progress, table, chunk, bytes)
    this.#db.transaction(() => {
      // The values are SQL literals as the master's quote() wrote them (or a MySQL master's, made into them).
      for (let i = 0; !skip && i < chunk.rows.length; i += 500) {
        const values = chunk.rows
          .slice(i, i + 500)
          .map((r) => `(${r.join(', ')})`)
          .join(', ')
        this.#db.run(`INSERT INTO ${q(name)} (${t}) VALUES ${values}`)
      }
      this.#db.run('UPDATE ddb_snapshot SET table_index = ?, after = ?, rows = ?, bytes = ? WHERE id = 1', [
        progress.table,
        progress.after === null ? null : JSON.stringify(progress.after),
        progress.rows,
        progress.bytes,
      ])
    })()
    this.progress = progress
  }

  #table(table: number): SnapshotTable {
    const t = this.#schema().tables[table]
    if (!t) throw new StoreError(`staging ${this.#path}: no table ${table}`)
    return t
  }

  #schemaCache: SnapshotSchema | null = null
  #schema(): SnapshotSchema {
    if (!this.#schemaCache) {
      const row = this.#db.query('SELECT schema FROM ddb_snapshot WHERE id = 1').get() as { schema: string | null }
      if (!row.schema) throw new StoreError(`staging ${this.#path}: no schema yet`)
      this.#schemaCache = JSON.parse(row.schema) as SnapshotSchema
    }
    return this.#schemaCache
  }

  async takeOver(schema: SnapshotSchema): Promise<void> {
    this.#db.run('PRAGMA wal_checkpoint(TRUNCATE)')
    this.#db.close()
    await this.#takeOver(this.#path, schema, this.progress)
    removeStaging(this.#path)
  }

  async discard(): Promise<void> {
    this.#db.close()
    removeStaging(this.#path)
  }
}

/**
 * In one transaction on the store's writer (foreign keys off, the caller's): the store's
 * user objects are dropped, the staged tables copied in, the indexes, views and triggers
 * created, and the state row set to the snapshot's offset. SQLite's DDL is transactional,
 * so a crash leaves the old store whole, and the staging file to take over again.
 */
export function takeOverOn(
  writer: Database,
  stagingPath: string,
  schema: SnapshotSchema,
  progress: StagingProgress,
): void {
  writer.run(`ATTACH DATABASE ${quoteString(stagingPath)} AS ddb_staged`)
  try {
    writer.transaction(() => {
      const own = writer
        .query("SELECT type, name FROM main.sqlite_schema WHERE type IN ('table', 'view', 'trigger')")
        .all() as Array<{ type: string; name: string }>
      for (const o of own) {
        if (OWN_TABLE.test(o.name)) continue
        writer.run(`DROP ${o.type.toUpperCase()} IF EXISTS main.${q(o.name)}`)
      }
      for (const t of schema.tables) {
        if (t.skip) continue // another database of a MySQL master's
        writer.run(t.create)
        const columns = t.columns.map(q).join(', ')
        writer.run(`INSERT INTO main.${q(t.name)} (${columns}) SELECT ${columns} FROM ddb_staged.${q(t.name)}`)
      }
      for (const o of schema.after) writer.run(o.sql)
      writer.run('UPDATE ddb_state SET applied_offset = ?, log_id = ?, pending_entries = NULL WHERE id = 1', [
        progress.offset,
        progress.logId,
      ])
    })()
  } finally {
    writer.run('DETACH DATABASE ddb_staged')
  }
}

function quoteString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`
}
