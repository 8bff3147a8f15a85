import { describe, expect, test } from 'bun:test'
import {
  context,
  expectRefusal,
  expectRewrite,
  expectUnchanged,
  INT63_Q,
  TS,
  TS_MS,
} from '../../test/support/determinism-cases.ts'
import type { DdbError } from '../errors.ts'
import { checkSqliteDdl, hasTimeDefaults } from './clock-defaults.ts'
import { makeDeterministic } from './determinism.ts'

describe('makeDeterministic: sqlite, statements left as they are', () => {
  expectUnchanged('sqlite', [
    'INSERT INTO t VALUES (1)',
    'INSERT INTO t DEFAULT VALUES',
    'UPDATE t SET a = a + 1',
    'DELETE FROM t WHERE id = 3',
    "INSERT INTO t VALUES ('now')",
    "INSERT INTO t VALUES (upper('now'))",
    "INSERT INTO t VALUES ('random()', 'CURRENT_TIMESTAMP')",
    'INSERT INTO t VALUES ("date(\'now\')")',
    'INSERT INTO t VALUES (1) -- random()\n',
    "INSERT INTO t VALUES (1) /* datetime('now') */",
    'INSERT INTO t ([random]) VALUES (1)',
    'INSERT INTO t (random, date, time) VALUES (1, 2, 3)',
    'INSERT INTO random (a) VALUES (1)',
    'INSERT INTO randomblob (n) VALUES (1)',
    'INSERT INTO datetime (a) VALUES (1)',
    'INSERT OR REPLACE INTO changes (a) VALUES (1)',
    "INSERT INTO t VALUES (date('2020-01-01'))",
    "INSERT INTO t VALUES (datetime('2020-01-01 10:00:00', '+1 day'))",
    "UPDATE t SET d = datetime(d, '+1 day')",
    "UPDATE t SET d = strftime('%Y', d)",
    "UPDATE t SET d = julianday(d) - julianday('2020-01-01')",
    "UPDATE t SET d = unixepoch(d, 'subsec')",
    'UPDATE t SET d = timediff(a, b)',
    'INSERT INTO t VALUES (?)',
    'INSERT INTO t VALUES (:a, @b, $c, ?1)',
    'INSERT INTO t VALUES (random(1))',
    'INSERT INTO t VALUES (RAND())',
    'INSERT INTO t VALUES (UUID())',
    'INSERT INTO t VALUES (SYSDATE())',
    'INSERT INTO t VALUES (USER())',
    'INSERT INTO t VALUES (NOW())',
    'INSERT INTO t VALUES (1) ON CONFLICT(id) DO UPDATE SET n = n + 1',
    'INSERT INTO t VALUES (1), (2) ON CONFLICT DO NOTHING',
    'INSERT INTO t VALUES (1) RETURNING id',
    'UPDATE t SET a = 1 ORDER BY id LIMIT 1',
    'INSERT INTO t SELECT * FROM u ORDER BY id',
    'WITH c AS (SELECT a FROM u) INSERT INTO t SELECT a FROM c ORDER BY a',
    'INSERT INTO t SELECT * FROM u WHERE true ORDER BY id ON CONFLICT(id) DO UPDATE SET a = excluded.a',
    "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT DEFAULT 'x')",
    "CREATE TABLE t (d TEXT DEFAULT 'now')",
    'CREATE TABLE t (d DATETIME(6), e TIME(3))',
    "CREATE TABLE t (d TEXT DEFAULT (date('2020-01-01')))",
    'CREATE TABLE date (a INT)',
    'CREATE TABLE t2 AS SELECT * FROM t ORDER BY id',
    'CREATE TABLE t (a INT) WITHOUT ROWID',
    'CREATE INDEX i ON t (a)',
    "CREATE VIEW v AS SELECT random(), datetime('now')",
    'DROP TABLE t',
    'ALTER TABLE t ADD COLUMN a INT DEFAULT 0',
    'ALTER TABLE t RENAME TO u',
    'CREATE TRIGGER trg AFTER INSERT ON t BEGIN UPDATE u SET n = n + 1; END',
    "CREATE TRIGGER trg AFTER UPDATE ON t FOR EACH ROW BEGIN UPDATE t SET d = datetime(NEW.d, '+1 day') WHERE id = NEW.id; END",
  ])
})

