import { describe, expect, test } from 'bun:test'
import { translatingSqlite } from '../../../test/support/translating-sqlite.ts'

function store(options: { sqlMode?: string } = {}) {
  const s = translatingSqlite(options)
  return { ...s, run: s.rows }
}

describe('AUTO_INCREMENT primary keys become the rowid', () => {
  test.each([
    'CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20))',
    'CREATE TABLE t (id INT NOT NULL AUTO_INCREMENT, name VARCHAR(20), PRIMARY KEY (id))',
    'CREATE TABLE t (`id` int(11) unsigned zerofill NOT NULL AUTO_INCREMENT, `name` varchar(20), PRIMARY KEY (`id`))',
    'CREATE TABLE t (id BIGINT UNSIGNED AUTO_INCREMENT, name VARCHAR(20), CONSTRAINT pk PRIMARY KEY USING BTREE (id))',
    'CREATE TABLE t (id SERIAL, name VARCHAR(20))',
    'CREATE TABLE t (id INTEGER AUTO_INCREMENT KEY, name VARCHAR(20))',
  ])('%s: ids 1, 2, 3 as MySQL generates them', (ddl) => {
    const s = store()
    s.run(ddl)
    s.run("INSERT INTO t (name) VALUES ('a'), ('b')")
    s.run("INSERT INTO t (id, name) VALUES (NULL, 'c')")
    expect(s.values('SELECT id, name FROM t ORDER BY id')).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ])
  })

  test('ids are not reused after the highest row is deleted (InnoDB: the next id is 4)', () => {
    const s = store()
    s.run('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)')
    s.run('INSERT INTO t (v) VALUES (1), (2), (3)')
    s.run('DELETE FROM t WHERE id = 3')
    s.run('INSERT INTO t (v) VALUES (4)')
    expect(s.values('SELECT max(id) FROM t')).toEqual([[4]])
  })

  test('an explicit id moves the counter on (MySQL: after id 10 comes 11)', () => {
    const s = store()
    s.run('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)')
    s.run('INSERT INTO t (id, v) VALUES (10, 1)')
    s.run('INSERT INTO t (v) VALUES (2)')
    expect(s.values('SELECT id FROM t ORDER BY id')).toEqual([[10], [11]])
  })

  test('AUTO_INCREMENT = 5 makes 5 the first id, through sqlite_sequence (MySQL: 5)', () => {
    const s = store()
    const statements = s.translate(
      'CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB AUTO_INCREMENT=5',
    )
    expect(statements[1]).toBe(
      "INSERT INTO sqlite_sequence (name, seq) SELECT 't', 4 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 't')",
    )
    s.run('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB AUTO_INCREMENT=5')
    s.run('INSERT INTO t (v) VALUES (1)')
    expect(s.values('SELECT id FROM t')).toEqual([[5]])
  })

  test('0 or NULL for the id generates one, as in MySQL; with NO_AUTO_VALUE_ON_ZERO, 0 is stored (dumps set it)', () => {
    const s = store()
    s.run('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)')
    s.run('INSERT INTO t (id, v) VALUES (0, 1), (NULL, 2)')
    s.run('INSERT INTO t VALUES (0, 3)')
    s.run('INSERT INTO t SET id = 0, v = 4')
    s.run('INSERT INTO t (v, id) SELECT v + 10, 0 FROM t WHERE v < 3 ORDER BY v')
    expect(s.values('SELECT id, v FROM t ORDER BY id')).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 11],
      [6, 12],
    ])
    const dump = store({ sqlMode: 'STRICT_TRANS_TABLES,NO_AUTO_VALUE_ON_ZERO' })
    dump.run('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)')
    dump.run('INSERT INTO t VALUES (0, 1)')
    dump.run('INSERT INTO t (v) VALUES (2)')
    expect(dump.values('SELECT id, v FROM t ORDER BY id')).toEqual([
      [0, 1],
      [1, 2],
    ])
  })

  test('0 through INSERT … SELECT *: the id column is written out from the catalog; where ddb cannot tell it, refused', () => {
    const s = store()
    s.run('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)')
    s.run('CREATE TABLE u (id INT, v INT)')
    s.run('INSERT INTO u VALUES (0, 7), (0, 8)')
    expect(s.translate('INSERT INTO t SELECT * FROM u ORDER BY v')).toEqual([
      'INSERT INTO t SELECT nullif(`id`, 0), `v` FROM u ORDER BY v',
    ])
    s.run('INSERT INTO t SELECT * FROM u ORDER BY v')
    expect(s.values('SELECT id, v FROM t ORDER BY id')).toEqual([
      [1, 7],
      [2, 8],
    ])
    expect(() => s.translate('INSERT INTO t SELECT * FROM u JOIN u AS w ORDER BY 1')).toThrow(
      'cannot tell which selected column is the id',
    )
  })

  test('AUTO_INCREMENT off a single-column primary key is refused', () => {
    const s = store()
    expect(() => s.translate('CREATE TABLE t (a INT, id INT AUTO_INCREMENT, KEY (id), PRIMARY KEY (a, id))')).toThrow(
      "not supported on a SQLite store: AUTO_INCREMENT on id (SQLite generates ids only for a table's single-column integer primary key",
    )
  })
})

