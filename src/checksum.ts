/**
 * Table checksums, as pt-table-checksum takes them: each table's rows in key order, in
 * chunks, each chunk a count and an order-independent sum of its rows' CRC-32s. Taken on
 * a master and on its slaves from consistent reads at the same offset (StoreSnapshot),
 * two nodes' lists differ exactly where their data does; the first differing chunk names
 * the key range to look at.
 *
 * Nodes whose stores are of the same kind hash rows in the store's own form (raw), byte
 * for byte. A slave whose store is of another kind (a SQLite slave of a MySQL master)
 * cannot write its rows the same, so both sides hash them in the neutral form instead:
 * each value tagged by what it is (NeutralValue), as each store's snapshot maps it
 * (StoreSnapshot.neutralRow).
 */
import type { Param } from './entry.ts'
import type { RowCursor, SnapshotTable, StoreSnapshot } from './snapshot.ts'

/** Rows per chunk: small enough to name a short key range, big enough to keep the lists short. */
export const CHECKSUM_CHUNK_ROWS = 1_000

/**
 * A value as stores of every kind write it alike: null, a number (n: canonicalNumber's
 * text), text (s) or bytes (b, lowercase hex).
 */
export type NeutralValue = null | { n: string } | { s: string } | { b: string }

/** Which form rows are hashed in: the store's own (raw), or the neutral form (between stores of different kinds). */
export type ChecksumForm = 'raw' | 'neutral'

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/**
 * A number's text as NeutralValue holds it: a 64-bit integer's digits, exactly; any other
 * number as the double nearest it prints, which is what SQLite holds of it (a DECIMAL, an
 * integer beyond 64 bits).
 */
export function canonicalNumber(text: string): string {
  if (/^-?\d+$/.test(text)) {
    const n = BigInt(text)
    if (n >= INT64_MIN && n <= INT64_MAX) return n.toString()
  }
  return String(Number(text))
}

export interface ChunkChecksum {
  /** The key values of the chunk's first and last rows (row positions for a table without a key). */
  first: RowCursor
  last: RowCursor
  rows: number
  /** The sum, mod 2^32, of each row's CRC-32. */
  crc: number
}

export interface TableChecksum {
  db: string | null
  name: string
  rows: number
  chunks: ChunkChecksum[]
  /**
   * Neutral form only: the columns that order its rows, or null when nothing both kinds of
   * store share orders them (a SQLite table keyed by its hidden rowid, a MySQL table
   * without a key), so that it compares by its totals only.
   */
  key?: string[] | null
}

export interface ChecksumOptions {
  /** The forms to take, in one pass over the rows (default: raw only). */
  forms?: ChecksumForm[]
  /** Neutral form: the database to name the tables of a store without databases with (a SQLite slave's one of its MySQL master). */
  database?: string | null
  /** Hears each table as it is done. */
  progress?: (table: TableChecksum) => void
}

/** Every table of a snapshot, chunk by chunk, in each form asked for (a form not asked for: no tables). */
export async function checksumTables(
  snapshot: StoreSnapshot,
  options: ChecksumOptions = {},
): Promise<Record<ChecksumForm, TableChecksum[]>> {
  const forms = options.forms ?? ['raw']
  const result: Record<ChecksumForm, TableChecksum[]> = { raw: [], neutral: [] }
  for (const [i, t] of snapshot.schema.tables.entries()) {
    const sums = forms.map((form) => ({
      form,
      ...(form === 'raw' ? rawForm(t) : neutralForm(snapshot, i, t, options.database ?? null)),
    }))
    let after: RowCursor | null = null
    do {
      const chunk = await snapshot.rows(i, after, CHECKSUM_CHUNK_ROWS, Number.MAX_SAFE_INTEGER)
      if (chunk.rows.length === 0) break
      for (const s of sums) addChunk(s.table, s, chunk.rows)
      after = chunk.next
    } while (after !== null)
    for (const s of sums) {
      result[s.form].push(s.table)
      options.progress?.(s.table)
    }
  }
  return result
}

/** How a form hashes one table: what of each row, and the key a chunk is named by (null: row positions). */
interface RowForm {
  table: TableChecksum
  hashed: (row: unknown[]) => unknown[]
  key: ((hashed: unknown[]) => RowCursor) | null
}

function rawForm(t: SnapshotTable): RowForm {
  return {
    table: { db: t.db, name: t.name, rows: 0, chunks: [] },
    hashed: (row) => row,
    key: t.keyColumns > 0 ? (row) => row.slice(0, t.keyColumns) as RowCursor : null,
  }
}

/** SQLite rowid tables without an INTEGER PRIMARY KEY carry the hidden rowid first (snapshot.ts), which the master's rows do not. */
const hiddenRowid = (t: SnapshotTable) => t.db === null && t.keyColumns === 1 && t.columns[0] === 'rowid'

