import { describe, expect, test } from 'bun:test'
import { canonicalNumber, checksumTables, compareChecksums, type NeutralValue, type TableChecksum } from './checksum.ts'
import type { RowChunk, RowCursor, SnapshotTable, StoreSnapshot } from './snapshot.ts'
import { mysqlNeutralValue } from './store/mysql-snapshot.ts'
import { sqliteNeutralValue } from './store/sqlite-snapshot.ts'

type MemoryTable = Pick<SnapshotTable, 'db' | 'name' | 'columns' | 'keyColumns'> & { rows: unknown[][] }

/** A snapshot of in-memory tables, their rows already in order; `neutralRow` as the store's snapshot would map them. */
function memorySnapshot(
  tables: MemoryTable[],
  neutralRow?: (table: MemoryTable, row: unknown[]) => NeutralValue[],
): StoreSnapshot {
  return {
    offset: 7,
    logId: 'log',
    schema: { databases: [], tables: tables.map((t) => ({ ...t, create: '', rowsEstimate: 0 })), after: [] },
    async rows(table: number, after: RowCursor | null, limit: number): Promise<RowChunk> {
      // Paged by position: the cursor is opaque to checksumTables.
      const all = tables[table]!.rows
      const from = after === null ? 0 : Number(after[0])
      const rows = all.slice(from, from + limit)
      return { rows, next: from + limit < all.length ? [from + limit] : null }
    },
    ...(neutralRow ? { neutralRow: (table: number, row: unknown[]) => neutralRow(tables[table]!, row) } : {}),
    async close() {},
  }
}

/** Tables of a SQLite store whose first column is the key. */
const keyed = (tables: Record<string, unknown[][]>): MemoryTable[] =>
  Object.entries(tables).map(([name, rows]) => ({ db: null, name, columns: ['id', 'v'], keyColumns: 1, rows }))

const rows = (n: number, change?: (id: number) => string | null) =>
  Array.from({ length: n }, (_, i) => [i + 1, change?.(i + 1) ?? `v${i + 1}`]).filter((r) => r[1] !== 'gone')

async function sums(tables: Record<string, unknown[][]>): Promise<TableChecksum[]> {
  return (await checksumTables(memorySnapshot(keyed(tables)))).raw
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

  test("a slave's filters: the master's tables in the databases they leave out are not compared", async () => {
    const master = (
      await checksumTables(
        memorySnapshot([
          { db: 'app', name: 't', columns: ['id', 'v'], keyColumns: 1, rows: rows(3) },
          { db: 'other', name: 't', columns: ['id', 'v'], keyColumns: 1, rows: rows(3) },
        ]),
      )
    ).raw
    const slave = (
      await checksumTables(
        memorySnapshot([{ db: 'app', name: 't', columns: ['id', 'v'], keyColumns: 1, rows: rows(3) }]),
      )
    ).raw
    expect(compareChecksums(master, slave)).toEqual([{ table: 'other.t', reason: 'missing on the slave' }])
    expect(compareChecksums(master, slave, (db) => db === 'app')).toEqual([])
    // A table the slave still has in a database it no longer takes is not compared either.
    expect(compareChecksums(master, master, (db) => db === 'app')).toEqual([])
  })
})

