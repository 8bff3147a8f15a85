import { Database } from 'bun:sqlite'
import { describe, expect, test } from 'bun:test'
import { makeDeterministic } from '../determinism.ts'
import { tokenize } from '../lexer.ts'
import { writeDefaults } from './defaults.ts'
import { describeSqliteTable, type SqliteContext, toSqlite } from './dialect.ts'

const T1 = Date.UTC(2024, 0, 2, 3, 4, 5, 678)

/**
 * A master and a slave store, each an in-memory SQLite database. A write goes as
 * the session sends it: translated (a MySQL client's, or as it is for SQLite's
 * dialect), its written defaults filled, made deterministic at the master's
 * clock; the slave replays the same text later, at another clock.
 */
function cluster() {
  const master = new Database(':memory:')
  const slave = new Database(':memory:')
  const table = (name: string) =>
    describeSqliteTable((sql, params) => master.query(sql).all(...params) as Record<string, unknown>[], name)
  const ctx: SqliteContext = { database: 'app', table }
  let seed = 1
  const random = (): number => {
    seed = (seed * 48271) % 2147483647
    return seed / 2147483647
  }
  /** The statements the master runs and logs for `sql`. */
  const prepare = (sql: string, dialect: 'mysql' | 'sqlite' = 'mysql', now = T1): string[] =>
    (dialect === 'mysql' ? toSqlite(sql, tokenize(sql), ctx) : [sql]).map((s) => {
      const filled = writeDefaults(s, tokenize(s), table) ?? s
      return makeDeterministic(filled, { dialect: 'sqlite', now, random }).sql
    })
  const write = (sql: string, dialect: 'mysql' | 'sqlite' = 'mysql'): string[] => {
    const statements = prepare(sql, dialect)
    for (const s of statements) master.run(s)
    for (const s of statements) slave.run(s) // later, at its own clock: the text carries the master's
    return statements
  }
  const rows = (db: Database, sql: string): unknown[][] => db.query(sql).values() as unknown[][]
  const same = (sql: string): unknown[][] => {
    const got = rows(master, sql)
    expect(rows(slave, sql)).toEqual(got)
    return got
  }
  const read = (sql: string): Record<string, unknown>[] =>
    master.query(toSqlite(sql, tokenize(sql), ctx).at(-1)!).all() as Record<string, unknown>[]
  return { master, slave, ctx, prepare, write, same, read }
}

const KNEX_USERS =
  'create table `users` (`id` int unsigned not null auto_increment primary key, `email` varchar(100) not null, `created_at` timestamp not null default CURRENT_TIMESTAMP, `updated_at` timestamp not null default CURRENT_TIMESTAMP)'