describe('makeDeterministic: sqlite, rewrites', () => {
  expectRewrite('sqlite', [
    ['INSERT INTO t VALUES (random())', `INSERT INTO t VALUES (${INT63_Q})`],
    ['INSERT INTO t VALUES (RANDOM())', `INSERT INTO t VALUES (${INT63_Q})`],
    ['INSERT INTO t VALUES (abs(random()) % 100)', `INSERT INTO t VALUES (abs(${INT63_Q}) % 100)`],
    ['INSERT INTO t VALUES (random()), (random())', `INSERT INTO t VALUES (${INT63_Q}), (${INT63_Q})`],
    ['INSERT INTO t VALUES (randomblob(4))', "INSERT INTO t VALUES (X'40404040')"],
    ['INSERT INTO t VALUES (randomblob(1))', "INSERT INTO t VALUES (X'40')"],
    ['INSERT INTO t VALUES (randomblob(0))', "INSERT INTO t VALUES (X'40')"],
    ['INSERT INTO t VALUES (hex(randomblob(2)))', "INSERT INTO t VALUES (hex(X'4040'))"],
    ['INSERT INTO t VALUES (lower(hex(randomblob(16))))', `INSERT INTO t VALUES (lower(hex(X'${'40'.repeat(16)}')))`],
    ['INSERT INTO t VALUES (CURRENT_TIMESTAMP)', `INSERT INTO t VALUES (${TS})`],
    ['INSERT INTO t VALUES (current_timestamp)', `INSERT INTO t VALUES (${TS})`],
    ['INSERT INTO t VALUES (CURRENT_DATE)', "INSERT INTO t VALUES ('2026-11-22')"],
    ['INSERT INTO t VALUES (CURRENT_TIME)', "INSERT INTO t VALUES ('10:00:00')"],
    [
      'INSERT INTO t VALUES (CURRENT_DATE, CURRENT_TIME, CURRENT_TIMESTAMP)',
      `INSERT INTO t VALUES ('2026-11-22', '10:00:00', ${TS})`,
    ],
    ["INSERT INTO t VALUES (date('now'))", `INSERT INTO t VALUES (date(${TS_MS}))`],
    ["INSERT INTO t VALUES (DATETIME('NOW'))", `INSERT INTO t VALUES (DATETIME(${TS_MS}))`],
    ["INSERT INTO t VALUES (datetime('Now', '+1 day'))", `INSERT INTO t VALUES (datetime(${TS_MS}, '+1 day'))`],
    [
      "INSERT INTO t VALUES (time('now', '+1 hour', 'start of day'))",
      `INSERT INTO t VALUES (time(${TS_MS}, '+1 hour', 'start of day'))`,
    ],
    ["INSERT INTO t VALUES (julianday('now'))", `INSERT INTO t VALUES (julianday(${TS_MS}))`],
    ["INSERT INTO t VALUES (unixepoch('now'))", `INSERT INTO t VALUES (unixepoch(${TS_MS}))`],
    ["INSERT INTO t VALUES (unixepoch('now', 'subsec'))", `INSERT INTO t VALUES (unixepoch(${TS_MS}, 'subsec'))`],
    ["INSERT INTO t VALUES (strftime('%s', 'now'))", `INSERT INTO t VALUES (strftime('%s', ${TS_MS}))`],
    [
      "INSERT INTO t VALUES (strftime('%Y-%m-%d', 'now', '-1 month'))",
      `INSERT INTO t VALUES (strftime('%Y-%m-%d', ${TS_MS}, '-1 month'))`,
    ],
    ['INSERT INTO t VALUES ("now" || date("now"))', `INSERT INTO t VALUES ("now" || date(${TS_MS}))`],
    ['INSERT INTO t VALUES (datetime())', `INSERT INTO t VALUES (datetime(${TS_MS}))`],
    ['INSERT INTO t VALUES (date( ))', `INSERT INTO t VALUES (date(${TS_MS} ))`],
    ['INSERT INTO t VALUES (time())', `INSERT INTO t VALUES (time(${TS_MS}))`],
    ['INSERT INTO t VALUES (julianday())', `INSERT INTO t VALUES (julianday(${TS_MS}))`],
    ['INSERT INTO t VALUES (unixepoch())', `INSERT INTO t VALUES (unixepoch(${TS_MS}))`],
    ["INSERT INTO t VALUES (strftime('%s'))", `INSERT INTO t VALUES (strftime('%s', ${TS_MS}))`],
    ["INSERT INTO t VALUES (timediff('now', '2020-01-01'))", `INSERT INTO t VALUES (timediff(${TS_MS}, '2020-01-01'))`],
    ["INSERT INTO t VALUES (timediff(d, 'now'))", `INSERT INTO t VALUES (timediff(d, ${TS_MS}))`],
    ["INSERT INTO t VALUES (date(datetime('now')))", `INSERT INTO t VALUES (date(datetime(${TS_MS})))`],
    ['INSERT INTO t VALUES (date(CURRENT_TIMESTAMP))', `INSERT INTO t VALUES (date(${TS}))`],
    // The clock is constant within a statement, so per-row uses are rewritten too.
    ['UPDATE t SET ts = CURRENT_TIMESTAMP', `UPDATE t SET ts = ${TS}`],
    ["UPDATE t SET ts = datetime('now') WHERE id = 1", `UPDATE t SET ts = datetime(${TS_MS}) WHERE id = 1`],
    [
      "DELETE FROM t WHERE created < datetime('now', '-7 days')",
      `DELETE FROM t WHERE created < datetime(${TS_MS}, '-7 days')`,
    ],
    [
      "INSERT INTO t SELECT a, date('now') FROM u ORDER BY a",
      `INSERT INTO t SELECT a, date(${TS_MS}) FROM u ORDER BY a`,
    ],
    [
      "WITH x AS (SELECT datetime('now') AS d) INSERT INTO t SELECT d FROM x ORDER BY d",
      `WITH x AS (SELECT datetime(${TS_MS}) AS d) INSERT INTO t SELECT d FROM x ORDER BY d`,
    ],
    ['CREATE TABLE t2 AS SELECT CURRENT_TIMESTAMP AS ts', `CREATE TABLE t2 AS SELECT ${TS} AS ts`],
    [
      'CREATE TABLE t2 AS SELECT *, CURRENT_DATE AS d FROM t ORDER BY id',
      "CREATE TABLE t2 AS SELECT *, '2026-11-22' AS d FROM t ORDER BY id",
    ],
    ['CREATE TABLE t2 AS SELECT random() AS r', `CREATE TABLE t2 AS SELECT ${INT63_Q} AS r`],
    [
      'INSERT INTO t VALUES (1, CURRENT_TIMESTAMP) ON CONFLICT(id) DO UPDATE SET ts = CURRENT_TIMESTAMP',
      `INSERT INTO t VALUES (1, ${TS}) ON CONFLICT(id) DO UPDATE SET ts = ${TS}`,
    ],
    [
      'INSERT INTO t VALUES (1), (2) ON CONFLICT(id) DO UPDATE SET ts = CURRENT_TIMESTAMP',
      `INSERT INTO t VALUES (1), (2) ON CONFLICT(id) DO UPDATE SET ts = ${TS}`,
    ],
    [
      'INSERT INTO t VALUES (random()) ON CONFLICT DO UPDATE SET r = random()',
      `INSERT INTO t VALUES (${INT63_Q}) ON CONFLICT DO UPDATE SET r = ${INT63_Q}`,
    ],
    ['INSERT INTO t VALUES (random()) RETURNING id', `INSERT INTO t VALUES (${INT63_Q}) RETURNING id`],
    ['REPLACE INTO t VALUES (random(), CURRENT_TIMESTAMP)', `REPLACE INTO t VALUES (${INT63_Q}, ${TS})`],
    ['INSERT INTO t SELECT random(), CURRENT_TIMESTAMP', `INSERT INTO t SELECT ${INT63_Q}, ${TS}`],
    [
      'INSERT INTO t VALUES (CURRENT_TIMESTAMP) -- CURRENT_TIMESTAMP',
      `INSERT INTO t VALUES (${TS}) -- CURRENT_TIMESTAMP`,
    ],
  ])
})

