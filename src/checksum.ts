/**
 * Table checksums, as pt-table-checksum takes them: each table's rows in key order, in
 * chunks, each chunk a count and an order-independent sum of its rows' CRC-32s. Taken on
 * a master and on its slaves from consistent reads at the same offset (StoreSnapshot),
 * two nodes' lists differ exactly where their data does; the first differing chunk names
 * the key range to look at.
 */
import type { RowCursor, StoreSnapshot } from './snapshot.ts'

/** Rows per chunk: small enough to name a short key range, big enough to keep the lists short. */
export const CHECKSUM_CHUNK_ROWS = 1_000

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
}

/** Every table of a snapshot, chunk by chunk; `progress` hears each table as it is done. */
export async function checksumTables(
  snapshot: StoreSnapshot,
  progress: (table: TableChecksum) => void = () => {},
): Promise<TableChecksum[]> {
  const tables: TableChecksum[] = []
  for (const [i, t] of snapshot.schema.tables.entries()) {
    const table: TableChecksum = { db: t.db, name: t.name, rows: 0, chunks: [] }
    let after: RowCursor | null = null
    do {
      const chunk = await snapshot.rows(i, after, CHECKSUM_CHUNK_ROWS, Number.MAX_SAFE_INTEGER)
      if (chunk.rows.length === 0) break
      let crc = 0
      for (const row of chunk.rows) crc = (crc + Bun.hash.crc32(JSON.stringify(row))) % 2 ** 32
      const key = (row: unknown[], at: number): RowCursor =>
        t.keyColumns > 0 ? (row.slice(0, t.keyColumns) as RowCursor) : [table.rows + at + 1]
      table.chunks.push({
        first: key(chunk.rows[0]!, 0),
        last: key(chunk.rows[chunk.rows.length - 1]!, chunk.rows.length - 1),
        rows: chunk.rows.length,
        crc,
      })
      table.rows += chunk.rows.length
      after = chunk.next
    } while (after !== null)
    tables.push(table)
    progress(table)
  }
  return tables
}

/** How one node's table differs from the master's, or null when it does not. */
export interface TableDifference {
  table: string
  /** Why: missing on one side, row counts, or the first chunk whose checksum differs. */
  reason: string
}

/** The tables of `theirs` that differ from `ours` (the master's), each with the first place they differ. */
export function compareChecksums(ours: TableChecksum[], theirs: TableChecksum[]): TableDifference[] {
  const nameOf = (t: TableChecksum) => (t.db === null ? t.name : `${t.db}.${t.name}`)
  const byName = new Map(theirs.map((t) => [nameOf(t), t]))
  const differences: TableDifference[] = []
  for (const mine of ours) {
    const table = nameOf(mine)
    const other = byName.get(table)
    byName.delete(table)
    if (!other) {
      differences.push({ table, reason: 'missing on the slave' })
      continue
    }
    const chunks = Math.max(mine.chunks.length, other.chunks.length)
    for (let i = 0; i < chunks; i++) {
      const [a, b] = [mine.chunks[i], other.chunks[i]]
      if (a && b && a.rows === b.rows && a.crc === b.crc && same(a.first, b.first) && same(a.last, b.last)) continue
      const where = a ?? b!
      differences.push({
        table,
        reason: `${mine.rows} rows on the master, ${other.rows} on the slave; first difference in the key range ${range(where)}`,
      })
      break
    }
  }
  for (const table of byName.keys()) differences.push({ table, reason: 'on the slave only' })
  return differences
}

function same(a: RowCursor, b: RowCursor): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function range(chunk: ChunkChecksum): string {
  const show = (key: RowCursor) =>
    key.map((v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))).join(', ')
  return `(${show(chunk.first)}) … (${show(chunk.last)})`
}
