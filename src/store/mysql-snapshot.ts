/** Snapshots of a MySQL store (the master's side) and their staging databases (the slave's side): see snapshot.ts. */
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
import { quoteIdentifier as q } from '../sql/lexer.ts'
import type { MysqlConnection } from './mysql-session.ts'
import type { SnapshotHold } from './store.ts'
import { toDriverValue } from './values.ts'

/** Databases that are the server's or ddb's own, never part of a snapshot. */
export const SYSTEM_DATABASES = ['information_schema', 'performance_schema', 'mysql', 'sys', 'ddb']
const NOT_SYSTEM = `schema_name NOT IN (${SYSTEM_DATABASES.map((d) => `'${d}'`).join(', ')}) AND schema_name NOT LIKE 'ddb\\_stage\\_%' AND schema_name NOT LIKE 'ddb\\_trash\\_%'`

/** What a snapshot's and a load's connections run first: rows as the server's text, in UTC, checks off while loading. */
const READ_SESSION = "SET SESSION time_zone = '+00:00', SESSION tx_isolation = 'REPEATABLE-READ'"
const LOAD_SESSION =
  "SET SESSION time_zone = '+00:00', foreign_key_checks = 0, unique_checks = 0, sql_mode = 'NO_AUTO_VALUE_ON_ZERO'"

type Row = Record<string, unknown>

async function all(conn: MysqlConnection, sql: string, values: unknown[] = []): Promise<Row[]> {
  const [rows] = await conn.query(sql, values)
  return rows as Row[]
}

