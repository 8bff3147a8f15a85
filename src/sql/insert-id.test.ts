import { describe, expect, test } from 'bun:test'
import { translatingSqlite } from '../../test/support/translating-sqlite.ts'
import type { Param } from '../entry.ts'
import { insertIdSource, insertTarget, reportedInsertId } from './insert-id.ts'
import { tokenize } from './lexer.ts'

/**
 * An in-memory SQLite store with an AUTO_INCREMENT table `a` and a table `n`
 * without one; `insert` runs a MySQL INSERT as a SQLite store would and says
 * what MySQL would report.
 */
function store(sqlMode?: string) {
  const { db, ctx, translate } = translatingSqlite(sqlMode ? { sqlMode } : {})
  const run = (sql: string, params: Param[] = []) => {
    let last = { changes: 0, lastInsertRowid: 0 as number | bigint }
    for (const s of translate(sql)) last = db.query(s).run(...(params as never[]))
    return last
  }
  run('CREATE TABLE a (id INT AUTO_INCREMENT PRIMARY KEY, v INT UNIQUE)')
  run('CREATE TABLE n (id INT PRIMARY KEY, v INT)')
  const insert = (sql: string, params: Param[] = []) => {
    const tokens = tokenize(sql)
    const info = ctx.table!(insertTarget(tokens)!.name)!
    const table = { columns: info.columns, autoIncrement: info.autoIncrement ? info.rowid : undefined }
    const source = insertIdSource(tokens, params, table, sqlMode === 'NO_AUTO_VALUE_ON_ZERO')
    const r = run(sql, params)
    const outcome = { affectedRows: r.changes, insertId: Number(r.lastInsertRowid) }
    return { source, ...reportedInsertId(source, outcome, 'sqlite') }
  }
  return { insert, run }
}

describe('the insert id a MySQL client is told, on a SQLite store (figures from MariaDB 10.11)', () => {
  test('a table without AUTO_INCREMENT: 0, though SQLite has a rowid', () => {
    const s = store()
    expect(s.insert('INSERT INTO n VALUES (2, 2), (3, 3)')).toEqual({ source: 'none', insertId: 0, generated: false })
  })

  test('a multi-row INSERT that generates ids: the first one', () => {
    const s = store()
    expect(s.insert('INSERT INTO a (v) VALUES (10)')).toMatchObject({ insertId: 1, generated: true })
    expect(s.insert('INSERT INTO a (v) VALUES (11), (12)')).toMatchObject({ insertId: 2, generated: true })
    expect(s.insert('INSERT INTO a VALUES (NULL, 13), (0, 14), (DEFAULT, 15)')).toMatchObject({ insertId: 4 })
    expect(s.insert('INSERT INTO a SET v = 16')).toMatchObject({ source: 'generated', insertId: 7 })
    expect(s.insert('INSERT INTO a (v) SELECT v + 100 FROM n ORDER BY id')).toMatchObject({ source: 'generated' })
  })

  test('rows that give their ids: the last one given, and LAST_INSERT_ID() keeps its value', () => {
    const s = store()
    expect(s.insert('INSERT INTO a VALUES (70, 16), (71, 17)')).toEqual({
      source: 'given',
      insertId: 71,
      generated: false,
    })
    expect(s.insert('INSERT INTO a SET id = 80, v = 18')).toMatchObject({ source: 'given', insertId: 80 })
  })

  test('bound parameters: NULL and 0 ask for an id, a number gives one', () => {
    const s = store()
    expect(s.insert('INSERT INTO a (id, v) VALUES (?, ?)', [null, 1])).toMatchObject({
      source: 'generated',
      insertId: 1,
    })
    expect(s.insert('INSERT INTO a (id, v) VALUES (?, ?)', [0, 2])).toMatchObject({ source: 'generated', insertId: 2 })
    expect(s.insert('INSERT INTO a (id, v) VALUES (?, ?)', [50, 3])).toMatchObject({ source: 'given', insertId: 50 })
  })

  test('NO_AUTO_VALUE_ON_ZERO makes 0 an id', () => {
    const s = store('NO_AUTO_VALUE_ON_ZERO')
    expect(s.insert('INSERT INTO a VALUES (0, 1)')).toMatchObject({ source: 'given', insertId: 0 })
  })

  test('an INSERT IGNORE that inserts nothing: 0', () => {
    const s = store()
    s.insert('INSERT INTO a (v) VALUES (10)')
    expect(s.insert('INSERT IGNORE INTO a (v) VALUES (10)')).toEqual({
      source: 'generated',
      insertId: 0,
      generated: false,
    })
  })

  test("what cannot be read ahead keeps SQLite's figure: mixed rows, an expression, an upsert", () => {
    const s = store()
    expect(s.insert('INSERT INTO a VALUES (60, 14), (NULL, 15)')).toMatchObject({ source: 'unknown', insertId: 61 })
    expect(s.insert('INSERT INTO a VALUES (1 + 1, 16)')).toMatchObject({ source: 'unknown' })
    expect(s.insert('INSERT INTO a (v) VALUES (20) ON DUPLICATE KEY UPDATE v = 21')).toMatchObject({
      source: 'unknown',
    })
  })

  test('the table an INSERT writes, with or without its database; none for another statement', () => {
    expect(insertTarget(tokenize('INSERT IGNORE INTO app.a (v) VALUES (1)'))).toMatchObject({ name: 'a', db: 'app' })
    expect(insertTarget(tokenize('REPLACE `a` VALUES (1)'))).toMatchObject({ name: 'a' })
    expect(insertTarget(tokenize('UPDATE a SET v = 1'))).toBeUndefined()
    expect(store().insert('REPLACE INTO a (v) VALUES (5)')).toMatchObject({ source: 'generated', insertId: 1 })
  })
})

describe("on a MySQL store, whose OK packet has MySQL's figure already", () => {
  test('the id is as the store gave it; only a generated one is LAST_INSERT_ID()', () => {
    const outcome = { affectedRows: 2, insertId: 71 }
    expect(reportedInsertId('given', outcome, 'mysql')).toEqual({ insertId: 71, generated: false })
    expect(reportedInsertId('generated', outcome, 'mysql')).toEqual({ insertId: 71, generated: true })
    expect(reportedInsertId('unknown', outcome, 'mysql')).toEqual({ insertId: 71, generated: true })
    expect(reportedInsertId('none', { affectedRows: 1, insertId: 0 }, 'mysql')).toEqual({
      insertId: 0,
      generated: false,
    })
  })
})
