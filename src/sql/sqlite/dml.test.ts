import { describe, expect, test } from 'bun:test'
import { translatingSqlite } from '../../../test/support/translating-sqlite.ts'

/** The translating store with table t. */
function store(withCatalog = true) {
  const s = translatingSqlite({}, { catalog: withCatalog })
  s.rows(
    "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL DEFAULT 'none', n INT DEFAULT 0, UNIQUE KEY u (name))",
  )
  return { ...s, run: s.rows }
}

describe('INSERT', () => {
  test('INSERT IGNORE skips duplicate keys (MySQL: the second row is skipped with a warning)', () => {
    const s = store()
    s.run("INSERT INTO t (name, n) VALUES ('a', 1)")
    s.run("INSERT IGNORE INTO t (name, n) VALUES ('A', 2), ('b', 3)")
    expect(s.values('SELECT name, n FROM t ORDER BY id')).toEqual([
      ['a', 1],
      ['b', 3],
    ])
    expect(s.translate("INSERT IGNORE INTO t (name) VALUES ('x')")).toEqual([
      "INSERT INTO t (name) VALUES ('x') ON CONFLICT DO NOTHING",
    ])
  })

  test('INSERT IGNORE … SELECT (SQLite needs WHERE true before ON CONFLICT)', () => {
    const s = store()
    s.run("INSERT INTO t (name) VALUES ('a')")
    s.run('INSERT IGNORE INTO t (name) SELECT name FROM t')
    s.run("INSERT IGNORE INTO t (name) SELECT 'b' FROM t ORDER BY 1")
    expect(s.values('SELECT name FROM t ORDER BY id')).toEqual([['a'], ['b']])
  })

  test('INSERT IGNORE still fails on a NULL for a NOT NULL column (MySQL would store an empty string): refused, not different', () => {
    expect(() => store().run('INSERT IGNORE INTO t (name) VALUES (NULL)')).toThrow('NOT NULL constraint failed')
  })

  test('REPLACE INTO replaces the row with the same key (MySQL: same)', () => {
    const s = store()
    s.run("INSERT INTO t (id, name, n) VALUES (1, 'a', 1)")
    s.run("REPLACE INTO t (id, name, n) VALUES (1, 'b', 2)")
    s.run("REPLACE t SET id = 2, name = 'c'")
    expect(s.values('SELECT id, name, n FROM t ORDER BY id')).toEqual([
      [1, 'b', 2],
      [2, 'c', 0],
    ])
  })

  test('ON DUPLICATE KEY UPDATE … VALUES(col) is an upsert on any unique key (MySQL: same rows)', () => {
    const s = store()
    s.run("INSERT INTO t (name, n) VALUES ('a', 1)")
    const sql = "INSERT INTO t (name, n) VALUES ('A', 5), ('b', 6) ON DUPLICATE KEY UPDATE n = n + VALUES(n)"
    expect(s.translate(sql)).toEqual([
      "INSERT INTO t (name, n) VALUES ('A', 5), ('b', 6) ON CONFLICT DO UPDATE SET n = n + excluded.`n`",
    ])
    s.run(sql)
    s.run("INSERT INTO t (name, n) VALUES ('b', 1) AS new ON DUPLICATE KEY UPDATE n = new.n * 10")
    expect(s.values('SELECT name, n FROM t ORDER BY id')).toEqual([
      ['a', 6],
      ['b', 10],
    ])
  })

  test('ON DUPLICATE KEY UPDATE assigns left to right (MariaDB: a = a + 1, b = a gives b the new a, 11)', () => {
    const s = store()
    s.run('CREATE TABLE o (id INT PRIMARY KEY, a INT, b INT)')
    s.run('INSERT INTO o VALUES (1, 10, 0)')
    s.run('INSERT INTO o VALUES (1, 0, 0) ON DUPLICATE KEY UPDATE a = a + 1, b = a')
    expect(s.values('SELECT a, b FROM o')).toEqual([[11, 11]])
  })

  test('ON DUPLICATE KEY UPDATE after INSERT … SELECT', () => {
    const s = store()
    s.run("INSERT INTO t (name, n) VALUES ('a', 1)")
    s.run('INSERT INTO t (name, n) SELECT name, 7 FROM t ON DUPLICATE KEY UPDATE n = VALUES(n)')
    expect(s.values('SELECT name, n FROM t')).toEqual([['a', 7]])
  })

  test("DEFAULT in VALUES is the column's default (MySQL: id generated, name 'none', n 0)", () => {
    const s = store()
    s.run("INSERT INTO t VALUES (DEFAULT, DEFAULT, 3), (DEFAULT, 'x', DEFAULT)")
    expect(s.values('SELECT id, name, n FROM t ORDER BY id')).toEqual([
      [1, 'none', 3],
      [2, 'x', 0],
    ])
    expect(() => s.run('INSERT INTO t (n, name) VALUES (DEFAULT, DEFAULT)')).toThrow('UNIQUE constraint failed')
  })

  test('without the catalog, a column every row defaults is left out; otherwise DEFAULT is refused', () => {
    const s = store(false)
    expect(s.translate("INSERT INTO t (name, n) VALUES ('a', DEFAULT), ('b', DEFAULT)")).toEqual([
      "INSERT INTO t (name) VALUES ('a'), ('b')",
    ])
    expect(s.translate('INSERT INTO t (id, name, n) VALUES (DEFAULT, DEFAULT, 1), (DEFAULT, DEFAULT, 2)')).toEqual([
      'INSERT INTO t (n) VALUES (1), (2)',
    ])
    expect(s.translate("INSERT INTO t (name, id, n) VALUES ('a', DEFAULT, DEFAULT)")).toEqual([
      "INSERT INTO t (name) VALUES ('a')",
    ])
    expect(() => s.translate("INSERT INTO t VALUES (DEFAULT, 'a', 1)")).toThrow("needs the table's columns")
    expect(() => s.translate("INSERT INTO t (name, n) VALUES ('a', DEFAULT), ('b', 2)")).toThrow(
      "needs the table's columns",
    )
  })

  test('VALUES () inserts a row of defaults, VALUES (), () two (MySQL: ids 1 and 2)', () => {
    const s = store()
    s.run("CREATE TABLE d (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(5) DEFAULT 'v')")
    expect(s.translate('INSERT INTO d () VALUES ()')).toEqual(['INSERT INTO d DEFAULT VALUES'])
    s.run('INSERT INTO d () VALUES ()')
    s.run('INSERT INTO d VALUES (), ()')
    expect(s.values('SELECT id, v FROM d')).toEqual([
      [1, 'v'],
      [2, 'v'],
      [3, 'v'],
    ])
    expect(() => store(false).translate('INSERT INTO t VALUES (), ()')).toThrow("needs the table's columns")
  })

  test('INSERT … SET, INSERT without INTO, VALUE, ROW(), TABLE', () => {
    const s = store()
    s.run("INSERT t SET name = 'a', n = 2")
    s.run("INSERT INTO t (name) VALUE ('b')")
    s.run("INSERT INTO t (name, n) VALUES ROW('c', 4), ROW('d', 5)")
    s.run("INSERT INTO app.t SET name = 'e', n = DEFAULT")
    s.run('CREATE TABLE t2 (id INT PRIMARY KEY, name VARCHAR(20), n INT)')
    s.run('INSERT INTO t2 TABLE t')
    s.run('INSERT OR REPLACE INTO t2 (SELECT id, name, n FROM t WHERE id = 1)')
    expect(s.values('SELECT name, n FROM t2 ORDER BY id')).toEqual([
      ['a', 2],
      ['b', 0],
      ['c', 4],
      ['d', 5],
      ['e', 0],
    ])
  })
})

