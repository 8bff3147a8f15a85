/**
 * `ddb checksum` across dialects and filters: a MySQL master, a SQLite slave of its database
 * app and a MySQL slave filtered to app. The SQLite slave is compared in the neutral form
 * (tables keyed alike by chunk, rowid tables by their totals); the master's other database
 * is left out for both, not reported missing.
 */
import { expect, test } from 'bun:test'
import type { ChecksumReport as Report } from '../src/cli/checksum.ts'
import { withCluster } from './support/cluster.ts'
import { masterOffset, waitCaughtUp } from './support/compare.ts'
import { runDdb } from './support/ddb.ts'

test('a MySQL master and a SQLite slave compare equal in the neutral form; a change on the slave is found', async () => {
  await using cluster = await withCluster({ store: 'mysql', slaves: 0 })
  const { master } = cluster
  const sqlite = await cluster.addSlave({ store: await cluster.newStore('sqlite'), args: ['--replicate-db', 'app'] })
  const mysql = await cluster.addSlave({ args: ['--replicate-db', 'app'] })
  const c = await master.client()
  for (const sql of [
    'CREATE TABLE parent (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL)',
    `CREATE TABLE t (id INT PRIMARY KEY, amount DECIMAL(12,2), d DOUBLE, v VARCHAR(20), b VARBINARY(8),
       at DATETIME, big BIGINT)`,
    'CREATE TABLE nokey (a VARCHAR(10), n INT)',
    "INSERT INTO parent (name) VALUES ('one'), ('two'), ('three')",
    `INSERT INTO t VALUES (1, 1.50, 0.1, 'it''s', X'AB01', '2024-02-29 13:14:15', 9007199254740993),
       (2, 2.00, 1e21, '42', X'', NULL, -5), (3, NULL, -0.5, '', NULL, '2024-01-01 00:00:00', NULL)`,
    "INSERT INTO nokey VALUES ('x', 1), ('y', 2), ('x', 1)",
    'CREATE DATABASE other',
    'USE other',
    'CREATE TABLE o (id INT PRIMARY KEY)',
    'INSERT INTO o VALUES (1), (2)',
  ])
    await c.query(sql)
  c.close()
  const offset = await masterOffset(master)
  for (const s of [sqlite, mysql]) await waitCaughtUp(s, offset)

  const checksum = async () => {
    const r = await runDdb(['checksum', '--to', master.address, '--json'])
    return { code: r.code, report: JSON.parse(r.stdout) as Report }
  }
  const equal = await checksum()
  expect(equal.report.neutral).toEqual([sqlite.address])
  const byName = new Map(equal.report.tables.map((t) => [t.table, t]))
  for (const table of ['app.parent', 'app.t', 'app.nokey'])
    expect(byName.get(table), table).toMatchObject({ differences: [] })
  expect(byName.get('other.o')).toMatchObject({ rows: 2, differences: [] })
  expect(new Set(byName.get('other.o')!.leftOut)).toEqual(new Set([sqlite.address, mysql.address]))
  expect(equal.code).toBe(0)

  // A change on the SQLite slave: by key range where both key alike, by totals in a rowid table.
  const store = cluster.storeOf(sqlite)
  await cluster.direct(store, "UPDATE parent SET name = 'changed' WHERE id = 2")
  await cluster.direct(store, "UPDATE t SET v = 'changed' WHERE id = 3")
  const differs = await checksum()
  expect(differs.code).toBe(1)
  const found = new Map(differs.report.tables.map((t) => [t.table, t.differences]))
  expect(found.get('app.parent')).toEqual([
    {
      slave: sqlite.address,
      reason: '3 rows on the master, 3 on the slave; first difference in the key range (1) … (3)',
    },
  ])
  expect(found.get('app.t')).toEqual([
    { slave: sqlite.address, reason: expect.stringContaining('no key range can be named') },
  ])
  expect(found.get('app.nokey')).toEqual([])
}, 120_000)