describe('makeDeterministic: sqlite, refused', () => {
  expectRefusal('sqlite', [
    ['UPDATE t SET r = random()', 'random() is evaluated once per row in an UPDATE'],
    ['UPDATE t SET b = randomblob(8)', 'randomblob(8) is evaluated once per row in an UPDATE'],
    ['DELETE FROM t WHERE abs(random()) % 2 = 0', 'random() is evaluated once per row in a DELETE'],
    ['INSERT INTO t SELECT random() FROM u ORDER BY id', 'random() is evaluated once per row in an INSERT … SELECT'],
    ['INSERT INTO t VALUES ((SELECT random()))', 'random() is evaluated once per row in a subquery'],
    [
      'WITH c AS (SELECT random() AS r) INSERT INTO t SELECT r FROM c ORDER BY r',
      'random() is evaluated once per row in a subquery',
    ],
    [
      'INSERT INTO t VALUES (1), (2) ON CONFLICT DO UPDATE SET r = random()',
      'random() is evaluated once per row in the clauses after a multi-row VALUES list',
    ],
    [
      'INSERT INTO t VALUES (1), (2) RETURNING random()',
      'random() is evaluated once per row in the clauses after a multi-row VALUES list',
    ],
    [
      'CREATE TABLE t2 AS SELECT random() AS r FROM t ORDER BY id',
      'random() is evaluated once per row in a CREATE TABLE … SELECT',
    ],
    [
      "INSERT INTO t VALUES (randomblob(length('abc')))",
      "randomblob(length('abc')) has a length that is not a number literal",
    ],
    ['INSERT INTO t VALUES (randomblob(100000))', 'randomblob(100000) needs a length from 0 to 65536'],
    ['INSERT INTO t VALUES (last_insert_rowid())', 'last_insert_rowid() differs between servers'],
    ['INSERT INTO t VALUES (changes())', 'changes() differs between servers'],
    ['INSERT INTO t VALUES (total_changes())', 'total_changes() differs between servers'],
    ['INSERT INTO t VALUES (sqlite_version())', 'sqlite_version() differs between servers'],
    ['INSERT INTO t VALUES (sqlite_source_id())', 'sqlite_source_id() differs between servers'],
    ['UPDATE t SET parent = last_insert_rowid()', 'last_insert_rowid() differs between servers'],
    [
      "INSERT INTO t VALUES (datetime('now', 'localtime'))",
      "datetime('now', 'localtime') depends on the server's time zone ('localtime'), so slaves in another zone would store different values; convert the time in the client",
    ],
    ["UPDATE t SET d = datetime(d, 'utc')", "datetime(d, 'utc') depends on the server's time zone ('utc')"],
    ["UPDATE t SET d = date(d, 'LOCALTIME')", "date(d, 'LOCALTIME') depends on the server's time zone"],
    ["INSERT INTO t VALUES (strftime('%H', 'now', 'localtime'))", "depends on the server's time zone"],
    [
      'CREATE TABLE t (id TEXT DEFAULT (lower(hex(randomblob(16)))))',
      'randomblob(16) in a column definition is evaluated on each server whenever a row is written',
    ],
    ['CREATE TABLE t (r INTEGER DEFAULT (random()))', 'random() in a column definition'],
    [
      'CREATE TABLE t (ts TEXT DEFAULT CURRENT_TIMESTAMP)',
      'DEFAULT CURRENT_TIMESTAMP: SQLite evaluates a column default at insert time on each node, so slaves would store their own clock; insert the value explicitly instead',
    ],
    [
      'CREATE TABLE t (d TEXT DEFAULT CURRENT_DATE)',
      'DEFAULT CURRENT_DATE: SQLite evaluates a column default at insert time',
    ],
    [
      "CREATE TABLE t (ts TEXT DEFAULT (datetime('now')))",
      "DEFAULT (datetime('now')): SQLite evaluates a column default at insert time",
    ],
    [
      'CREATE TRIGGER trg AFTER UPDATE ON t BEGIN UPDATE t SET ts = CURRENT_TIMESTAMP WHERE id = NEW.id; END',
      'CURRENT_TIMESTAMP in a trigger is evaluated on each server whenever the trigger fires, so slaves would store different values; write the time as a literal instead',
    ],
    [
      "CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW BEGIN INSERT INTO log VALUES (datetime('now')); END",
      "datetime('now') in a trigger",
    ],
    [
      "CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW WHEN date() > '2020-01-01' BEGIN SELECT 1; END",
      'date() in a trigger',
    ],
    ['CREATE TRIGGER trg AFTER INSERT ON t BEGIN INSERT INTO log VALUES (random()); END', 'random() in a trigger'],
    ['UPDATE t SET a = 1 LIMIT 1', 'UPDATE with LIMIT but no ORDER BY'],
    ['DELETE FROM t LIMIT 1', 'DELETE with LIMIT but no ORDER BY'],
    ['INSERT INTO t SELECT * FROM u', 'INSERT … SELECT without ORDER BY'],
    ['INSERT INTO t SELECT * FROM u LIMIT 3', 'INSERT … SELECT with LIMIT but no ORDER BY'],
    ['CREATE TABLE t2 AS SELECT * FROM t', 'CREATE TABLE … SELECT without ORDER BY'],
  ])

  test('user variables are parameters in SQLite, not refused', () => {
    expect(makeDeterministic('UPDATE t SET a = @a WHERE id = @id', context('sqlite')).rewritten).toBe(false)
  })
})