describe('UPDATE and DELETE', () => {
  test('SET assigns left to right (MariaDB: SET k = k + 10, u = k gives u the new k)', () => {
    const s = store()
    s.run("INSERT INTO t (name, n) VALUES ('a', 1)")
    expect(s.translate('UPDATE t SET n = n + 10, name = CONCAT(name, n) WHERE id = 1')).toEqual([
      'UPDATE t SET n = n + 10, name = ((name) || ((n + 10))) WHERE id = 1',
    ])
    s.run('UPDATE t SET n = n + 10, name = CONCAT(name, n) WHERE id = 1')
    expect(s.values('SELECT name, n FROM t')).toEqual([['a11', 11]])
  })

  test('UPDATE … ORDER BY … LIMIT (MariaDB: ids 2 and 3 set to 0)', () => {
    const s = store()
    s.run("INSERT INTO t (name, n) VALUES ('a', 1), ('b', 2), ('c', 3)")
    s.run('UPDATE t SET n = 0 ORDER BY id DESC LIMIT 2')
    expect(s.values('SELECT id, n FROM t ORDER BY id')).toEqual([
      [1, 1],
      [2, 0],
      [3, 0],
    ])
    s.run('UPDATE LOW_PRIORITY app.t AS x SET x.n = 9 WHERE x.n = 0 ORDER BY x.id LIMIT 1')
    expect(s.values('SELECT id FROM t WHERE n = 9')).toEqual([[2]])
  })

  test('DELETE … ORDER BY … LIMIT (MariaDB: deletes id 1)', () => {
    const s = store()
    s.run("INSERT INTO t (name, n) VALUES ('a', 1), ('b', 2), ('c', 3)")
    s.run('DELETE FROM t ORDER BY id LIMIT 1')
    s.run('DELETE QUICK FROM app.t WHERE n > 2 ORDER BY n')
    expect(s.values('SELECT id FROM t')).toEqual([[2]])
  })

  test('SET col = DEFAULT writes the default (MySQL: n back to 0)', () => {
    const s = store()
    s.run("INSERT INTO t (name, n) VALUES ('a', 5)")
    s.run('UPDATE t SET n = DEFAULT')
    expect(s.values('SELECT n FROM t')).toEqual([[0]])
  })

  test.each([
    ['UPDATE t, t2 SET t.n = 1', 'a multiple-table UPDATE'],
    ['UPDATE t JOIN t2 ON t.id = t2.id SET t.n = 1', 'a multiple-table UPDATE'],
    ['UPDATE IGNORE t SET n = 1', 'UPDATE IGNORE'],
    ['DELETE t FROM t JOIN t2 ON t.id = t2.id', 'a multiple-table DELETE'],
    ['DELETE FROM t USING t JOIN t2', 'a multiple-table DELETE'],
    ['DELETE IGNORE FROM t', 'DELETE IGNORE'],
    ['UPDATE t SET n = 1, name = (SELECT n FROM t2)', 'a subquery in an assignment'],
  ])('%s is refused', (sql, message) => {
    expect(() => store().translate(sql)).toThrow(`not supported on a SQLite store: ${message}`)
  })
})