function neutralForm(snapshot: StoreSnapshot, i: number, t: SnapshotTable, database: string | null): RowForm {
  const neutralRow = snapshot.neutralRow?.bind(snapshot)
  if (!neutralRow) throw new Error('snapshot: this store cannot map its rows to the neutral form')
  const header = { db: t.db ?? database, name: t.name, rows: 0, chunks: [] }
  if (hiddenRowid(t) || t.keyColumns === 0)
    return {
      table: { ...header, key: null },
      hashed: hiddenRowid(t) ? (row) => neutralRow(i, row).slice(1) : (row) => neutralRow(i, row),
      key: null,
    }
  return {
    table: { ...header, key: t.columns.slice(0, t.keyColumns) },
    hashed: (row) => neutralRow(i, row),
    key: (row) => (row as NeutralValue[]).slice(0, t.keyColumns).map(neutralKey),
  }
}

/** A neutral value as a key value travels (a Param): a number as its text, bytes as {"$bytes"}. */
function neutralKey(v: NeutralValue): Param {
  if (v === null) return null
  if ('n' in v) return v.n
  if ('s' in v) return v.s
  return { $bytes: Buffer.from(v.b, 'hex').toString('base64') }
}

function addChunk(table: TableChecksum, form: RowForm, rows: unknown[][]): void {
  const hashed = rows.map(form.hashed)
  let crc = 0
  for (const row of hashed) crc = (crc + Bun.hash.crc32(JSON.stringify(row))) % 2 ** 32
  const key = (at: number): RowCursor => (form.key ? form.key(hashed[at]!) : [table.rows + at + 1])
  table.chunks.push({ first: key(0), last: key(hashed.length - 1), rows: hashed.length, crc })
  table.rows += hashed.length
}

/** How one node's table differs from the master's, or null when it does not. */
export interface TableDifference {
  table: string
  /** Why: missing on one side, row counts, or the first chunk whose checksum differs. */
  reason: string
}

/** A table's name as the report shows it: db.name, or name alone (SQLite). */
export function tableName(t: TableChecksum): string {
  return t.db === null ? t.name : `${t.db}.${t.name}`
}

/**
 * The tables of `theirs` that differ from `ours` (the master's), each with the first place
 * they differ. `holds` says which databases the slave holds (its filters): the master's
 * tables in the others are not compared.
 */
export function compareChecksums(
  ours: TableChecksum[],
  theirs: TableChecksum[],
  holds: (db: string | null) => boolean = () => true,
): TableDifference[] {
  const byName = new Map(theirs.map((t) => [tableName(t), t]))
  const differences: TableDifference[] = []
  for (const mine of ours) {
    const table = tableName(mine)
    const other = byName.get(table)
    byName.delete(table)
    if (!holds(mine.db)) continue
    if (!other) {
      differences.push({ table, reason: 'missing on the slave' })
      continue
    }
    const reason = sameOrder(mine, other) ? chunksDiffer(mine, other) : totalsDiffer(mine, other)
    if (reason !== null) differences.push({ table, reason })
  }
  for (const table of byName.keys()) differences.push({ table, reason: 'on the slave only' })
  return differences
}

/** Whether both lists come in the same row order: both raw (stores of one kind), or both keyed by the same columns. */
function sameOrder(a: TableChecksum, b: TableChecksum): boolean {
  if (a.key === undefined && b.key === undefined) return true
  return Array.isArray(a.key) && Array.isArray(b.key) && same(a.key, b.key)
}

/** The first chunk that differs, with its key range, or null when none does. */
function chunksDiffer(mine: TableChecksum, other: TableChecksum): string | null {
  const chunks = Math.max(mine.chunks.length, other.chunks.length)
  for (let i = 0; i < chunks; i++) {
    const [a, b] = [mine.chunks[i], other.chunks[i]]
    if (a && b && a.rows === b.rows && a.crc === b.crc && same(a.first, b.first) && same(a.last, b.last)) continue
    return `${mine.rows} rows on the master, ${other.rows} on the slave; first difference in the key range ${range(a ?? b!)}`
  }
  return null
}

/** Rows ordered differently on the two sides: their count and the sum of all their CRCs (chunks' sums add up), or null when equal. */
function totalsDiffer(mine: TableChecksum, other: TableChecksum): string | null {
  const crc = (t: TableChecksum) => t.chunks.reduce((sum, c) => (sum + c.crc) % 2 ** 32, 0)
  if (mine.rows === other.rows && crc(mine) === crc(other)) return null
  return `${mine.rows} rows on the master, ${other.rows} on the slave; the rows differ, but no key range can be named: the two stores do not order this table's rows by the same key (a SQLite table keyed by its hidden rowid, or a table without a key)`
}

function same(a: unknown[], b: unknown[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function range(chunk: ChunkChecksum): string {
  const show = (key: RowCursor) =>
    key.map((v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))).join(', ')
  return `(${show(chunk.first)}) … (${show(chunk.last)})`
}
