import { describe, expect, test } from 'bun:test'
import { translatingSqlite } from '../../../test/support/translating-sqlite.ts'

/** The translating store with table t. */
function store(withCatalog = true) {
  const s = translatingSqlite({}, { catalog: withCatalog })
  const indexes = (): unknown[][] =>
    s.db.query("SELECT name FROM sqlite_schema WHERE type = 'index' ORDER BY name").values()
  s.rows('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20), n INT)')
  return { ...s, run: s.rows, indexes }
}

describe('indexes', () => {
  test('CREATE INDEX and DROP INDEX … ON t name the index within its table (sysbench: k_1 on every table)', () => {
    const s = store()
    s.run('CREATE TABLE u (k INT)')
    s.run('CREATE INDEX k_1 ON t(n)')
    s.run('CREATE INDEX k_1 ON u (k) USING BTREE ALGORITHM = INPLACE LOCK = NONE')
    s.run('CREATE UNIQUE INDEX IF NOT EXISTS uq USING HASH ON app.t (name DESC, n)')
    expect(s.indexes()).toEqual([['t.k_1'], ['t.uq'], ['u.k_1']])
    s.run('DROP INDEX k_1 ON t')
    s.run('DROP INDEX IF EXISTS `uq` ON `t` ALGORITHM = DEFAULT')
    expect(s.indexes()).toEqual([['u.k_1']])
  })

  test('DROP INDEX finds an index by its MySQL name after the table was renamed', () => {
    const s = store()
    s.run('CREATE INDEX i ON t (n)')
    s.run('RENAME TABLE t TO t2')
    s.run('DROP INDEX i ON t2')
    expect(s.indexes()).toEqual([])
  })

  test('FULLTEXT and SPATIAL indexes and dropping PRIMARY are refused', () => {
    expect(() => store().translate('CREATE FULLTEXT INDEX f ON t (name)')).toThrow('FULLTEXT indexes')
    expect(() => store().translate('DROP INDEX `PRIMARY` ON t')).toThrow('dropping a PRIMARY KEY')
  })
})

describe('tables and databases', () => {
  test('DROP TABLE a, b drops both (MySQL: same)', () => {
    const s = store()
    s.run('CREATE TABLE u (a INT)')
    expect(s.translate('DROP TABLE IF EXISTS t, app.u CASCADE')).toEqual([
      'DROP TABLE IF EXISTS `t`',
      'DROP TABLE IF EXISTS `u`',
    ])
    s.run('DROP TABLE IF EXISTS t, app.u CASCADE')
    expect(
      s.db.query("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%'").values(),
    ).toEqual([[0]])
  })

  test('TRUNCATE empties the table and restarts AUTO_INCREMENT (MySQL: the next id is 1)', () => {
    const s = store()
    s.run("INSERT INTO t (name) VALUES ('a'), ('b')")
    s.run('TRUNCATE TABLE t')
    s.run("INSERT INTO t (name) VALUES ('c')")
    expect(s.values('SELECT id, name FROM t')).toEqual([[1, 'c']])
    s.run('CREATE TABLE plain (a INT)')
    expect(s.translate('TRUNCATE plain')).toEqual(['DELETE FROM `plain`'])
    expect(() => store(false).translate('TRUNCATE t')).toThrow('TRUNCATE here')
  })

  test('RENAME TABLE a TO b, c TO d', () => {
    const s = store()
    s.run('CREATE TABLE u (a INT)')
    s.run('RENAME TABLE t TO t2, u TO u2')
    expect(
      s.db.query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY 1").values(),
    ).toEqual([['t2'], ['u2']])
  })

  test('CREATE VIEW drops ALGORITHM, DEFINER and SQL SECURITY (mysqldump writes them)', () => {
    const s = store()
    s.run("INSERT INTO t (name) VALUES ('a')")
    s.run(
      'CREATE OR REPLACE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW v AS SELECT name FROM t',
    )
    s.run('ALTER ALGORITHM=MERGE VIEW v AS SELECT LCASE(name) AS name FROM t')
    s.run('CREATE OR REPLACE VIEW v AS SELECT UCASE(name) AS name FROM t')
    expect(s.values('SELECT name FROM v')).toEqual([['A']])
    s.run('DROP VIEW IF EXISTS v, w')
    expect(() => s.translate('CREATE VIEW v AS SELECT 1 WITH CHECK OPTION')).toThrow('WITH CHECK OPTION')
  })

  test('CREATE DATABASE IF NOT EXISTS needs nothing; without IF NOT EXISTS, and DROP DATABASE, are refused', () => {
    expect(store().translate('CREATE DATABASE IF NOT EXISTS shop DEFAULT CHARACTER SET utf8mb4')).toEqual([])
    expect(store().translate('CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop`')).toEqual([])
    expect(() => store().translate('CREATE DATABASE shop')).toThrow('CREATE DATABASE without IF NOT EXISTS')
    expect(() => store().translate('DROP DATABASE shop')).toThrow('so it would drop every table')
  })
})