describe('hasTimeDefaults', () => {
  test.each<[string, boolean]>([
    ['CREATE TABLE t (ts TIMESTAMP DEFAULT CURRENT_TIMESTAMP)', true],
    ['create table t (ts timestamp default current_timestamp)', true],
    ['CREATE TABLE t (ts DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6))', true],
    ['CREATE TABLE t (ts DATETIME DEFAULT NOW())', true],
    ['CREATE TABLE t (ts DATETIME DEFAULT (NOW() + INTERVAL 1 DAY))', true],
    ['CREATE TABLE t (ts DATETIME DEFAULT LOCALTIMESTAMP)', true],
    ['CREATE TABLE t (ts DATETIME DEFAULT LOCALTIME())', true],
    ['CREATE TABLE t (d DATE DEFAULT CURRENT_DATE)', true],
    ['CREATE TABLE t (d DATE DEFAULT (CURDATE()))', true],
    ['CREATE TABLE t (d TIME DEFAULT CURRENT_TIME)', true],
    ['CREATE TABLE t (n BIGINT DEFAULT (UNIX_TIMESTAMP()))', true],
    ['CREATE TABLE t (ts TIMESTAMP NULL ON UPDATE CURRENT_TIMESTAMP)', true],
    ['CREATE TABLE t (a INT, ts TIMESTAMP DEFAULT 0 ON UPDATE NOW())', true],
    ['CREATE TABLE IF NOT EXISTS t (ts TIMESTAMP DEFAULT CURRENT_TIMESTAMP)', true],
    ['CREATE OR REPLACE TABLE t (ts TIMESTAMP DEFAULT CURRENT_TIMESTAMP)', true],
    ["CREATE TABLE t (ts TEXT DEFAULT (datetime('now')))", true],
    ["CREATE TABLE t (ts TEXT DEFAULT (datetime('now', 'localtime')))", true],
    ["CREATE TABLE t (ts INTEGER DEFAULT (strftime('%s', 'now')))", true],
    ["CREATE TABLE t (ts INTEGER DEFAULT (strftime('%s')))", true],
    ['CREATE TABLE t (ts INTEGER DEFAULT (unixepoch()))', true],
    ['CREATE TABLE t (ts REAL DEFAULT (julianday()))', true],
    ['ALTER TABLE t ADD COLUMN ts DATETIME DEFAULT CURRENT_TIMESTAMP', true],
    ['ALTER TABLE t ALTER COLUMN ts SET DEFAULT CURRENT_TIMESTAMP', true],
    ['ALTER TABLE t MODIFY ts TIMESTAMP ON UPDATE CURRENT_TIMESTAMP', true],
    ['CREATE TABLE t (a INT DEFAULT 0)', false],
    ['CREATE TABLE t (ts DATETIME)', false],
    ['CREATE TABLE t (ts DATETIME DEFAULT NULL)', false],
    ["CREATE TABLE t (ts TEXT DEFAULT 'now')", false],
    ["CREATE TABLE t (ts TEXT DEFAULT 'CURRENT_TIMESTAMP')", false],
    ['CREATE TABLE t (ts TEXT /* DEFAULT CURRENT_TIMESTAMP */)', false],
    ["CREATE TABLE t (d TEXT DEFAULT (date('2020-01-01')))", false],
    ['CREATE TABLE t (a INT DEFAULT NULL, now INT)', false],
    ['CREATE TABLE t (a INT REFERENCES p (id) ON UPDATE CASCADE ON DELETE SET DEFAULT)', false],
    ['CREATE TABLE t (a INT) DEFAULT CHARSET = utf8mb4', false],
    ['CREATE TABLE t2 AS SELECT NOW() AS ts', false],
    ['INSERT INTO t VALUES (CURRENT_TIMESTAMP)', false],
    ['UPDATE t SET ts = DEFAULT', false],
    ['CREATE VIEW v AS SELECT NOW()', false],
    ['DROP TABLE t', false],
  ])('%j → %p', (sql, expected) => {
    expect(hasTimeDefaults(sql)).toBe(expected)
  })
})

