/**
 * A snapshot is a store's replicated data at one exact offset: its schema and its
 * rows, table by table in key order, read in chunks from one consistent read. The
 * master sends one to a slave whose position is before the log's start; the slave
 * loads it into staging and takes it over in one step (snapshot-staging.ts).
 *
 * Rows travel in the store's own form, which the same kind of store loads back
 * exactly: SQLite sends each value as the SQL literal quote() writes (exact for
 * integers, reals, text and blobs); MySQL sends strings, null and {"$bytes"}, the
 * server's own text for every value, which it parses back to the same value.
 */
import type { NeutralValue } from './checksum.ts'
import type { Param } from './entry.ts'

/** One table of a snapshot: how to create it, and which columns order and name its rows. */
export interface SnapshotTable {
  /** Its database (MySQL); null on SQLite. */
  db: string | null
  name: string
  /** The statement that creates it empty (without its secondary indexes on SQLite). */
  create: string
  /** The columns each row carries, in order (SQLite rowid tables: rowid first). */
  columns: string[]
  /** How many key columns lead `columns` and order the rows; 0: none (MySQL tables without a key, paged by count). */
  keyColumns: number
  /** Rows it holds, as the store estimated at the snapshot (for progress only). */
  rowsEstimate: number
  /** Set by a slave whose filters leave its database out: neither created nor loaded. */
  skip?: boolean
}

/** What a snapshot creates, in order: databases, tables (before rows), then the rest (after rows). */
export interface SnapshotSchema {
  /** MySQL: the replicated databases, with CREATE DATABASE statements. */
  databases: Array<{ name: string; create: string; skip?: boolean }>
  tables: SnapshotTable[]
  /** Indexes (SQLite), views and triggers: created once every row is in. */
  after: Array<{ db: string | null; sql: string }>
}

/** Where a table's rows continue: the last row's key values, or (key-less MySQL tables) how many rows came so far. */
export type RowCursor = Param[]

/** A chunk of one table's rows, in key order. */
export interface RowChunk {
  rows: unknown[][]
  /** The cursor after this chunk's last row; null when the table has no more rows. */
  next: RowCursor | null
}

/** A consistent read of a store at one offset (opened while nothing commits). */
export interface StoreSnapshot {
  readonly offset: number
  readonly logId: string | null
  readonly schema: SnapshotSchema
  /** Up to `limit` rows of schema.tables[table] after `after` (null: from its first row), and at most about maxBytes of them (at least one). */
  rows(table: number, after: RowCursor | null, limit: number, maxBytes: number): Promise<RowChunk>
  /**
   * A row of schema.tables[table] (as rows() gave it) in the neutral form, for `ddb checksum`
   * between stores of different kinds (checksum.ts).
   */
  neutralRow?(table: number, row: unknown[]): NeutralValue[]
  close(): Promise<void>
}

/** Where a staging load stands, recorded with each chunk it commits: a restarted slave goes on from here. */
export interface StagingProgress {
  id: string
  offset: number
  logId: string
  /** The table being loaded (an index into the schema's tables), and where its rows continue. */
  table: number
  after: RowCursor | null
  rows: number
  bytes: number
}

/** A load in progress on a slave: the snapshot's schema first, then rows, then takeover. */
export interface Staging {
  readonly progress: StagingProgress
  /** Creates the snapshot's databases and tables, empty (a fresh load only). */
  create(schema: SnapshotSchema): Promise<void>
  /** Loads a chunk of table `table`'s rows and records where the load stands now, in one transaction. */
  load(table: number, chunk: RowChunk, columns: string[], bytes: number): Promise<void>
  /**
   * Creates what comes after the rows and puts the staged data in place of the store's
   * own, with its offset, in one step: readers see the old data or the new, never a mix.
   */
  takeOver(schema: SnapshotSchema): Promise<void>
  /** Throws the staged data away (a snapshot the master no longer has). */
  discard(): Promise<void>
  /**
   * The schema of a takeover that began and did not end (a crash in the middle of it,
   * MySQL): finish it with takeOver before anything else. Null otherwise.
   */
  readonly unfinished: SnapshotSchema | null
}

/** Where a load stands once `chunk` of table `table` (`bytes` of JSON) is loaded: the next table after its last chunk. */
export function progressAfter(
  progress: StagingProgress,
  table: number,
  chunk: RowChunk,
  bytes: number,
): StagingProgress {
  return {
    ...progress,
    table: chunk.next ? table : table + 1,
    after: chunk.next,
    rows: progress.rows + chunk.rows.length,
    bytes: progress.bytes + bytes,
  }
}

/** What every store's snapshot holds besides its rows: the offset it reads at, and the schema. */
export abstract class SnapshotRead implements StoreSnapshot {
  readonly offset: number
  readonly logId: string | null
  readonly schema: SnapshotSchema

  constructor(offset: number, logId: string | null, schema: SnapshotSchema) {
    this.offset = offset
    this.logId = logId
    this.schema = schema
  }

  abstract rows(table: number, after: RowCursor | null, limit: number, maxBytes: number): Promise<RowChunk>
  abstract close(): Promise<void>

  /** schema.tables[i], or a one-line error. */
  protected table(i: number): SnapshotTable {
    const t = this.schema.tables[i]
    if (!t) throw new Error(`snapshot: no table ${i}`)
    return t
  }
}

/** How many of `rows` fit in maxBytes as JSON (at least one): where a chunk of wide rows ends early. */
export function rowsWithin(rows: unknown[][], maxBytes: number): number {
  let bytes = 0
  for (let i = 0; i < rows.length; i++) {
    bytes += JSON.stringify(rows[i]).length
    if (bytes > maxBytes && i > 0) return i
  }
  return rows.length
}

/** The CRC-32 of a chunk's rows as JSON: the master sends it, the slave checks it before loading. */
export function chunkChecksum(rows: unknown[][]): number {
  return Bun.hash.crc32(JSON.stringify(rows))
}