describe('SELECT', () => {
  test('LIMIT offset, count (MySQL: LIMIT 1, 2 skips one row and returns two)', () => {
    const s = store()
    s.run("INSERT INTO t (name) VALUES ('a'), ('b'), ('c'), ('d')")
    expect(s.translate('SELECT name FROM t ORDER BY id LIMIT 1, 2')).toEqual([
      'SELECT name FROM t ORDER BY id LIMIT 2 OFFSET 1',
    ])
    expect(s.values('SELECT name FROM t ORDER BY id LIMIT 1, 2')).toEqual([['b'], ['c']])
  })

  test('FOR UPDATE, LOCK IN SHARE MODE, index hints, modifiers, DUAL and db. qualifiers go', () => {
    const s = store()
    s.run("INSERT INTO t (name) VALUES ('a')")
    for (const sql of [
      'SELECT name FROM t WHERE id = 1 FOR UPDATE',
      'SELECT name FROM t WHERE id = 1 FOR UPDATE OF t SKIP LOCKED',
      'SELECT name FROM t WHERE id = 1 LOCK IN SHARE MODE',
      'SELECT SQL_NO_CACHE HIGH_PRIORITY name FROM t USE INDEX (u) WHERE id = 1',
      'SELECT name FROM t FORCE INDEX FOR JOIN (PRIMARY) WHERE id = 1',
      'SELECT DISTINCTROW name FROM app.t WHERE app.t.id = 1',
      'SELECT STRAIGHT_JOIN t.name FROM t STRAIGHT_JOIN t AS u ON u.id = t.id',
    ])
      expect(s.values(sql)).toEqual([['a']])
    expect(s.values('SELECT 1 + 1 FROM DUAL')).toEqual([[2]])
    expect(s.values('TABLE t ORDER BY id LIMIT 1')).toEqual([[1, 'a', 0]])
  })

  test('SQL_CALC_FOUND_ROWS and WITH ROLLUP are refused', () => {
    expect(() => store().translate('SELECT SQL_CALC_FOUND_ROWS * FROM t')).toThrow(
      'SQL_CALC_FOUND_ROWS (FOUND_ROWS() is not available',
    )
    expect(() => store().translate('SELECT n, count(*) FROM t GROUP BY n WITH ROLLUP')).toThrow('WITH ROLLUP')
  })
})