describe('checkSqliteDdl', () => {
  test.each<[string, string]>([
    [
      'CREATE TABLE t (ts TEXT DEFAULT CURRENT_TIMESTAMP)',
      'DEFAULT CURRENT_TIMESTAMP: SQLite evaluates a column default at insert time on each node, so slaves would store their own clock; insert the value explicitly instead',
    ],
    ['CREATE TABLE t (d TEXT DEFAULT current_date)', 'DEFAULT current_date: SQLite evaluates'],
    ['CREATE TABLE t (d TEXT NOT NULL DEFAULT CURRENT_TIME)', 'DEFAULT CURRENT_TIME: SQLite evaluates'],
    ["CREATE TABLE t (ts TEXT DEFAULT (datetime('now')))", "DEFAULT (datetime('now')): SQLite evaluates"],
    ["CREATE TABLE t (ts TEXT DEFAULT (DATETIME('NOW', '+1 day')))", "DEFAULT (DATETIME('NOW', '+1 day')): SQLite"],
    ["CREATE TABLE t (ts INTEGER DEFAULT (strftime('%s', 'now')))", "DEFAULT (strftime('%s', 'now'))"],
    ['CREATE TABLE t (ts INTEGER DEFAULT (unixepoch()))', 'DEFAULT (unixepoch())'],
    [
      'CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, ts TEXT DEFAULT CURRENT_TIMESTAMP)',
      'DEFAULT CURRENT_TIMESTAMP',
    ],
    ['ALTER TABLE t ADD COLUMN ts TEXT DEFAULT CURRENT_TIMESTAMP', 'DEFAULT CURRENT_TIMESTAMP'],
  ])('refuses %j', (sql, reason) => {
    let message = ''
    try {
      checkSqliteDdl(sql)
    } catch (err) {
      expect((err as DdbError).code).toBe('UNSAFE_STATEMENT')
      message = (err as DdbError).message
    }
    expect(message).toContain(reason)
  })

  test.each([
    'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)',
    "CREATE TABLE t (ts TEXT DEFAULT '2020-01-01 00:00:00')",
    "CREATE TABLE t (ts TEXT DEFAULT 'now')",
    "CREATE TABLE t (d TEXT DEFAULT (date('2020-01-01')))",
    'CREATE TABLE t2 AS SELECT CURRENT_TIMESTAMP AS ts',
    'INSERT INTO t VALUES (CURRENT_TIMESTAMP)',
    'CREATE INDEX i ON t (a)',
    'DROP TABLE t',
  ])('accepts %j', (sql) => {
    expect(() => checkSqliteDdl(sql)).not.toThrow()
  })
})
