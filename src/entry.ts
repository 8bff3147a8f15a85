/**
 * The unit of replication. An entry is one committed change on the master: one
 * write statement, or one client transaction, with everything a slave needs to
 * replay it to the same effect.
 */

/** A bound parameter value. Bytes travel as {"$bytes": "<base64>"} (see encodeParam). */
export type Param = null | boolean | number | string | { $bytes: string }

export interface Statement {
  sql: string
  params: Param[]
  /** The AUTO_INCREMENT value the master generated (INSERT/REPLACE); MySQL slaves replay it with SET INSERT_ID. */
  insertId?: number
  /** The statement as the client sent it, when ddb rewrote it to replay the same everywhere (kept for auditing). */
  original?: string
  /**
   * When the statement ran, if not at the entry's time: each statement of a
   * client transaction runs at its own time, as in MySQL (ms since the epoch).
   */
  ts?: number
  /** The database the statement ran in, if not the entry's (USE inside a client transaction). */
  db?: string
  /**
   * The session settings it ran with, where they differ from a fresh session's
   * (sql_mode, time_zone, foreign_key_checks …): slaves and recovery replay with them.
   */
  settings?: Record<string, Param>
}

export interface Entry {
  /** 1, 2, 3 … with no gaps. */
  offset: number
  /** The master's clock when the entry executed, in milliseconds since the epoch. */
  ts: number
  /** The database the statements ran in (MySQL), or null (SQLite, or none selected). */
  db: string | null
  /** The time zone the statements ran in (MySQL session time_zone), so NOW() renders the same wall clock on replay. */
  timeZone?: string | null
  statements: Statement[]
  /**
   * Rows each statement affected on the master; the slave's divergence guard compares.
   * Negative (only in an entry a slave translated for its store): not comparable there.
   */
  affected: number[]
  /** The epoch of the master that wrote it: each promotion starts a higher one (see docs/ARCHITECTURE.md). */
  epoch: number
  /**
   * The hash chain: SHA-256 (128 bits, hex) of the previous entry's hash and this entry's
   * content, so two logs that agree on (offset, hash) agree on every entry up to it.
   */
  hash: string
  /** CRC-32 of the entry's canonical encoding and hash (see entryChecksum). */
  checksum: number
}

/** Entry fields as the writer produces them, before the log gives them an offset and a place in its chain. */
export type EntryDraft = Omit<Entry, 'offset' | 'epoch' | 'hash' | 'checksum'>

/** What an entry's hash covers (with the previous entry's hash). */
export type EntryContent = Omit<Entry, 'hash' | 'checksum'>

/** How a write is acknowledged: once `syncReplicas` slaves have applied it (instead of the master's --sync-replicas). */
export interface WriteOptions {
  syncReplicas?: number
}

/** What a write answered: the offset its entry got, and the store's own result. */
export interface WriteResult {
  offset: number
  affectedRows: number
  insertId: number
}

/**
 * Rows a read returned, each row its values in the order of `columns` (a join
 * may return two columns of one name: both are kept).
 */
export interface ReadResult {
  columns: string[]
  rows: unknown[][]
  /**
   * Each column's type as the store reports it, parallel to `columns`; absent when the
   * store does not know them, null for a column it does not know (an expression on SQLite).
   */
  columnTypes?: Array<ColumnType | null>
}

/**
 * A result column's type, store-neutral but in MySQL's terms (what a MySQL
 * client needs to decode a value): the values themselves stay JSON values.
 */
export interface ColumnType {
  /** enum_field_types code (COLUMN_TYPE). */
  type: number
  /** Maximum display length, in bytes of the charset. */
  length: number
  /** Digits after the point (DECIMAL scale, fractional seconds); 0x1f for floating point. */
  decimals: number
  /** Column flags (COLUMN_FLAG): NOT_NULL, UNSIGNED, BINARY … */
  flags: number
  /** Collation id: 63 (binary) for numbers, dates and BLOBs, a utf8mb4 collation for text. */
  charset: number
}

/** An entry's content in a fixed field order: what its hash and checksum cover. */
function canonical(e: EntryContent): string {
  const fields: unknown[] = [e.offset, e.ts, e.db, e.statements, e.affected]
  if (e.timeZone) fields.push(e.timeZone)
  fields.push(e.epoch)
  return JSON.stringify(fields)
}

/** The entry's link in the chain after `previous` (the hash of the entry before it; '' before the first). */
export function entryHash(previous: string, e: EntryContent): string {
  return new Bun.CryptoHasher('sha256').update(previous).update(canonical(e)).digest('hex').slice(0, 32)
}

/** The checksum covers everything but itself (damage in transit or on disk; the hash is for forks). */
export function entryChecksum(e: Omit<Entry, 'checksum'>): number {
  return Bun.hash.crc32(canonical(e) + e.hash)
}

/**
 * The checksum of an entry written by a ddb before epochs and hashes (log format 1):
 * read from an old log, and re-sealed when the log is upgraded.
 */
export function legacyChecksum(e: Omit<EntryContent, 'epoch'>): number {
  const fields: unknown[] = [e.offset, e.ts, e.db, e.statements, e.affected]
  if (e.timeZone) fields.push(e.timeZone)
  return Bun.hash.crc32(JSON.stringify(fields))
}

/** Gives an entry its epoch, its link in the chain after `previous`, and its checksum. */
export function sealEntry(previous: string, e: EntryContent): Entry {
  const hash = entryHash(previous, e)
  return { ...e, hash, checksum: entryChecksum({ ...e, hash }) }
}

/**
 * A read's rows as objects keyed by column name, for JSON (`--json`, the HTTP
 * API): where two columns share a name, the last one's value stands.
 */
export function rowObjects(result: Pick<ReadResult, 'columns' | 'rows'>): Record<string, unknown>[] {
  return result.rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c, row[i]])))
}