describe('column types refuse what strict mode refuses', () => {
  test.each([
    ['k INT UNSIGNED', '-1', 'out of range for INT UNSIGNED'], // MySQL: Out of range value for column 'k'
    ['k TINYINT', '128', 'out of range for TINYINT'],
    ['k INT(11)', "'abc'", 'out of range for INT'], // MySQL: Incorrect integer value
    ['k SMALLINT', '1.5', 'out of range for SMALLINT'],
    ['k VARCHAR(5)', "'abcdef'", 'too long for VARCHAR(5)'], // MySQL: Data too long for column 'k'
    ['k CHAR(3)', "'ab '", 'trailing spaces'], // MySQL would store 'ab' and return it without the space
    ["k ENUM('a','b')", "'c'", "not a value of ENUM('a','b')"], // MySQL: Data truncated for column 'k'
    ['k DECIMAL(5,2)', '1000', 'out of range for DECIMAL(5,2)'],
    ['k JSON', "'{bad'", 'not valid JSON'],
    ['k TINYTEXT', `'${'x'.repeat(256)}'`, 'too long for TINYTEXT'],
    ['k DOUBLE', "'abc'", 'not a number for DOUBLE'],
    ['k YEAR', '24', 'not a YEAR'],
    ['k BINARY(4)', "X'0102'", 'not 4 bytes'],
  ])('%s refuses %s', (column, value, message) => {
    const s = store()
    s.run(`CREATE TABLE t (${column})`)
    expect(() => s.run(`INSERT INTO t (k) VALUES (${value})`)).toThrow(message)
  })

  test.each([
    ['k INT UNSIGNED', '4294967295', 4294967295],
    ['k TINYINT', "'127'", 127],
    ['k BOOLEAN', 'TRUE', 1],
    ['k VARCHAR(5)', "'ééééé'", 'ééééé'], // five characters, ten bytes: fits, as in MySQL
    ["k ENUM('a','b')", "'b'", 'b'],
    ['k DECIMAL(5,2)', '999.99', 999.99],
    ['k JSON', `'{"a":1}'`, '{"a":1}'],
    ['k DATETIME(3)', "'2024-01-02 03:04:05.678'", '2024-01-02 03:04:05.678'],
    ['k BIGINT', '-9007199254740991', -9007199254740991],
    ['k INT', 'NULL', null],
  ])('%s stores %s', (column, value, stored) => {
    const s = store()
    s.run(`CREATE TABLE t (${column})`)
    s.run(`INSERT INTO t (k) VALUES (${value})`)
    expect(s.db.query('SELECT k FROM t').values()).toEqual([[stored]])
  })

  test.each([
    ['SET', "k SET('a','b')", "MySQL reorders a SET value's members"],
    ['BIT', 'k BIT(1)', 'MySQL returns BIT values as binary strings'],
    ['spatial', 'k POINT', 'SQLite has no geometry types'],
    ['unknown', 'k INET6', 'column type INET6'],
  ])('%s columns are refused', (_what, column, message) => {
    expect(() => store().translate(`CREATE TABLE t (${column})`)).toThrow(message)
  })
})