describe('ALTER TABLE', () => {
  test('ADD COLUMN, ADD INDEX, ADD UNIQUE, DROP INDEX, RENAME COLUMN, DROP COLUMN, RENAME TO', () => {
    const s = store()
    s.run("ALTER TABLE t ADD COLUMN email VARCHAR(50) NOT NULL DEFAULT '', ADD INDEX (n), ADD UNIQUE KEY ue (email)")
    s.run("INSERT INTO t (name, email) VALUES ('a', 'A@x')")
    expect(() => s.run("INSERT INTO t (name, email) VALUES ('b', 'a@X')")).toThrow('UNIQUE constraint failed') // case-insensitive, as in MySQL
    expect(() => s.run(`INSERT INTO t (name, email) VALUES ('b', '${'x'.repeat(51)}')`)).toThrow(
      'too long for VARCHAR(50)',
    )
    s.run('ALTER TABLE t ADD (a INT UNSIGNED, b TEXT), DROP INDEX n, RENAME COLUMN name TO title')
    expect(() => s.run('INSERT INTO t (title, a) VALUES (1, -1)')).toThrow('out of range for INT UNSIGNED')
    s.run('ALTER TABLE t DROP COLUMN b, RENAME TO posts')
    expect(s.values('SELECT title, email, a FROM posts')).toEqual([['a', 'A@x', null]])
    expect(s.indexes()).toEqual([['t.ue']])
  })

  test("ADD CONSTRAINT … FOREIGN KEY (knex's references()) rebuilds the table: rows, next id, indexes, triggers, views kept", () => {
    const s = store()
    s.run('CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY)')
    s.run('CREATE TABLE log (n INT)')
    s.run('CREATE INDEX by_name ON t (name)')
    s.run('CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO log (n) VALUES (NEW.id)')
    s.run('CREATE VIEW names AS SELECT name FROM t')
    s.run('CREATE TRIGGER users_ai AFTER INSERT ON users FOR EACH ROW INSERT INTO log (n) SELECT count(*) FROM t')
    s.run("INSERT INTO t (name, n) VALUES ('a', 1), ('b', 1), ('c', 1)")
    s.run('DELETE FROM t WHERE id = 3')
    s.run('ALTER TABLE t ADD CONSTRAINT t_n_foreign FOREIGN KEY (n) REFERENCES users (id) ON DELETE CASCADE')
    s.run("INSERT INTO t (name, n) VALUES ('d', 1)")
    expect(s.values('SELECT id, name FROM t ORDER BY id')).toEqual([
      [1, 'a'],
      [2, 'b'],
      [4, 'd'], // the next id is still 4, as in MySQL
    ])
    expect(s.values('SELECT n FROM log')).toEqual([[1], [2], [3], [4]])
    expect(s.values('SELECT * FROM names ORDER BY 1')).toEqual([['a'], ['b'], ['d']])
    expect(s.indexes()).toEqual([['t.by_name'], ['t.t_n_foreign']]) // MySQL adds an index on the key's columns
    expect(s.values("SELECT name FROM sqlite_schema WHERE type IN ('trigger', 'view') ORDER BY name")).toEqual([
      ['names'],
      ['t_ai'],
      ['users_ai'],
    ])
    expect(s.values("SELECT `table`, `from`, `to`, on_delete FROM pragma_foreign_key_list('t')")).toEqual([
      ['users', 'n', 'id', 'CASCADE'],
    ])
  })

  test('AUTO_INCREMENT = n sets the next id (MySQL: 100)', () => {
    const s = store()
    s.run("INSERT INTO t (name) VALUES ('a')")
    s.run('ALTER TABLE t AUTO_INCREMENT = 100')
    s.run("INSERT INTO t (name) VALUES ('b')")
    expect(s.values('SELECT max(id) FROM t')).toEqual([[100]])
  })

  test("storage options and mysqldump's DISABLE KEYS need nothing", () => {
    const s = store()
    expect(s.translate('ALTER TABLE t ENGINE=InnoDB, ROW_FORMAT=DYNAMIC')).toEqual([])
    expect(s.translate('/*!40000 ALTER TABLE `t` DISABLE KEYS */')).toEqual([])
  })

  test.each([
    ['ALTER TABLE t MODIFY name VARCHAR(40)', 'ALTER TABLE … MODIFY name VARCHAR(40)'],
    ['ALTER TABLE t CHANGE name title VARCHAR(20)', 'ALTER TABLE … CHANGE'],
    ['ALTER TABLE t ALTER COLUMN n SET DEFAULT 1', 'ALTER TABLE … ALTER COLUMN'],
    ['ALTER TABLE t ADD PRIMARY KEY (n)', 'ALTER TABLE … ADD PRIMARY KEY'],
    ['ALTER TABLE t ADD COLUMN x INT, ADD FOREIGN KEY (x) REFERENCES t (id)', 'ADD FOREIGN KEY beside other actions'],
    ['ALTER TABLE t DROP FOREIGN KEY fk', 'ALTER TABLE … DROP FOREIGN KEY'],
    ['ALTER TABLE t ADD COLUMN x INT AFTER id', 'ADD COLUMN … FIRST or AFTER'],
    ['ALTER TABLE t RENAME INDEX a TO b', 'RENAME INDEX'],
  ])('%s is refused', (sql, message) => {
    expect(() => store().translate(sql)).toThrow(`not supported on a SQLite store: ${message}`)
  })
})