describe('a default that reads the clock is written into each INSERT, at the master clock', () => {
  test("knex's timestamps(true, true): created, and every INSERT that leaves them out stores the master's time", () => {
    const c = cluster()
    c.write(KNEX_USERS)
    const [insert] = c.write("insert into `users` (`email`) values ('ann@example.com')")
    expect(insert).toBe(
      "insert into `users` (`email`, `created_at`, `updated_at`) VALUES ('ann@example.com', ('2024-01-02 03:04:05'), ('2024-01-02 03:04:05'))",
    )
    c.write("insert into users (email, created_at) values ('bo@example.com', '2001-01-01 00:00:00')")
    expect(c.same('SELECT id, email, created_at, updated_at FROM users ORDER BY id')).toEqual([
      [1, 'ann@example.com', '2024-01-02 03:04:05', '2024-01-02 03:04:05'],
      [2, 'bo@example.com', '2001-01-01 00:00:00', '2024-01-02 03:04:05'],
    ])
  })

  test('multi-row VALUES, INSERT … SET, DEFAULT in VALUES, VALUES (), INSERT without a column list, REPLACE, upserts', () => {
    const c = cluster()
    c.write('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, n INT UNIQUE, at DATETIME DEFAULT NOW())')
    c.write('INSERT INTO t (n) VALUES (1), (2)')
    c.write('INSERT INTO t SET n = 3')
    c.write('INSERT INTO t (n, at) VALUES (4, DEFAULT)')
    c.write('INSERT INTO t VALUES (NULL, 5, DEFAULT)')
    c.write('INSERT INTO t () VALUES ()')
    c.write('INSERT INTO t VALUES (), ()')
    c.write('REPLACE INTO t (id, n) VALUES (1, 11)')
    c.write('INSERT INTO t (n) VALUES (2) ON DUPLICATE KEY UPDATE at = DEFAULT')
    c.write("INSERT INTO t (n, at) VALUES (3, '1999-01-01') ON DUPLICATE KEY UPDATE at = VALUES(at)")
    expect(c.same('SELECT id, n, at FROM t ORDER BY id')).toEqual([
      [1, 11, '2024-01-02 03:04:05'],
      [2, 2, '2024-01-02 03:04:05'],
      [3, 3, '1999-01-01'],
      [4, 4, '2024-01-02 03:04:05'],
      [5, 5, '2024-01-02 03:04:05'],
      [6, null, '2024-01-02 03:04:05'],
      [7, null, '2024-01-02 03:04:05'],
      [8, null, '2024-01-02 03:04:05'],
    ])
  })

  test('INSERT … SELECT, UNION included: each SELECT gets the value (one constant, so UNION keeps its rows)', () => {
    const c = cluster()
    c.write('CREATE TABLE src (n INT)')
    c.write('INSERT INTO src VALUES (1), (2)')
    c.write('CREATE TABLE t (n INT, at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))')
    const [insert] = c.write('INSERT INTO t (n) SELECT n FROM src UNION SELECT n + 10 FROM src ORDER BY 1')
    expect(insert).toBe(
      "INSERT INTO t (n, `at`) SELECT n, (substr(strftime('%Y-%m-%d %H:%M:%f', '2024-01-02 03:04:05.678') || '000', 1, 23)) FROM src UNION SELECT n + 10, (substr(strftime('%Y-%m-%d %H:%M:%f', '2024-01-02 03:04:05.678') || '000', 1, 23)) FROM src ORDER BY 1",
    )
    expect(c.same('SELECT n, at FROM t ORDER BY n')).toEqual([
      [1, '2024-01-02 03:04:05.678'],
      [2, '2024-01-02 03:04:05.678'],
      [11, '2024-01-02 03:04:05.678'],
      [12, '2024-01-02 03:04:05.678'],
    ])
  })

  test("SQLite's own dialect (ddb's protocol) is covered too: INSERT, DEFAULT VALUES, INSERT OR REPLACE, upsert", () => {
    const c = cluster()
    c.write('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, n INT, at DATE DEFAULT (CURDATE()))')
    c.write('INSERT INTO t (n) VALUES (1)', 'sqlite')
    c.write('INSERT INTO t DEFAULT VALUES', 'sqlite')
    c.write('INSERT OR REPLACE INTO "t" (id, n) VALUES (1, 10)', 'sqlite')
    c.write('INSERT INTO main.t (id, n) VALUES (2, 20) ON CONFLICT (id) DO UPDATE SET n = excluded.n', 'sqlite')
    expect(c.same('SELECT id, n, at FROM t ORDER BY id')).toEqual([
      [1, 10, '2024-01-02'],
      [2, 20, '2024-01-02'],
    ])
  })

  test('a random default gets a literal in VALUES, and is refused where each row would need its own', () => {
    const c = cluster()
    c.write('CREATE TABLE t (n INT, r DOUBLE DEFAULT (RAND()))')
    c.write('INSERT INTO t (n) VALUES (1), (2)')
    const [[, a], [, b]] = c.same('SELECT n, r FROM t ORDER BY n') as [[unknown, number], [unknown, number]]
    expect(a).not.toBe(b)
    expect(() => c.prepare('INSERT INTO t (n) SELECT n + 2 FROM t ORDER BY n')).toThrow('once per row')
  })

  test('the catalog shows the MySQL default (information_schema, DESCRIBE, SHOW CREATE TABLE)', () => {
    const c = cluster()
    c.write(KNEX_USERS)
    c.write('ALTER TABLE users ADD COLUMN seen DATETIME(3) NULL DEFAULT NOW(3), ADD COLUMN r DOUBLE DEFAULT (RAND())')
    expect(
      c.read(
        "SELECT COLUMN_NAME, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS WHERE TABLE_NAME = 'users' AND COLUMN_DEFAULT IS NOT NULL ORDER BY ORDINAL_POSITION",
      ),
    ).toEqual([
      { COLUMN_NAME: 'created_at', COLUMN_DEFAULT: 'CURRENT_TIMESTAMP', EXTRA: 'DEFAULT_GENERATED' },
      { COLUMN_NAME: 'updated_at', COLUMN_DEFAULT: 'CURRENT_TIMESTAMP', EXTRA: 'DEFAULT_GENERATED' },
      { COLUMN_NAME: 'seen', COLUMN_DEFAULT: 'CURRENT_TIMESTAMP(3)', EXTRA: 'DEFAULT_GENERATED' },
      { COLUMN_NAME: 'r', COLUMN_DEFAULT: 'RAND()', EXTRA: 'DEFAULT_GENERATED' },
    ])
    const [{ 'Create Table': ddl }] = c.read('SHOW CREATE TABLE users') as [{ 'Create Table': string }]
    expect(ddl).toContain('  `created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,\n')
    expect(ddl).toContain('  `seen` datetime(3) DEFAULT CURRENT_TIMESTAMP(3),\n')
    expect(ddl).toContain('  `r` double DEFAULT (RAND()),\n')
    expect(c.read('DESCRIBE users seen')).toMatchObject([{ Default: 'CURRENT_TIMESTAMP(3)' }])
  })

  test('a write that left the default to SQLite fails (its CHECK), rather than store each node its own clock', () => {
    const c = cluster()
    c.write(KNEX_USERS)
    expect(() => c.master.run("INSERT INTO users (email) VALUES ('x')")).toThrow(
      'CHECK constraint failed: `created_at`: DEFAULT CURRENT_TIMESTAMP, which ddb writes into each INSERT, was left to SQLite here',
    )
  })

  test('still written after the column is renamed', () => {
    const c = cluster()
    c.write(KNEX_USERS)
    c.write('ALTER TABLE users RENAME COLUMN created_at TO made')
    c.write("INSERT INTO users (email) VALUES ('x')")
    expect(c.same('SELECT made, updated_at FROM users')).toEqual([['2024-01-02 03:04:05', '2024-01-02 03:04:05']])
  })

  test('ADD COLUMN with such a default: on an empty table, done; on one with rows, refused (MySQL fills them at the ALTER)', () => {
    const c = cluster()
    c.write('CREATE TABLE t (n INT)')
    c.write('ALTER TABLE t ADD COLUMN at DATETIME DEFAULT CURRENT_TIMESTAMP')
    c.write('INSERT INTO t (n) VALUES (1)')
    expect(() => c.prepare('ALTER TABLE t ADD COLUMN at2 DATETIME DEFAULT CURRENT_TIMESTAMP')).toThrow(
      'ADD COLUMN at2 with a default that is not a constant, to a table that has rows',
    )
    expect(c.same('SELECT n, at FROM t')).toEqual([[1, '2024-01-02 03:04:05']])
  })

  test('a trigger whose INSERT leaves such a column out is refused: it fires later, on each node', () => {
    const c = cluster()
    c.write('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, n INT)')
    c.write('CREATE TABLE audit (t_id INT, at DATETIME DEFAULT CURRENT_TIMESTAMP)')
    expect(() =>
      c.prepare('CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO audit (t_id) VALUES (NEW.id)'),
    ).toThrow('a trigger that INSERTs into audit without `at`')
    expect(() =>
      c.prepare('CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN INSERT INTO audit (t_id) VALUES (NEW.id); END', 'sqlite'),
    ).toThrow('a trigger that INSERTs into audit without `at`')
    c.write('CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO audit (t_id, at) VALUES (NEW.id, NULL)')
    c.write('INSERT INTO t (n) VALUES (1)')
    expect(c.same('SELECT t_id, at FROM audit')).toEqual([[1, null]])
  })
})