describe("text compares case-insensitively, as with MySQL's default collation", () => {
  test("WHERE name = 'ALI' finds 'Ali', and a UNIQUE key refuses 'ALI' next to it (MySQL: Duplicate entry)", () => {
    const s = store()
    s.run('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20), UNIQUE KEY u (name))')
    s.run("INSERT INTO t (name) VALUES ('Ali')")
    expect(s.values("SELECT name FROM t WHERE name = 'ALI'")).toEqual([['Ali']])
    expect(s.values("SELECT count(*) FROM t WHERE name LIKE 'al%'")).toEqual([[1]])
    expect(() => s.run("INSERT INTO t (name) VALUES ('ALI')")).toThrow('UNIQUE constraint failed')
  })

  test('binary collations (column, BINARY attribute, table default) compare case-sensitively', () => {
    for (const ddl of [
      'CREATE TABLE t (name VARCHAR(20) COLLATE utf8mb4_bin)',
      'CREATE TABLE t (name VARCHAR(20) BINARY)',
      'CREATE TABLE t (name VARCHAR(20) CHARACTER SET utf8mb4) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
    ]) {
      const s = store()
      s.run(ddl)
      s.run("INSERT INTO t VALUES ('Ali')")
      expect(s.values("SELECT count(*) FROM t WHERE name = 'ALI'")).toEqual([[0]])
    }
  })
})