/** The definer a view or trigger names is the master's account, which the slave may not have: the loading user's instead. */
function withoutDefiner(sql: string): string {
  return sql.replace(/\bDEFINER\s*=\s*(`[^`]*`|'[^']*'|\S+)@(`[^`]*`|'[^']*'|\S+)\s*/i, '')
}

/**
 * A consistent snapshot on `conn` (a connection of its own, closed with the snapshot):
 * the read view and its offset are taken in `hold`; the schema right after, outside the
 * view (SHOW CREATE reads the current definitions: the master checks no DDL came between);
 * the rows later, each chunk from the same view.
 */
export async function openMysqlSnapshot(
  conn: MysqlConnection,
  storeDb: string,
  hold: SnapshotHold,
): Promise<StoreSnapshot> {
  try {
    await conn.query(READ_SESSION)
    let state: Row | undefined
    await hold(async () => {
      await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')
      ;[state] = await all(conn, 'SELECT applied_offset, log_id FROM ddb.stores WHERE db = ?', [storeDb])
    })
    if (!state) throw new StoreError(`snapshot: no ddb state for database ${storeDb}`)
    const { schema, dataTypes } = await readSchema(conn)
    const logId = (state.log_id as string | null) ?? null
    return new MysqlSnapshot(conn, Number(state.applied_offset), logId, schema, dataTypes)
  } catch (err) {
    conn.destroy()
    throw err
  }
}

/** The schema, and each table's columns' DATA_TYPEs (for the neutral form; not sent to slaves). */
async function readSchema(conn: MysqlConnection): Promise<{ schema: SnapshotSchema; dataTypes: string[][] }> {
  const schema: SnapshotSchema = { databases: [], tables: [], after: [] }
  const dataTypes: string[][] = []
  const dbs = await all(
    conn,
    `SELECT schema_name AS name FROM information_schema.schemata WHERE ${NOT_SYSTEM} ORDER BY 1`,
  )
  for (const { name } of dbs as Array<{ name: string }>) {
    const [created] = await all(conn, `SHOW CREATE DATABASE ${q(name)}`)
    const create = String(created!['Create Database']).replace(/^CREATE DATABASE\b/i, 'CREATE DATABASE IF NOT EXISTS')
    schema.databases.push({ name, create })
    const tables = (await all(
      conn,
      'SELECT table_name AS name, table_type AS type, table_rows AS estimate FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name',
      [name],
    )) as Array<{ name: string; type: string; estimate: number | null }>
    for (const t of tables) {
      if (t.type === 'VIEW') {
        const [view] = await all(conn, `SHOW CREATE VIEW ${q(name)}.${q(t.name)}`)
        schema.after.push({ db: name, sql: withoutDefiner(String(view!['Create View'])) })
        continue
      }
      const [shown] = await all(conn, `SHOW CREATE TABLE ${q(name)}.${q(t.name)}`)
      const { types, ...columns } = await tableColumns(conn, name, t.name)
      schema.tables.push({ ...columns, create: String(shown!['Create Table']), rowsEstimate: Number(t.estimate ?? 0) })
      dataTypes.push(types)
    }
    const triggers = (await all(
      conn,
      'SELECT trigger_name AS name FROM information_schema.triggers WHERE trigger_schema = ? ORDER BY action_order',
      [name],
    )) as Array<{ name: string }>
    for (const tr of triggers) {
      const [shown] = await all(conn, `SHOW CREATE TRIGGER ${q(name)}.${q(tr.name)}`)
      schema.after.push({ db: name, sql: withoutDefiner(String(shown!['SQL Original Statement'])) })
    }
  }
  return { schema, dataTypes }
}

/** A table's stored columns (generated ones are computed again on load), its key columns first, and their DATA_TYPEs. */
async function tableColumns(
  conn: MysqlConnection,
  db: string,
  table: string,
): Promise<Omit<SnapshotTable, 'create' | 'rowsEstimate'> & { types: string[] }> {
  const found = await all(
    conn,
    "SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_schema = ? AND table_name = ? AND extra NOT LIKE '%GENERATED%' ORDER BY ordinal_position",
    [db, table],
  )
  const columns = found.map((c) => String(c.name))
  const typeOf = new Map(found.map((c) => [String(c.name), String(c.type).toLowerCase()]))
  // The primary key, else a unique key over NOT NULL columns: what orders the rows and says where a chunk ends.
  const keys = (await all(
    conn,
    `SELECT s.index_name AS idx, s.column_name AS name, c.is_nullable AS nullable FROM information_schema.statistics s
       JOIN information_schema.columns c ON c.table_schema = s.table_schema AND c.table_name = s.table_name AND c.column_name = s.column_name
      WHERE s.table_schema = ? AND s.table_name = ? AND s.non_unique = 0 ORDER BY s.index_name <> 'PRIMARY', s.index_name, s.seq_in_index`,
    [db, table],
  )) as Array<{ idx: string; name: string; nullable: string }>
  const byIndex = new Map<string, Array<{ name: string; nullable: string }>>()
  for (const k of keys) byIndex.set(k.idx, [...(byIndex.get(k.idx) ?? []), k])
  const key = [...byIndex.values()].find((cols) => cols.every((c) => c.nullable === 'NO' && columns.includes(c.name)))
  const keyNames = key?.map((c) => c.name) ?? []
  const ordered = [...keyNames, ...columns.filter((c) => !keyNames.includes(c))]
  return { db, name: table, columns: ordered, keyColumns: keyNames.length, types: ordered.map((c) => typeOf.get(c)!) }
}

/** Geometry as its bytes (the driver would parse it into objects); everything else as the driver reads text rows. */
const typeCast = (field: { type: string; buffer(): Buffer | null }, next: () => unknown) =>
  field.type === 'GEOMETRY' ? field.buffer() : next()

/** A value as it travels: bytes as {"$bytes"}, big numbers already strings. */
function wireValue(v: unknown): Param {
  if (Buffer.isBuffer(v)) return { $bytes: v.toString('base64') }
  return v as Param
}

/** DATA_TYPEs whose values are numbers in the neutral form; every other but the binary ones ({"$bytes"}) is text. */
const NUMBER_TYPES = new Set([
  'tinyint',
  'smallint',
  'mediumint',
  'int',
  'integer',
  'bigint',
  'year',
  'decimal',
  'numeric',
  'float',
  'double',
  'real',
])

/** A value as rows() gives it, of a column of DATA_TYPE `dataType`, in the neutral form (checksum.ts). */
export function mysqlNeutralValue(v: unknown, dataType: string): NeutralValue {
  if (v === null || v === undefined) return null
  if (typeof v === 'object' && '$bytes' in v) return { b: Buffer.from(String(v.$bytes), 'base64').toString('hex') }
  if (NUMBER_TYPES.has(dataType)) return { n: canonicalNumber(String(v)) }
  return { s: String(v) }
}

class MysqlSnapshot extends SnapshotRead {
  readonly #conn: MysqlConnection
  /** Each table's columns' DATA_TYPEs, in the order of its `columns`. */
  readonly #dataTypes: string[][]

  constructor(
    conn: MysqlConnection,
    offset: number,
    logId: string | null,
    schema: SnapshotSchema,
    dataTypes: string[][],
  ) {
    super(offset, logId, schema)
    this.#conn = conn
    this.#dataTypes = dataTypes
  }

  neutralRow(table: number, row: unknown[]): NeutralValue[] {
    const types = this.#dataTypes[table]!
    return row.map((v, i) => mysqlNeutralValue(v, types[i]!))
  }

  async rows(table: number, after: RowCursor | null, limit: number, maxBytes: number): Promise<RowChunk> {
    const t = this.table(table)
    const from = `${q(t.db!)}.${q(t.name)}`
    const list = t.columns.map(q).join(', ')
    let sql: string
    let values: unknown[]
    if (t.keyColumns === 0) {
      // No key: pages by position, stable within the one read view.
      const skip = Number(after?.[0] ?? 0)
      sql = `SELECT ${list} FROM ${from} LIMIT ${limit} OFFSET ${skip}`
      values = []
    } else {
      const key = t.columns.slice(0, t.keyColumns).map(q).join(', ')
      const where = after ? `WHERE (${key}) > (${after.map(() => '?').join(', ')})` : ''
      sql = `SELECT ${list} FROM ${from} ${where} ORDER BY ${key} LIMIT ${limit}`
      values = (after ?? []).map(toDriverValue)
    }
    const [found] = await this.#conn.query({ sql, rowsAsArray: true, typeCast } as never, values)
    const all = (found as unknown[][]).map((r) => r.map(wireValue))
    const rows = all.slice(0, rowsWithin(all, maxBytes))
    const last = rows[rows.length - 1]
    let next: RowCursor | null = null
    if ((rows.length < all.length || all.length === limit) && last) {
      next = t.keyColumns === 0 ? [Number(after?.[0] ?? 0) + rows.length] : last.slice(0, t.keyColumns)
    }
    return { rows, next }
  }

  async close(): Promise<void> {
    this.#conn.destroy()
  }
}

export const PROGRESS_TABLE = 'ddb.snapshots'
export const PROGRESS_DDL = `CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (
  db VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY,
  snapshot_id VARCHAR(64) NOT NULL, snapshot_offset BIGINT NOT NULL, log_id VARCHAR(64) NOT NULL,
  table_index INT NOT NULL, after_key LONGTEXT NULL, rows_done BIGINT NOT NULL, bytes_done BIGINT NOT NULL,
  schema_json LONGTEXT NULL, phase VARCHAR(16) NOT NULL) ENGINE=InnoDB`

/** The staging database of the snapshot's i-th database, and where the store's replaced tables go, for store `storeDb`. */
function stagedName(kind: 'stage' | 'trash', storeDb: string, i: number): string {
  return `ddb_${kind}_${Bun.hash.crc32(storeDb).toString(16)}_${i}`
}

/** The load in progress for store database `storeDb`, or null. */
export async function openMysqlStaging(conn: MysqlConnection, storeDb: string): Promise<MysqlStaging | null> {
  await conn.query(LOAD_SESSION) // the connection loads rows for the staging's whole life
  const [row] = await all(conn, `SELECT * FROM ${PROGRESS_TABLE} WHERE db = ?`, [storeDb])
  if (!row) return null
  const progress: StagingProgress = {
    id: String(row.snapshot_id),
    offset: Number(row.snapshot_offset),
    logId: String(row.log_id),
    table: Number(row.table_index),
    after: row.after_key === null ? null : JSON.parse(String(row.after_key)),
    rows: Number(row.rows_done),
    bytes: Number(row.bytes_done),
  }
  const schema = row.schema_json === null ? null : (JSON.parse(String(row.schema_json)) as SnapshotSchema)
  return new MysqlStaging(conn, storeDb, progress, schema, String(row.phase))
}

/** A new load of snapshot `id` for store database `storeDb`, replacing any other. */
export async function createMysqlStaging(
  conn: MysqlConnection,
  storeDb: string,
  progress: Pick<StagingProgress, 'id' | 'offset' | 'logId'>,
): Promise<MysqlStaging> {
  const old = await openMysqlStaging(conn, storeDb)
  await old?.discardStaged()
  await conn.query(
    `INSERT INTO ${PROGRESS_TABLE} (db, snapshot_id, snapshot_offset, log_id, table_index, after_key, rows_done, bytes_done, phase) VALUES (?, ?, ?, ?, 0, NULL, 0, 0, 'load')`,
    [storeDb, progress.id, progress.offset, progress.logId],
  )
  return new MysqlStaging(conn, storeDb, { ...progress, table: 0, after: null, rows: 0, bytes: 0 }, null, 'load')
}

/**
 * Staging on MySQL: the snapshot's tables are loaded into databases of their own
 * (ddb_stage_…), then moved into place by one RENAME TABLE, which MySQL does atomically:
 * readers see the old tables or the new. Views and triggers, which cannot be renamed
 * across databases, are created right after; the takeover is journaled (phase), so a
 * crash during it is finished at the next start.
 */
class MysqlStaging implements Staging {
  progress: StagingProgress
  readonly #conn: MysqlConnection
  readonly #storeDb: string
  #schema: SnapshotSchema | null
  #phase: string

  constructor(
    conn: MysqlConnection,
    storeDb: string,
    progress: StagingProgress,
    schema: SnapshotSchema | null,
    phase: string,
  ) {
    this.#conn = conn
    this.#storeDb = storeDb
    this.progress = progress
    this.#schema = schema
    this.#phase = phase
  }

  get unfinished(): SnapshotSchema | null {
    return this.#phase === 'takeover' ? this.#schema : null
  }

  async create(schema: SnapshotSchema): Promise<void> {
    const conn = this.#conn
    for (const [i, d] of schema.databases.entries()) {
      const stage = stagedName('stage', this.#storeDb, i)
      await conn.query(`DROP DATABASE IF EXISTS ${q(stage)}`)
      if (d.skip) continue
      const charset = /CHARACTER SET (\w+)/i.exec(d.create)?.[1]
      const collate = /COLLATE (\w+)/i.exec(d.create)?.[1]
      await conn.query(
        `CREATE DATABASE ${q(stage)}${charset ? ` CHARACTER SET ${charset}` : ''}${collate ? ` COLLATE ${collate}` : ''}`,
      )
    }
    for (const t of schema.tables) {
      if (t.skip) continue
      await conn.query(`USE ${q(this.#stageOf(schema, t.db!))}`)
      await conn.query(t.create)
    }
    await conn.query(`UPDATE ${PROGRESS_TABLE} SET schema_json = ? WHERE db = ?`, [
      JSON.stringify(schema),
      this.#storeDb,
    ])
    this.#schema = schema
  }

  #stageOf(schema: SnapshotSchema, db: string): string {
    const i = schema.databases.findIndex((d) => d.name === db)
    if (i < 0) throw new StoreError(`snapshot: table of unknown database ${db}`)
    return stagedName('stage', this.#storeDb, i)
  }

  async load(table: number, chunk: RowChunk, columns: string[], bytes: number): Promise<void> {
    const schema = this.#schema
    const t = schema?.tables[table]
    if (!schema || !t) throw new StoreError(`staging for ${this.#storeDb}: no table ${table}`)
    const conn = this.#conn
    const progress = progressAfter(this.progress, table, chunk, bytes)
    const into = `INSERT INTO ${q(this.#stageOf(schema, t.db!))}.${q(t.name)} (${columns.map(q).join(', ')}) VALUES `
    const row = `(${columns.map(() => '?').join(', ')})`
    await conn.query('BEGIN')
    try {
      for (let i = 0; !t.skip && i < chunk.rows.length; i += 500) {
        const part = chunk.rows.slice(i, i + 500)
        await conn.query(
          conn.format(
            into + part.map(() => row).join(', '),
            part.flat().map((v) => toDriverValue(v as Param)),
          ),
        )
      }
      await conn.query(
        `UPDATE ${PROGRESS_TABLE} SET table_index = ?, after_key = ?, rows_done = ?, bytes_done = ? WHERE db = ?`,
        [
          progress.table,
          progress.after === null ? null : JSON.stringify(progress.after),
          progress.rows,
          progress.bytes,
          this.#storeDb,
        ],
      )
      await conn.query('COMMIT')
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => {})
      throw err
    }
    this.progress = progress
  }

  async takeOver(schema: SnapshotSchema): Promise<void> {
    const conn = this.#conn
    if (this.#phase !== 'takeover') {
      await conn.query(`UPDATE ${PROGRESS_TABLE} SET phase = 'takeover', schema_json = ? WHERE db = ?`, [
        JSON.stringify(schema),
        this.#storeDb,
      ])
      this.#phase = 'takeover'
    }
    const kept = schema.databases.filter((d) => !d.skip)
    for (const d of kept) {
      await conn.query(d.create)
      // Triggers cannot move to another database with their table, and views are recreated from the master's.
      for (const tr of await all(
        conn,
        'SELECT trigger_name AS name FROM information_schema.triggers WHERE trigger_schema = ?',
        [d.name],
      ))
        await conn.query(`DROP TRIGGER IF EXISTS ${q(d.name)}.${q(String(tr.name))}`)
    }
    const staged = await this.#stagedTables(schema)
    if (staged.length > 0) {
      const renames: string[] = []
      for (const [i, d] of schema.databases.entries()) {
        if (d.skip) continue
        const trash = stagedName('trash', this.#storeDb, i)
        const existing = await all(
          conn,
          'SELECT table_name AS name, table_type AS type FROM information_schema.tables WHERE table_schema = ?',
          [d.name],
        )
        if (existing.some((e) => e.type === 'BASE TABLE')) await conn.query(`CREATE DATABASE IF NOT EXISTS ${q(trash)}`)
        for (const e of existing) {
          if (e.type === 'VIEW') await conn.query(`DROP VIEW IF EXISTS ${q(d.name)}.${q(String(e.name))}`)
          else renames.push(`${q(d.name)}.${q(String(e.name))} TO ${q(trash)}.${q(String(e.name))}`)
        }
      }
      for (const s of staged) renames.push(`${q(s.stage)}.${q(s.name)} TO ${q(s.db)}.${q(s.name)}`)
      await conn.query(`RENAME TABLE ${renames.join(', ')}`)
    }
    await createInOrder(
      conn,
      schema.after.filter((o) => kept.some((d) => d.name === o.db)),
    )
    await conn.query('BEGIN')
    await conn.query('UPDATE ddb.stores SET applied_offset = ?, log_id = ?, pending_entries = NULL WHERE db = ?', [
      this.progress.offset,
      this.progress.logId,
      this.#storeDb,
    ])
    await conn.query(`DELETE FROM ${PROGRESS_TABLE} WHERE db = ?`, [this.#storeDb])
    await conn.query('COMMIT')
    await this.#dropStaged(schema)
    await conn.end()
  }

  async #stagedTables(schema: SnapshotSchema): Promise<Array<{ stage: string; db: string; name: string }>> {
    const found: Array<{ stage: string; db: string; name: string }> = []
    for (const [i, d] of schema.databases.entries()) {
      const stage = stagedName('stage', this.#storeDb, i)
      for (const t of await all(
        this.#conn,
        'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ?',
        [stage],
      ))
        found.push({ stage, db: d.name, name: String(t.name) })
    }
    return found
  }

  async #dropStaged(schema: SnapshotSchema | null): Promise<void> {
    const count = schema?.databases.length ?? 0
    for (let i = 0; i < count; i++) {
      await this.#conn.query(`DROP DATABASE IF EXISTS ${q(stagedName('stage', this.#storeDb, i))}`)
      await this.#conn.query(`DROP DATABASE IF EXISTS ${q(stagedName('trash', this.#storeDb, i))}`)
    }
  }

  async discard(): Promise<void> {
    await this.discardStaged()
    await this.#conn.end()
  }

  /** discard(), keeping the connection (a new load goes on on it). */
  async discardStaged(): Promise<void> {
    await this.#dropStaged(this.#schema)
    await this.#conn.query(`DELETE FROM ${PROGRESS_TABLE} WHERE db = ?`, [this.#storeDb])
  }
}

/** Views and triggers in their databases; a view over a view not made yet waits for it (as many passes as it takes). */
async function createInOrder(conn: MysqlConnection, objects: SnapshotSchema['after']): Promise<void> {
  let left = objects
  while (left.length > 0) {
    const failed: typeof left = []
    let lastError: unknown = null
    for (const o of left) {
      try {
        await conn.query(`USE ${q(o.db!)}`)
        await conn.query(o.sql.replace(/^CREATE\s+(ALGORITHM|SQL\s+SECURITY|VIEW)/i, 'CREATE OR REPLACE $1'))
      } catch (err) {
        const errno = (err as { errno?: number }).errno
        if (errno === 1359) continue // the trigger is there already (a takeover finished after a crash)
        failed.push(o)
        lastError = err
      }
    }
    if (failed.length === left.length) throw lastError
    left = failed
  }
}
