import { Database } from 'bun:sqlite'
import { expect, test } from 'bun:test'
import { fakeNode } from '../../test/support/fake-node.ts'
import { sqliteTables } from './tables.ts'

/** A node whose SQLite catalog is a real in-memory database. */
function node() {
  const db = new Database(':memory:')
  const n = fakeNode({ dialect: 'sqlite' })
  n.store = { ...n.store, catalog: (sql, params) => db.query(sql).all(...params) as Record<string, unknown>[] }
  return { db, n }
}

test('a table is read once until the schema changes; DDL is seen at the next lookup', () => {
  const { db, n } = node()
  db.run('CREATE TABLE t (a INT)')
  const first = sqliteTables(n)!('t')
  expect(sqliteTables(n)!('T')).toBe(first) // same name in another case: the same table, from the cache
  db.run('ALTER TABLE t ADD COLUMN b INT')
  expect(sqliteTables(n)!('t')!.columns.map((c) => c.name)).toEqual(['a', 'b'])
})

test('whether a kept table has rows is read when asked, not kept', () => {
  const { db, n } = node()
  db.run('CREATE TABLE t (a INT)')
  expect(sqliteTables(n)!('t')!.hasRows!()).toBe(false)
  db.run('INSERT INTO t VALUES (1)')
  expect(sqliteTables(n)!('t')!.hasRows!()).toBe(true)
})
