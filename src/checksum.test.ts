import { describe, expect, test } from 'bun:test'
import { checksumTables, compareChecksums, type TableChecksum } from './checksum.ts'
import type { RowChunk, RowCursor, SnapshotSchema, StoreSnapshot } from './snapshot.ts'

/** A snapshot of in-memory tables whose first column is the key. */
function memorySnapshot(tables: Record<string, unknown[][]>): StoreSnapshot {
  const names = Object.keys(tables)
  const schema: SnapshotSchema = {
    databases: [],
    tables: names.map((name) => ({ db: null, name, create: '', columns: ['id', 'v'], keyColumns: 1, rowsEstimate: 0 })),
    after: [],
  }
  return {
    offset: 7,
    logId: 'log',
    schema,
    async rows(table: number, after: RowCursor | null, limit: number): Promise<RowChunk> {
      const all = tables[names[table]!]!
      const from = after === null ? 0 : all.findIndex((r) => r[0] === after[0]) + 1
      const rows = all.slice(from, from + limit)
      return { rows, next: from + limit < all.length ? (rows[rows.length - 1]!.slice(0, 1) as RowCursor) : null }
    },
    async close() {},
  }
}

const rows = (n: number, change?: (id: number) => string | null) =>
  Array.from({ length: n }, (_, i) => [i + 1, change?.(i + 1) ?? `v${i + 1}`]).filter((r) => r[1] !== 'gone')

async function sums(tables: Record<string, unknown[][]>): Promise<TableChecksum[]> {
  return checksumTables(memorySnapshot(tables))
}

describe('checksumTables and compareChecksums', () => {
  test('equal tables compare equal, in chunks of 1,000 rows with their key ranges', async () => {
    const ours = await sums({ t: rows(2500) })
    expect(ours[0]!.chunks.map((c) => [c.first, c.last, c.rows])).toEqual([
      [[1], [1000], 1000],
      [[1001], [2000], 1000],
      [[2001], [2500], 500],
    ])
    expect(compareChecksums(ours, await sums({ t: rows(2500) }))).toEqual([])
  })

  test('a changed value is found in its chunk', async () => {
    const theirs = await sums({ t: rows(2500, (id) => (id === 1500 ? 'changed' : null)) })
    expect(compareChecksums(await sums({ t: rows(2500) }), theirs)).toEqual([
      {
        table: 't',
        reason: '2500 rows on the master, 2500 on the slave; first difference in the key range (1001) … (2000)',
      },
    ])
  })

  test('a missing row, a missing table and an extra table are named', async () => {
    const theirs = await sums({ t: rows(2500, (id) => (id === 3 ? 'gone' : null)), extra: rows(1) })
    expect(compareChecksums(await sums({ t: rows(2500), u: rows(2) }), theirs)).toEqual([
      {
        table: 't',
        reason: '2500 rows on the master, 2499 on the slave; first difference in the key range (1) … (1000)',
      },
      { table: 'u', reason: 'missing on the slave' },
      { table: 'extra', reason: 'on the slave only' },
    ])
  })

  test('the sum does not depend on the order of rows within a chunk', async () => {
    const [a] = await sums({
      t: [
        [1, 'a'],
        [2, 'b'],
      ],
    })
    const [b] = await sums({
      t: [
        [2, 'b'],
        [1, 'a'],
      ],
    })
    expect(a!.chunks[0]!.crc).toBe(b!.chunks[0]!.crc)
  })
})