describe('keys, constraints and options', () => {
  test('inline KEY, INDEX and UNIQUE KEY become CREATE INDEX, named per table (two tables may both have k_1)', () => {
    const s = store()
    const ddl = (n: number) =>
      `CREATE TABLE sbtest${n} (id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER DEFAULT '0' NOT NULL, c CHAR(120) DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id), KEY k_1 (k)) /*! ENGINE = innodb */`
    expect(s.translate(ddl(1)).slice(1)).toEqual(['CREATE INDEX `sbtest1.k_1` ON `sbtest1` (`k`)'])
    s.run(ddl(1))
    s.run(ddl(2))
    s.run("INSERT INTO sbtest2 (k, c, pad) VALUES (5, 'c', 'p')")
    expect(s.values('SELECT id, k, c, pad FROM sbtest2')).toEqual([[1, 5, 'c', 'p']])
    expect(s.db.query("SELECT name FROM sqlite_schema WHERE type = 'index' ORDER BY name").values()).toEqual([
      ['sbtest1.k_1'],
      ['sbtest2.k_1'],
    ])
  })

  test('unnamed keys are named as MySQL names them: the first column, then _2', () => {
    expect(
      store().translate('CREATE TABLE t (a INT, b INT, KEY (a, b), UNIQUE (a), INDEX (b DESC), x INT UNIQUE)').slice(1),
    ).toEqual([
      'CREATE INDEX `t.a` ON `t` (`a`, `b`)',
      'CREATE UNIQUE INDEX `t.a_2` ON `t` (`a`)',
      'CREATE INDEX `t.b` ON `t` (`b` DESC)',
      'CREATE UNIQUE INDEX `t.x` ON `t` (`x`)',
    ])
  })

  test('a prefix length is dropped from a plain index and refused in a unique one', () => {
    expect(store().translate('CREATE TABLE t (a TEXT, KEY i (a(10)))')[1]).toBe('CREATE INDEX `t.i` ON `t` (`a`)')
    expect(() => store().translate('CREATE TABLE t (a TEXT, UNIQUE KEY i (a(10)))')).toThrow(
      'a prefix length in UNIQUE KEY',
    )
  })

  test('FOREIGN KEY is kept, with the index InnoDB adds on its columns', () => {
    const s = store()
    s.run('CREATE TABLE p (id INT AUTO_INCREMENT PRIMARY KEY)')
    const ddl =
      'CREATE TABLE c (id INT PRIMARY KEY, pid INT, CONSTRAINT fk_p FOREIGN KEY (pid) REFERENCES app.p (id) ON DELETE CASCADE)'
    expect(s.translate(ddl)[1]).toBe('CREATE INDEX `c.fk_p` ON `c` (`pid`)')
    s.run(ddl)
    s.db.run('PRAGMA foreign_keys = ON')
    s.run('INSERT INTO p () VALUES ()')
    s.run('INSERT INTO c VALUES (1, 1)')
    expect(() => s.run('INSERT INTO c VALUES (2, 9)')).toThrow('FOREIGN KEY constraint failed')
    s.run('DELETE FROM p')
    expect(s.values('SELECT count(*) FROM c')).toEqual([[0]])
  })

  test('primary key columns are NOT NULL, as in MySQL (MySQL: Column cannot be null)', () => {
    const s = store()
    s.run('CREATE TABLE t (a VARCHAR(5), b INT, PRIMARY KEY (a, b))')
    expect(() => s.run('INSERT INTO t VALUES (NULL, 1)')).toThrow('NOT NULL constraint failed')
  })

  test('table options, comments, charsets, IF NOT EXISTS, OR REPLACE, CHECK, generated columns', () => {
    const s = store()
    const ddl = `CREATE TABLE IF NOT EXISTS \`t\` (
      \`a\` INT NOT NULL COMMENT 'the a' CHECK (a > 0),
      \`b\` VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci DEFAULT 'it\\'s',
      \`c\` INT GENERATED ALWAYS AS (a * 2) STORED,
      \`d\` INT AS (a + 1) VIRTUAL,
      CONSTRAINT positive CHECK (a < 100),
      CHECK (a <> 50) NOT ENFORCED
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci COMMENT='x' ROW_FORMAT=DYNAMIC`
    s.run(ddl)
    s.run(ddl)
    s.run('INSERT INTO t (a) VALUES (50)')
    expect(s.values('SELECT a, b, c, d FROM t')).toEqual([[50, "it's", 100, 51]])
    expect(() => s.run('INSERT INTO t (a) VALUES (0)')).toThrow('CHECK constraint failed')
    expect(() => s.run('INSERT INTO t (a) VALUES (100)')).toThrow('CHECK constraint failed: positive')
    s.run('CREATE OR REPLACE TABLE t (z INT)')
    expect(s.values('SELECT count(*) FROM t')).toEqual([[0]])
  })

  test.each([
    [
      'CREATE TABLE t (a TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)',
      'ON UPDATE CURRENT_TIMESTAMP (SQLite has no per-update default',
    ],
    ['CREATE TABLE t (a TEXT, FULLTEXT KEY f (a))', 'FULLTEXT indexes'],
    ['CREATE TABLE t (a INT, SPATIAL INDEX (a))', 'SPATIAL indexes'],
    ['CREATE TABLE t LIKE u', 'CREATE TABLE … LIKE'],
    ['CREATE TABLE t AS SELECT 1 AS a', 'CREATE TABLE … SELECT'],
    ['CREATE TABLE t (a INT) SELECT 1 AS a', 'CREATE TABLE … SELECT'],
    ['CREATE TABLE t (a INT) ENGINE=MEMORY', 'ENGINE=MEMORY'],
    ['CREATE TABLE t (a INT) PARTITION BY HASH(a)', 'PARTITION BY'],
    ['CREATE TABLE t (a INT INVISIBLE)', 'INVISIBLE columns'],
  ])('%s is refused', (ddl, message) => {
    expect(() => store().translate(ddl)).toThrow(`not supported on a SQLite store: ${message}`)
  })
})

describe('table names', () => {
  test("a table whose name differs from one there only in case is refused: SQLite's names ignore case, MySQL's do not", () => {
    const s = store()
    s.run('CREATE TABLE users (id INT)')
    s.run('CREATE TABLE IF NOT EXISTS users (id INT)') // the same table: nothing to do, as in MySQL
    expect(() => s.translate('CREATE TABLE IF NOT EXISTS `Users` (id INT)')).toThrow(
      "CREATE TABLE Users beside users (SQLite's table names ignore case, MySQL's do not: it would do nothing where MySQL creates a second table",
    )
    expect(() => s.translate('CREATE OR REPLACE TABLE Users (id INT)')).toThrow('it would drop users where MySQL')
    expect(() => s.translate('DROP TABLE IF EXISTS Users')).toThrow(
      'DROP TABLE Users (there is no such table, only users, which SQLite would take for it',
    )
    expect(() => s.translate('TRUNCATE Users')).toThrow('TRUNCATE Users (there is no such table, only users')
  })
})