describe('the neutral form', () => {
  test('numbers: 64-bit integers exact, anything else as the double it is', () => {
    expect(canonicalNumber('42')).toBe('42')
    expect(canonicalNumber('-9223372036854775808')).toBe('-9223372036854775808')
    expect(canonicalNumber('9007199254740993')).toBe('9007199254740993')
    expect(canonicalNumber('18446744073709551615')).toBe('18446744073709552000') // beyond 64 bits: SQLite holds a REAL
    expect(canonicalNumber('1.50')).toBe('1.5')
    expect(canonicalNumber('2.00')).toBe('2')
    expect(canonicalNumber('1.0e+20')).toBe('100000000000000000000')
  })

  test("SQLite: quote()'s literals", () => {
    expect(sqliteNeutralValue('NULL')).toBe(null)
    expect(sqliteNeutralValue('42')).toEqual({ n: '42' })
    expect(sqliteNeutralValue('-9223372036854775807')).toEqual({ n: '-9223372036854775807' })
    expect(sqliteNeutralValue(9007199254740993n)).toEqual({ n: '9007199254740993' })
    expect(sqliteNeutralValue('1.5')).toEqual({ n: '1.5' })
    expect(sqliteNeutralValue('1.1000000000000000888')).toEqual({ n: '1.1' })
    expect(sqliteNeutralValue('5.0')).toEqual({ n: '5' })
    expect(sqliteNeutralValue("'it''s'")).toEqual({ s: "it's" })
    expect(sqliteNeutralValue("''")).toEqual({ s: '' })
    expect(sqliteNeutralValue("'42'")).toEqual({ s: '42' })
    expect(sqliteNeutralValue("X'AB01'")).toEqual({ b: 'ab01' })
    expect(sqliteNeutralValue("X''")).toEqual({ b: '' })
  })

  test("MySQL: the server's text, by the column's DATA_TYPE", () => {
    expect(mysqlNeutralValue(null, 'int')).toBe(null)
    expect(mysqlNeutralValue(42, 'int')).toEqual({ n: '42' })
    expect(mysqlNeutralValue('9007199254740993', 'bigint')).toEqual({ n: '9007199254740993' })
    expect(mysqlNeutralValue('1.50', 'decimal')).toEqual({ n: '1.5' })
    expect(mysqlNeutralValue('123456789012345678', 'decimal')).toEqual({ n: '123456789012345678' })
    expect(mysqlNeutralValue(0.1, 'double')).toEqual({ n: '0.1' })
    expect(mysqlNeutralValue(2024, 'year')).toEqual({ n: '2024' })
    expect(mysqlNeutralValue('42', 'varchar')).toEqual({ s: '42' })
    expect(mysqlNeutralValue('2024-02-29 13:14:15.123456', 'datetime')).toEqual({ s: '2024-02-29 13:14:15.123456' })
    expect(mysqlNeutralValue({ $bytes: Buffer.from([0xab, 0x01]).toString('base64') }, 'blob')).toEqual({ b: 'ab01' })
  })

  // One database's table on a MySQL master and on a SQLite slave: the same values, each in its store's own form.
  const mysqlTypes: Record<string, string> = { id: 'int', amount: 'decimal', v: 'varchar', data: 'blob' }
  const mysqlRow = (id: number, v = `v'${id}`): unknown[] => [
    id,
    `${id}.50`,
    v,
    { $bytes: Buffer.from([id % 256]).toString('base64') },
  ]
  const sqliteRow = (id: number, v = `v'${id}`): unknown[] => [
    String(id),
    `${id}.5`,
    `'${v.replaceAll("'", "''")}'`,
    `X'${(id % 256).toString(16).padStart(2, '0').toUpperCase()}'`,
  ]
  const columns = ['id', 'amount', 'v', 'data']
  const onMysql = (t: Omit<MemoryTable, 'db'>) =>
    memorySnapshot([{ ...t, db: 'app' }], (table, row) =>
      row.map((v, i) => mysqlNeutralValue(v, mysqlTypes[table.columns[i]!]!)),
    )
  const onSqlite = (t: Omit<MemoryTable, 'db'>) =>
    memorySnapshot([{ ...t, db: null }], (_, row) => row.map(sqliteNeutralValue))
  const ids = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

  test('a table keyed alike compares chunk by chunk, its key ranges alike, under the database the slave holds', async () => {
    const master = await checksumTables(
      onMysql({ name: 't', columns, keyColumns: 1, rows: ids(2500).map((id) => mysqlRow(id)) }),
      { forms: ['raw', 'neutral'] },
    )
    const slave = await checksumTables(
      onSqlite({ name: 't', columns, keyColumns: 1, rows: ids(2500).map((id) => sqliteRow(id)) }),
      { forms: ['neutral'], database: 'app' },
    )
    expect(slave.raw).toEqual([])
    expect(slave.neutral[0]).toMatchObject({ db: 'app', name: 't', rows: 2500, key: ['id'] })
    expect(master.neutral[0]!.chunks[1]).toMatchObject({ first: ['1001'], last: ['2000'] })
    expect(compareChecksums(master.neutral, slave.neutral)).toEqual([])
    // The raw form is what stores of the same kind compare, byte for byte: it keeps the store's own values.
    expect(master.raw[0]!.chunks[0]!.first).toEqual([1])
    expect(master.raw[0]!.chunks[0]!.crc).not.toBe(master.neutral[0]!.chunks[0]!.crc)

    const changed = await checksumTables(
      onSqlite({
        name: 't',
        columns,
        keyColumns: 1,
        rows: ids(2500).map((id) => sqliteRow(id, id === 1500 ? 'changed' : undefined)),
      }),
      { forms: ['neutral'], database: 'app' },
    )
    expect(compareChecksums(master.neutral, changed.neutral)).toEqual([
      {
        table: 'app.t',
        reason: '2500 rows on the master, 2500 on the slave; first difference in the key range (1001) … (2000)',
      },
    ])
  })

  test("a SQLite table keyed by its hidden rowid compares by its totals, without the rowid, in the rowid's order", async () => {
    // The master's key is v (text); the slave's rows come in rowid order (as inserted), each with its rowid first.
    const byV = ids(2500).sort((a, b) => (`v'${a}` < `v'${b}` ? -1 : 1))
    const master = await checksumTables(
      onMysql({
        name: 't',
        columns: ['v', 'id', 'amount', 'data'],
        keyColumns: 1,
        rows: byV.map((id) => reorder(mysqlRow(id))),
      }),
      { forms: ['neutral'] },
    )
    const slaveTable = (change?: number) => ({
      name: 't',
      columns: ['rowid', 'v', 'id', 'amount', 'data'],
      keyColumns: 1,
      rows: ids(2500).map((id) => [String(id + 100), ...reorder(sqliteRow(id, id === change ? 'changed' : undefined))]),
    })
    const slave = await checksumTables(onSqlite(slaveTable()), { forms: ['neutral'], database: 'app' })
    expect(slave.neutral[0]!.key).toBe(null)
    expect(compareChecksums(master.neutral, slave.neutral)).toEqual([])

    const changed = await checksumTables(onSqlite(slaveTable(7)), { forms: ['neutral'], database: 'app' })
    expect(compareChecksums(master.neutral, changed.neutral)).toEqual([
      {
        table: 'app.t',
        reason:
          "2500 rows on the master, 2500 on the slave; the rows differ, but no key range can be named: the two stores do not order this table's rows by the same key (a SQLite table keyed by its hidden rowid, or a table without a key)",
      },
    ])
  })

  test('a MySQL table without a key compares by its totals too', async () => {
    const master = await checksumTables(
      onMysql({ name: 'nokey', columns, keyColumns: 0, rows: [mysqlRow(2), mysqlRow(1), mysqlRow(2)] }),
      { forms: ['neutral'] },
    )
    const slave = await checksumTables(
      onSqlite({
        name: 'nokey',
        columns: ['rowid', ...columns],
        keyColumns: 1,
        rows: [sqliteRow(1), sqliteRow(2), sqliteRow(2)].map((r, i) => [String(i + 1), ...r]),
      }),
      { forms: ['neutral'], database: 'app' },
    )
    expect(master.neutral[0]!.key).toBe(null)
    expect(compareChecksums(master.neutral, slave.neutral)).toEqual([])
  })
})

/** Moves the third column (v) first: a table whose key is v. */
function reorder(row: unknown[]): unknown[] {
  return [row[2], row[0], row[1], row[3]]
}
