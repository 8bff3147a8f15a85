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
  /** Rows each statement affected on the master; the slave's divergence guard compares. */
  affected: number[]
  /** CRC-32 of the entry's canonical encoding (see entryChecksum). */
  checksum: number
}

/** Entry fields as the writer produces them, before the log gives them an offset. */
export type EntryDraft = Omit<Entry, 'offset' | 'checksum'>

/** What a write answered: the offset its entry got, and the store's own result. */
export interface WriteResult {
  offset: number
  affectedRows: number
  insertId: number
}

/** Rows a read returned, each row keyed by column name. */
export interface ReadResult {
  columns: string[]
  rows: Record<string, unknown>[]
}

/** The checksum covers everything but itself, in a fixed field order. */
export function entryChecksum(e: Omit<Entry, 'checksum'>): number {
  const fields: unknown[] = [e.offset, e.ts, e.db, e.statements, e.affected]
  if (e.timeZone) fields.push(e.timeZone)
  const canonical = JSON.stringify(fields)
  return Bun.hash.crc32(canonical)
}
