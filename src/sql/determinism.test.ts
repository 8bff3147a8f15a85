import { Database } from 'bun:sqlite'
import { describe, expect, test } from 'bun:test'
import { DdbError } from '../errors.ts'
import { checkSqliteDdl, hasTimeDefaults } from './clock-defaults.ts'
import { type DeterminismContext, type Dialect, makeDeterministic } from './determinism.ts'

/** The master's clock in these tests: 2026-11-22 10:00:00.123 UTC. */
const NOW = Date.UTC(2026, 10, 22, 10, 0, 0, 123)

/** With random() always 0.25, every random byte is 0x40 and every 32-bit draw 0x40000000. */
const QUARTER = '0.25000000000000000e0'
const UUID_Q = "'40404040-4040-4040-8040-404040404040'"
const INT63_Q = '4611686019501129728'
const TS = "'2026-11-22 10:00:00'"
const TS_MS = "'2026-11-22 10:00:00.123'"

function context(dialect: Dialect, random: () => number = () => 0.25): DeterminismContext {
  return { dialect, now: NOW, random }
}

/** A repeatable random sequence (a small LCG), so that successive draws differ. */
function sequence(seed = 1): () => number {
  let state = seed
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31
    return state / 2 ** 31
  }
}

function _rewrite(dialect: Dialect, sql: string): string {
  return makeDeterministic(sql, context(dialect)).sql
}

/** Returns the refusal's message, failing the test if the statement was not refused with UNSAFE_STATEMENT. */
function refusal(dialect: Dialect, sql: string): string {
  try {
    makeDeterministic(sql, context(dialect))
  } catch (err) {
    expect(err).toBeInstanceOf(DdbError)
    expect((err as DdbError).code).toBe('UNSAFE_STATEMENT')
    return (err as DdbError).message
  }
  throw new Error(`not refused: ${sql}`)
}

function expectUnchanged(dialect: Dialect, cases: string[]): void {
  test.each(cases)('%j', (sql) => {
    expect(makeDeterministic(sql, context(dialect))).toEqual({ sql, rewritten: false })
  })
}

function expectRewrite(dialect: Dialect, cases: [string, string][]): void {
  test.each(cases)('%j', (sql, expected) => {
    expect(makeDeterministic(sql, context(dialect))).toEqual({ sql: expected, rewritten: true })
  })
}

/** Cases of [sql, a part of the refusal's message]. */
function expectRefusal(dialect: Dialect, cases: [string, string][]): void {
  test.each(cases)('%j', (sql, reason) => {
    expect(refusal(dialect, sql)).toContain(reason)
  })
}

describe('makeDeterministic: mysql, statements left as they are', () => {
  expectUnchanged('mysql', [
    'INSERT INTO t VALUES (1)',
    "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')",
    'INSERT INTO t SET a = 1',
    'INSERT INTO t DEFAULT VALUES',
    'UPDATE t SET a = a + 1',
    'UPDATE t SET a = 1 WHERE id = 3',
    'DELETE FROM t',
    'DELETE FROM t WHERE id = 3',
    'REPLACE INTO t VALUES (1)',
    'INSERT INTO t VALUES (1);',
    // Names of functions inside strings, comments and quoted identifiers.
    "INSERT INTO t (note) VALUES ('RAND()')",
    "INSERT INTO t (note) VALUES ('UUID()'), ('SYSDATE()')",
    'INSERT INTO t (note) VALUES ("database()")',
    "INSERT INTO t (note) VALUES ('@@hostname @x')",
    "INSERT INTO t (note) VALUES ('UPDATE t SET a = 1 LIMIT 1')",
    'INSERT INTO t VALUES (1) /* RAND() */',
    'INSERT INTO t VALUES (1) -- UUID()\n',
    'INSERT INTO t VALUES (1) # USER()',
    '/* SYSDATE() */ INSERT INTO t VALUES (1)',
    'INSERT INTO t (`uuid`) VALUES (1)',
    'INSERT INTO t (`rand`, `user`) VALUES (1, 2)',
    'INSERT INTO `rand` (a) VALUES (1)',
    'UPDATE t SET `uuid` = 1',
    'INSERT INTO t (`uuid`) VALUES (`uuid`(1))',
    // Columns named like functions, not called.
    'INSERT INTO t (rand) VALUES (1)',
    'INSERT INTO t (uuid, user, version, database) VALUES (1, 2, 3, 4)',
    'UPDATE t SET uuid = 1 WHERE rand = 2',
    'UPDATE t SET version = version + 1',
    'DELETE FROM t WHERE user = 1',
    'UPDATE t SET t.rand = 1',
    // Tables and keys named like functions, followed by a parenthesis.
    'INSERT INTO user (name) VALUES (1)',
    'INSERT INTO version (a) VALUES (1)',
    'INSERT INTO uuid (a) VALUES (1)',
    'INSERT INTO sysdate (a) VALUES (1)',
    'INSERT user (name) VALUES (1)',
    'INSERT IGNORE user (name) VALUES (1)',
    'REPLACE user (name) VALUES (1)',
    'REPLACE INTO database (a) VALUES (1)',
    'INSERT INTO db.user (name) VALUES (1)',
    'INSERT INTO t (a) VALUES (db.uuid())',
    'CREATE TABLE user (id INT)',
    'CREATE TABLE IF NOT EXISTS version (id INT)',
    'CREATE TABLE t (a INT, KEY uuid (a))',
    'CREATE TABLE t (a INT, UNIQUE KEY user (a))',
    'CREATE TABLE t (a INT, INDEX rand (a))',
    'CREATE TABLE t (a INT, CONSTRAINT uuid UNIQUE (a))',
    'CREATE TABLE t (a INT REFERENCES user (id))',
    'ALTER TABLE t ADD INDEX version (a)',
    'ALTER TABLE t ADD UNIQUE user (a)',
    // The applier pins MySQL's clock with SET TIMESTAMP.
    'INSERT INTO t VALUES (NOW())',
    'INSERT INTO t VALUES (NOW(6), CURRENT_TIMESTAMP, CURRENT_TIMESTAMP(3), CURDATE(), CURTIME())',
    'INSERT INTO t VALUES (UNIX_TIMESTAMP(), UTC_TIMESTAMP(), UTC_DATE(), UTC_TIME(), LOCALTIME, LOCALTIMESTAMP())',
    'INSERT INTO t VALUES (CURRENT_DATE, CURRENT_TIME)',
    'UPDATE t SET a = NOW() WHERE b < CURRENT_DATE - INTERVAL 1 DAY',
    'DELETE FROM t WHERE created < NOW() - INTERVAL 7 DAY',
    'INSERT INTO t SELECT NOW(), a FROM u ORDER BY a',
    "INSERT INTO t VALUES (DATE('now'), TIME('now'))",
    'CREATE TABLE t (ts TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)',
    'CREATE TABLE t (ts DATETIME(6) DEFAULT NOW(6))',
    'ALTER TABLE t ADD COLUMN ts DATETIME DEFAULT CURRENT_TIMESTAMP',
    // Deterministic forms.
    'INSERT INTO t VALUES (RAND(42))',
    'UPDATE t SET a = RAND(7)',
    'UPDATE t SET a = RAND(id)',
    'INSERT INTO t VALUES (LAST_INSERT_ID(5))',
    'UPDATE t SET n = LAST_INSERT_ID(n + 1)',
    'INSERT INTO t VALUES (UUID(1))',
    'INSERT INTO t VALUES (?)',
    'INSERT INTO t VALUES (?, ?), (?, ?)',
    'INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a)',
    'INSERT INTO t VALUES (1), (2) ON DUPLICATE KEY UPDATE a = a + 1',
    'INSERT INTO t VALUES (1) AS new ON DUPLICATE KEY UPDATE a = new.a',
    'INSERT INTO t VALUES ((SELECT MAX(id) FROM u))',
    // Functions other dialects have.
    'INSERT INTO t VALUES (RANDOM())',
    'INSERT INTO t VALUES (RANDOMBLOB(4))',
    'INSERT INTO t VALUES (last_insert_rowid())',
    "INSERT INTO t VALUES (datetime('now'))",
    'INSERT INTO t VALUES (sqlite_version())',
    // LIMIT with ORDER BY.
    'UPDATE t SET a = 1 ORDER BY id LIMIT 10',
    'DELETE FROM t ORDER BY id LIMIT 10',
    'DELETE FROM t WHERE a = 1 ORDER BY id DESC LIMIT 1',
    'UPDATE t SET a = 1 ORDER BY id LIMIT 10 /* LIMIT */',
    "DELETE FROM t WHERE a = 'LIMIT 1'",
    'UPDATE t SET a = (SELECT b FROM u ORDER BY id LIMIT 1)',
    'UPDATE t SET a = (SELECT GROUP_CONCAT(b ORDER BY b LIMIT 2) FROM u)',
    'UPDATE t SET r = (SELECT ROW_NUMBER() OVER (ORDER BY id) FROM u WHERE u.id = t.id)',
    'DELETE FROM t WHERE id IN (SELECT id FROM (SELECT id FROM u ORDER BY id LIMIT 5) AS x)',
    // INSERT … SELECT with an order, or one row without FROM.
    'INSERT INTO t SELECT * FROM u ORDER BY id',
    'INSERT INTO t SELECT * FROM u ORDER BY id LIMIT 5',
    'INSERT INTO t (a, b) SELECT a, b FROM u WHERE c > 1 ORDER BY a, b',
    'INSERT INTO t SELECT a FROM u UNION SELECT b FROM v ORDER BY 1',
    'INSERT INTO t (SELECT a FROM u ORDER BY a)',
    'INSERT INTO t ((SELECT a FROM u ORDER BY a))',
    'INSERT INTO t (SELECT a FROM u) ORDER BY a',
    'INSERT INTO t SELECT * FROM u ORDER BY id ON DUPLICATE KEY UPDATE a = u.a',
    'INSERT INTO t WITH c AS (SELECT a FROM u) SELECT a FROM c ORDER BY a',
    'INSERT INTO t TABLE u ORDER BY id',
    'REPLACE INTO t SELECT * FROM u ORDER BY id',
    "INSERT INTO t SELECT 1, 'a'",
    'INSERT INTO t SELECT 1 FROM DUAL',
    'INSERT INTO t (a) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM t WHERE a = 1)',
    'INSERT INTO t (SELECT 1)',
    'CREATE TABLE t2 AS SELECT * FROM t ORDER BY id',
    'CREATE TABLE t2 SELECT a, b FROM t ORDER BY a',
    'CREATE TABLE t2 (id INT PRIMARY KEY) SELECT id FROM t ORDER BY id',
    'CREATE TABLE t2 AS (SELECT * FROM t ORDER BY id)',
    'CREATE TABLE t2 AS SELECT 1 AS one',
    'CREATE TABLE t2 LIKE t',
    'CREATE TABLE t (a INT) WITH SYSTEM VERSIONING',
    // DDL no rule concerns.
    "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(50) DEFAULT 'x')",
    "CREATE TABLE t (id CHAR(36) DEFAULT (UUID_TO_BIN('00000000-0000-0000-0000-000000000000')))",
    'CREATE TABLE t (r DOUBLE DEFAULT (RAND(1)))',
    'ALTER TABLE t ADD COLUMN a INT DEFAULT 0',
    'DROP TABLE rand',
    'DROP TABLE t',
    'TRUNCATE t',
    'RENAME TABLE a TO b',
    'CREATE INDEX i ON user (a)',
    'CREATE DATABASE d',
    'CREATE VIEW v AS SELECT RAND(), USER(), @@hostname FROM t LIMIT 1',
    'CREATE DEFINER = CURRENT_USER TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.a = NOW()',
    "CREATE DEFINER = 'root'@'localhost' TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1",
    'CREATE TRIGGER trg BEFORE UPDATE ON t FOR EACH ROW SET NEW.updated = CURRENT_TIMESTAMP',
    'CREATE TRIGGER trg AFTER DELETE ON t FOR EACH ROW BEGIN DELETE FROM u WHERE u.t = OLD.id; END',
    // Not a write: returned as it is.
    'SELECT RAND()',
    'SET @x = 1',
  ])
})

describe('makeDeterministic: mysql, rewrites', () => {
  expectRewrite('mysql', [
    ['INSERT INTO t VALUES (RAND())', `INSERT INTO t VALUES (${QUARTER})`],
    ['INSERT INTO t (a) VALUES (rand())', `INSERT INTO t (a) VALUES (${QUARTER})`],
    ['INSERT INTO t VALUES (Rand( ))', `INSERT INTO t VALUES (${QUARTER})`],
    ['INSERT INTO t VALUES (RAND ())', `INSERT INTO t VALUES (${QUARTER})`],
    ['INSERT INTO t VALUES (RAND /* c */ ())', `INSERT INTO t VALUES (${QUARTER})`],
    ['INSERT INTO t VALUES (FLOOR(RAND() * 10))', `INSERT INTO t VALUES (FLOOR(${QUARTER} * 10))`],
    ['INSERT INTO t VALUES (1 - RAND())', `INSERT INTO t VALUES (1 - ${QUARTER})`],
    ['INSERT INTO t VALUES (RAND(RAND()))', `INSERT INTO t VALUES (RAND(${QUARTER}))`],
    ['INSERT INTO t SET a = RAND()', `INSERT INTO t SET a = ${QUARTER}`],
    ['INSERT INTO t SET a = RAND(), b = UUID()', `INSERT INTO t SET a = ${QUARTER}, b = ${UUID_Q}`],
    [
      'INSERT INTO t SET a = (SELECT MAX(x) FROM u) + RAND()',
      `INSERT INTO t SET a = (SELECT MAX(x) FROM u) + ${QUARTER}`,
    ],
    ['REPLACE INTO t VALUES (UUID())', `REPLACE INTO t VALUES (${UUID_Q})`],
    ['INSERT INTO t VALUES (UUID())', `INSERT INTO t VALUES (${UUID_Q})`],
    ['INSERT INTO t VALUES (uuid())', `INSERT INTO t VALUES (${UUID_Q})`],
    ['INSERT INTO t VALUES (UUID_TO_BIN(UUID()))', `INSERT INTO t VALUES (UUID_TO_BIN(${UUID_Q}))`],
    ["INSERT INTO t VALUES (CONCAT('id-', UUID()))", `INSERT INTO t VALUES (CONCAT('id-', ${UUID_Q}))`],
    ['INSERT INTO t VALUES (UUID_V4())', `INSERT INTO t VALUES (${UUID_Q})`],
    ['INSERT INTO t VALUES (UUID_V7())', "INSERT INTO t VALUES ('01a202b2-c57b-7040-8040-404040404040')"],
    ['INSERT INTO t VALUES (UUID_SHORT())', `INSERT INTO t VALUES (${INT63_Q})`],
    ['INSERT INTO t VALUES (SYS_GUID())', "INSERT INTO t VALUES ('40404040404040408040404040404040')"],
    ['INSERT INTO t VALUES (RANDOM_BYTES(4))', "INSERT INTO t VALUES (X'40404040')"],
    ['INSERT INTO t VALUES (RANDOM_BYTES(1))', "INSERT INTO t VALUES (X'40')"],
    // SYSDATE() becomes NOW() (mysqld --sysdate-is-now): the applier pins NOW() with SET TIMESTAMP, in any time zone.
    ['INSERT INTO t VALUES (SYSDATE())', 'INSERT INTO t VALUES (NOW())'],
    ['INSERT INTO t VALUES (sysdate())', 'INSERT INTO t VALUES (NOW())'],
    ['INSERT INTO t VALUES (SYSDATE(0))', 'INSERT INTO t VALUES (NOW(0))'],
    ['INSERT INTO t VALUES (SYSDATE(3))', 'INSERT INTO t VALUES (NOW(3))'],
    ['INSERT INTO t VALUES (SYSDATE(6))', 'INSERT INTO t VALUES (NOW(6))'],
    ['INSERT INTO t VALUES (SYSDATE() - INTERVAL 1 DAY)', 'INSERT INTO t VALUES (NOW() - INTERVAL 1 DAY)'],
    ['UPDATE t SET ts = SYSDATE()', 'UPDATE t SET ts = NOW()'],
    ['DELETE FROM t WHERE ts < SYSDATE(3)', 'DELETE FROM t WHERE ts < NOW(3)'],
    ['INSERT INTO t SELECT a, SYSDATE() FROM u ORDER BY a', 'INSERT INTO t SELECT a, NOW() FROM u ORDER BY a'],
    ['INSERT INTO t VALUES (RAND()), (RAND())', `INSERT INTO t VALUES (${QUARTER}), (${QUARTER})`],
    [
      'INSERT INTO t VALUES (1, UUID()), (2, UUID()), (3, UUID())',
      `INSERT INTO t VALUES (1, ${UUID_Q}), (2, ${UUID_Q}), (3, ${UUID_Q})`,
    ],
    ['INSERT INTO t VALUES ROW(RAND()), ROW(RAND())', `INSERT INTO t VALUES ROW(${QUARTER}), ROW(${QUARTER})`],
    ['INSERT INTO t VALUE (RAND())', `INSERT INTO t VALUE (${QUARTER})`],
    [
      'INSERT INTO t VALUES (RAND()) ON DUPLICATE KEY UPDATE a = RAND()',
      `INSERT INTO t VALUES (${QUARTER}) ON DUPLICATE KEY UPDATE a = ${QUARTER}`,
    ],
    [
      'INSERT INTO t VALUES (UUID()), (UUID()) ON DUPLICATE KEY UPDATE n = n + 1',
      `INSERT INTO t VALUES (${UUID_Q}), (${UUID_Q}) ON DUPLICATE KEY UPDATE n = n + 1`,
    ],
    ['INSERT INTO t SELECT UUID(), 1', `INSERT INTO t SELECT ${UUID_Q}, 1`],
    ['INSERT INTO t SELECT RAND() FROM DUAL', `INSERT INTO t SELECT ${QUARTER} FROM DUAL`],
    ['INSERT INTO t (SELECT UUID())', `INSERT INTO t (SELECT ${UUID_Q})`],
    ['INSERT INTO t SELECT RAND()AS r', `INSERT INTO t SELECT ${QUARTER} AS r`],
    ['CREATE TABLE t2 AS SELECT UUID() AS id', `CREATE TABLE t2 AS SELECT ${UUID_Q} AS id`],
    ['CREATE TABLE t2 SELECT RAND() AS r, SYSDATE() AS ts', `CREATE TABLE t2 SELECT ${QUARTER} AS r, NOW() AS ts`],
    ['INSERT INTO t VALUES (/*!50000 RAND() */)', `INSERT INTO t VALUES (/*!50000 ${QUARTER} */)`],
    ["INSERT INTO t VALUES ('RAND()', RAND())", `INSERT INTO t VALUES ('RAND()', ${QUARTER})`],
    ['INSERT INTO t (`uuid`) VALUES (UUID())', `INSERT INTO t (\`uuid\`) VALUES (${UUID_Q})`],
    ['INSERT INTO user (uuid) VALUES (UUID())', `INSERT INTO user (uuid) VALUES (${UUID_Q})`],
    ['INSERT INTO t VALUES (NOW(), RAND())', `INSERT INTO t VALUES (NOW(), ${QUARTER})`],
    ['INSERT INTO t VALUES (RAND())  -- note\n', `INSERT INTO t VALUES (${QUARTER})  -- note\n`],
    ['insert into t values (rand(), uuid(), sysdate())', `insert into t values (${QUARTER}, ${UUID_Q}, NOW())`],
  ])
})

describe('makeDeterministic: mysql, refused', () => {
  expectRefusal('mysql', [
    // Evaluated once per row.
    [
      'UPDATE t SET a = RAND()',
      'RAND() is evaluated once per row in an UPDATE, and one literal would give every row the same value',
    ],
    ['UPDATE t SET a = rand() WHERE id = 1', 'rand() is evaluated once per row in an UPDATE'],
    ['UPDATE t SET a = UUID()', 'UUID() is evaluated once per row in an UPDATE'],
    ['UPDATE t SET a = UUID_SHORT()', 'UUID_SHORT() is evaluated once per row in an UPDATE'],
    ['UPDATE t SET a = SYS_GUID()', 'SYS_GUID() is evaluated once per row in an UPDATE'],
    ['UPDATE t SET a = RANDOM_BYTES(8)', 'RANDOM_BYTES(8) is evaluated once per row in an UPDATE'],
    ['UPDATE t SET a = UUID_V7()', 'UUID_V7() is evaluated once per row'],
    ['UPDATE t SET a = 1 WHERE b < RAND()', 'RAND() is evaluated once per row in an UPDATE'],
    ['UPDATE t SET a = RAND()', 'compute the values in the client and send them as literals'],
    ['DELETE FROM t WHERE a < RAND()', 'RAND() is evaluated once per row in a DELETE'],
    ['DELETE FROM t WHERE a = UUID()', 'UUID() is evaluated once per row in a DELETE'],
    ['UPDATE t JOIN u ON t.id = u.id SET t.a = RAND()', 'RAND() is evaluated once per row in an UPDATE'],
    ['WITH c AS (SELECT 1) UPDATE t SET a = RAND()', 'RAND() is evaluated once per row in an UPDATE'],
    ['INSERT INTO t SELECT RAND() FROM u ORDER BY id', 'RAND() is evaluated once per row in an INSERT … SELECT'],
    ['INSERT INTO t SELECT a, UUID() FROM u ORDER BY a', 'UUID() is evaluated once per row in an INSERT … SELECT'],
    ['REPLACE INTO t SELECT UUID(), a FROM u ORDER BY a', 'UUID() is evaluated once per row in a REPLACE … SELECT'],
    [
      'INSERT INTO t SELECT * FROM u ORDER BY id ON DUPLICATE KEY UPDATE a = RAND()',
      'RAND() is evaluated once per row in an INSERT … SELECT',
    ],
    [
      'CREATE TABLE t2 AS SELECT UUID_SHORT() AS id, a FROM u ORDER BY a',
      'UUID_SHORT() is evaluated once per row in a CREATE TABLE … SELECT',
    ],
    ['INSERT INTO t VALUES ((SELECT RAND()))', 'RAND() is evaluated once per row in a subquery'],
    [
      'INSERT INTO t VALUES ((SELECT a FROM u WHERE b > RAND() ORDER BY a LIMIT 1))',
      'RAND() is evaluated once per row in a subquery',
    ],
    ['INSERT INTO t SET a = (SELECT UUID())', 'UUID() is evaluated once per row in a subquery'],
    [
      'INSERT INTO t SELECT (SELECT RAND() FROM u ORDER BY 1 LIMIT 1)',
      'RAND() is evaluated once per row in a subquery',
    ],
    [
      'INSERT INTO t VALUES (1), (2) ON DUPLICATE KEY UPDATE a = RAND()',
      'RAND() is evaluated once per row in the clauses after a multi-row VALUES list',
    ],
    // Values that differ between servers.
    [
      'INSERT INTO t VALUES (DATABASE())',
      'DATABASE() differs between servers: statement replication would write different values on slaves; use a literal instead',
    ],
    ['INSERT INTO t VALUES (database())', 'database() differs between servers'],
    ['INSERT INTO t VALUES (USER())', 'USER() differs between servers'],
    ['INSERT INTO t VALUES (CURRENT_USER())', 'CURRENT_USER() differs between servers'],
    ['INSERT INTO t VALUES (CURRENT_USER)', 'CURRENT_USER differs between servers'],
    ['INSERT INTO t VALUES (current_user)', 'current_user differs between servers'],
    ['INSERT INTO t VALUES (SESSION_USER())', 'SESSION_USER() differs between servers'],
    ['INSERT INTO t VALUES (SYSTEM_USER())', 'SYSTEM_USER() differs between servers'],
    ['INSERT INTO t VALUES (CURRENT_ROLE())', 'CURRENT_ROLE() differs between servers'],
    ['INSERT INTO t VALUES (CONNECTION_ID())', 'CONNECTION_ID() differs between servers'],
    ['INSERT INTO t VALUES (SCHEMA())', 'SCHEMA() differs between servers'],
    ['INSERT INTO t VALUES (VERSION())', 'VERSION() differs between servers'],
    ['INSERT INTO t VALUES (LAST_INSERT_ID())', 'LAST_INSERT_ID() differs between servers'],
    ['INSERT INTO t VALUES (FOUND_ROWS())', 'FOUND_ROWS() differs between servers'],
    ['INSERT INTO t VALUES (ROW_COUNT())', 'ROW_COUNT() differs between servers'],
    ["INSERT INTO t VALUES (LOAD_FILE('/etc/hostname'))", "LOAD_FILE('/etc/hostname') differs between servers"],
    ["INSERT INTO t VALUES (GET_LOCK('a', 1))", "GET_LOCK('a', 1) differs between servers"],
    ["INSERT INTO t VALUES (RELEASE_LOCK('a'))", "RELEASE_LOCK('a') differs between servers"],
    ["INSERT INTO t VALUES (IS_FREE_LOCK('a'))", "IS_FREE_LOCK('a') differs between servers"],
    ["INSERT INTO t VALUES (IS_USED_LOCK('a'))", "IS_USED_LOCK('a') differs between servers"],
    ['INSERT INTO t VALUES (RELEASE_ALL_LOCKS())', 'RELEASE_ALL_LOCKS() differs between servers'],
    ["INSERT INTO t VALUES (MASTER_POS_WAIT('log', 4))", "MASTER_POS_WAIT('log', 4) differs between servers"],
    ["INSERT INTO t VALUES (SOURCE_POS_WAIT('log', 4))", "SOURCE_POS_WAIT('log', 4) differs between servers"],
    ["INSERT INTO t VALUES (MASTER_GTID_WAIT('0-1-1'))", "MASTER_GTID_WAIT('0-1-1') differs between servers"],
    ['UPDATE t SET owner = USER() WHERE id = 1', 'USER() differs between servers'],
    ['UPDATE t SET n = LAST_INSERT_ID()', 'LAST_INSERT_ID() differs between servers'],
    ['DELETE FROM t WHERE db = DATABASE()', 'DATABASE() differs between servers'],
    ['INSERT INTO t SELECT CONNECTION_ID()', 'CONNECTION_ID() differs between servers'],
    ['INSERT INTO t VALUES (CONCAT(USER(), RAND()))', 'USER() differs between servers'],
    [
      'INSERT INTO t VALUES (@@hostname)',
      '@@hostname differs between servers: statement replication would write different values on slaves; use a literal instead',
    ],
    ['INSERT INTO t VALUES (@@server_id)', '@@server_id differs between servers'],
    ['INSERT INTO t VALUES (@@global.read_only)', '@@global.read_only differs between servers'],
    ['UPDATE t SET a = @@session.sql_mode', '@@session.sql_mode differs between servers'],
    [
      'INSERT INTO t VALUES (@x)',
      '@x is a user variable, which is not replicated: slaves would read a different value; use a literal instead',
    ],
    ["INSERT INTO t VALUES (@'my var')", "@'my var' is a user variable"],
    ['UPDATE t SET a = (@n := @n + 1)', '@n is a user variable'],
    ['DELETE FROM t WHERE id = @id', '@id is a user variable'],
    // LIMIT without ORDER BY.
    [
      'UPDATE t SET a = 1 LIMIT 1',
      'UPDATE with LIMIT but no ORDER BY: which rows it changes is not defined, so slaves could change different rows; add ORDER BY on a unique key',
    ],
    ['update t set a = 1 where b = 2 limit 10', 'UPDATE with LIMIT but no ORDER BY'],
    [
      'DELETE FROM t LIMIT 1',
      'DELETE with LIMIT but no ORDER BY: which rows it deletes is not defined, so slaves could delete different rows',
    ],
    ['DELETE FROM t WHERE a = 1 LIMIT 10', 'DELETE with LIMIT but no ORDER BY'],
    [
      'DELETE FROM t WHERE id IN (SELECT id FROM (SELECT id FROM u ORDER BY id) x) LIMIT 2',
      'DELETE with LIMIT but no ORDER BY',
    ],
    [
      'UPDATE t SET a = (SELECT b FROM u LIMIT 1)',
      'a subquery with LIMIT but no ORDER BY: which rows it returns is not defined, so slaves could get different rows',
    ],
    [
      'UPDATE t SET a = 1 WHERE id IN (SELECT id FROM (SELECT id FROM u LIMIT 1) x)',
      'a subquery with LIMIT but no ORDER BY',
    ],
    ['UPDATE t SET a = (SELECT GROUP_CONCAT(b LIMIT 2) FROM u)', 'a subquery with LIMIT but no ORDER BY'],
    ['INSERT INTO t VALUES ((SELECT a FROM u LIMIT 1))', 'a subquery with LIMIT but no ORDER BY'],
    [
      'WITH c AS (SELECT id FROM u LIMIT 3) DELETE FROM t WHERE id IN (SELECT id FROM c)',
      'a subquery with LIMIT but no ORDER BY',
    ],
    [
      'INSERT INTO t SELECT * FROM u LIMIT 5',
      'INSERT … SELECT with LIMIT but no ORDER BY: which rows it copies is not defined, so slaves could copy different rows',
    ],
    ['INSERT INTO t SELECT * FROM u FETCH FIRST 3 ROWS ONLY', 'INSERT … SELECT with LIMIT but no ORDER BY'],
    ['REPLACE INTO t SELECT * FROM u LIMIT 5', 'REPLACE … SELECT with LIMIT but no ORDER BY'],
    [
      'INSERT INTO t SELECT * FROM u WHERE a IN (SELECT a FROM v LIMIT 2) ORDER BY id',
      'a subquery with LIMIT but no ORDER BY',
    ],
    ['CREATE TABLE t2 AS SELECT * FROM u LIMIT 3', 'CREATE TABLE … SELECT with LIMIT but no ORDER BY'],
    // INSERT … SELECT without ORDER BY.
    [
      'INSERT INTO t SELECT * FROM u',
      'INSERT … SELECT without ORDER BY: the order it inserts rows in is not defined, so generated keys (AUTO_INCREMENT, rowid) and which duplicates are kept could differ on slaves; add ORDER BY on a unique key',
    ],
    ['INSERT INTO t (a) SELECT a FROM u WHERE b = 1', 'INSERT … SELECT without ORDER BY'],
    ['INSERT IGNORE INTO t SELECT * FROM u', 'INSERT … SELECT without ORDER BY'],
    ['INSERT INTO t SELECT a FROM u UNION SELECT b FROM v', 'INSERT … SELECT without ORDER BY'],
    ['INSERT INTO t SELECT 1 UNION ALL SELECT 2', 'INSERT … SELECT without ORDER BY'],
    ['INSERT INTO t (SELECT a FROM u) UNION (SELECT b FROM v ORDER BY b)', 'INSERT … SELECT without ORDER BY'],
    ['INSERT INTO t (SELECT a FROM u)', 'INSERT … SELECT without ORDER BY'],
    ['INSERT INTO t SELECT * FROM u WHERE id IN (SELECT id FROM v ORDER BY id)', 'INSERT … SELECT without ORDER BY'],
    ['INSERT INTO t WITH c AS (SELECT a FROM u ORDER BY a) SELECT a FROM c', 'INSERT … SELECT without ORDER BY'],
    ['INSERT INTO t TABLE u', 'INSERT … SELECT without ORDER BY'],
    ['INSERT INTO t SELECT * FROM u ON DUPLICATE KEY UPDATE a = u.a', 'INSERT … SELECT without ORDER BY'],
    ['REPLACE INTO t SELECT * FROM u', 'REPLACE … SELECT without ORDER BY'],
    ['CREATE TABLE t2 SELECT * FROM u', 'CREATE TABLE … SELECT without ORDER BY'],
    ['CREATE TABLE t2 AS SELECT * FROM u', 'CREATE TABLE … SELECT without ORDER BY'],
    ['CREATE TABLE t2 (id INT) AS SELECT id FROM u', 'CREATE TABLE … SELECT without ORDER BY'],
    ['CREATE TABLE t2 AS (SELECT * FROM u)', 'CREATE TABLE … SELECT without ORDER BY'],
    ['CREATE OR REPLACE TABLE t2 AS SELECT * FROM u', 'CREATE TABLE … SELECT without ORDER BY'],
    // Column definitions, evaluated on each server when a row is written.
    [
      'CREATE TABLE t (id CHAR(36) DEFAULT (UUID()))',
      'UUID() in a column definition is evaluated on each server whenever a row is written, so slaves would store different values',
    ],
    ['CREATE TABLE t (r DOUBLE DEFAULT (RAND()))', 'RAND() in a column definition'],
    ['CREATE TABLE t (b BINARY(16) DEFAULT (UUID_TO_BIN(UUID())))', 'UUID() in a column definition'],
    ['CREATE TABLE t (ts DATETIME DEFAULT (SYSDATE()))', 'SYSDATE() in a column definition'],
    ['ALTER TABLE t ADD COLUMN r DOUBLE DEFAULT (RAND())', 'RAND() in a column definition'],
    ['ALTER TABLE t ALTER COLUMN c SET DEFAULT (UUID())', 'UUID() in a column definition'],
    ['CREATE TABLE t (who VARCHAR(80) DEFAULT (CURRENT_USER()))', 'CURRENT_USER() differs between servers'],
    ['CREATE TABLE t (n INT DEFAULT (@@server_id))', '@@server_id differs between servers'],
    // Triggers, evaluated on each server when they fire.
    [
      'CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.id = UUID()',
      'UUID() in a trigger is evaluated on each server whenever the trigger fires, so slaves would store different values',
    ],
    ['CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.r = RAND()', 'RAND() in a trigger'],
    ['CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.ts = SYSDATE()', 'SYSDATE() in a trigger'],
    [
      'CREATE DEFINER = CURRENT_USER TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.who = USER()',
      'USER() differs between servers',
    ],
    ['CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW BEGIN SET @n = @n + 1; END', '@n is a user variable'],
    [
      'CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW DELETE FROM log LIMIT 1',
      'a statement in a trigger with LIMIT but no ORDER BY',
    ],
    [
      'CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW BEGIN DELETE FROM a ORDER BY id LIMIT 1; DELETE FROM b LIMIT 1; END',
      'a statement in a trigger with LIMIT but no ORDER BY',
    ],
    // Calls that cannot be written as literals.
    ['INSERT INTO t VALUES (SYSDATE(7))', 'SYSDATE(7) needs a precision from 0 to 6'],
    ['INSERT INTO t VALUES (SYSDATE(a))', 'SYSDATE(a) needs a precision from 0 to 6'],
    ['INSERT INTO t VALUES (RANDOM_BYTES(0))', 'RANDOM_BYTES(0) needs a length from 1 to 1024'],
    ['INSERT INTO t VALUES (RANDOM_BYTES(2000))', 'RANDOM_BYTES(2000) needs a length from 1 to 1024'],
    [
      'INSERT INTO t VALUES (RANDOM_BYTES(LENGTH(a)))',
      'RANDOM_BYTES(LENGTH(a)) has a length that is not a number literal',
    ],
    ['INSERT INTO t VALUES (RANDOM_BYTES(1.5))', 'RANDOM_BYTES(1.5) has a length that is not a number literal'],
  ])

  test('refusals are DdbErrors whose message begins "not safe to replicate: "', () => {
    expect(refusal('mysql', 'UPDATE t SET a = RAND()')).toStartWith('not safe to replicate: RAND()')
  })
})

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

describe('makeDeterministic: literals', () => {
  test.each<[number, string]>([
    [0.7361, '0.73609999999999998e0'],
    [0.5, '0.50000000000000000e0'],
    [0, '0.0000000000000000e0'],
    // biome-ignore lint/correctness/noPrecisionLoss: the digits past a double's precision are the point
    [0.123456789012345678, '0.12345678901234568e0'],
    [1e-7, '9.9999999999999995e-8'],
    [0.999999999999, '0.99999999999900002e0'],
  ])('RAND() with random() = %p is %s', (r, literal) => {
    expect(
      makeDeterministic(
        'INSERT INTO t VALUES (RAND())',
        context('mysql', () => r),
      ).sql,
    ).toBe(`INSERT INTO t VALUES (${literal})`)
  })

  test('RAND() reads back as the double random() gave', () => {
    const r = sequence(7)()
    const literal = /VALUES \((.*)\)/.exec(
      makeDeterministic(
        'INSERT INTO t VALUES (RAND())',
        context('mysql', () => r),
      ).sql,
    )?.[1]
    expect(Number(literal)).toBe(r)
  })

  test('RANDOM() is a 64-bit integer; a negative one is parenthesised so that `1 -RANDOM()` does not become a comment', () => {
    const draws = [0.5, 0.25, 0.75] // 0x80000000, 0x40000000, then the sign: negative
    const sql = makeDeterministic(
      'INSERT INTO t VALUES (1 -RANDOM())',
      context('sqlite', () => draws.shift() ?? 0),
    ).sql
    expect(sql).toBe(`INSERT INTO t VALUES (1 -(-${((0x80000000n << 32n) | 0x40000000n) & (2n ** 63n - 1n)}))`)
  })

  test('UUID() is an RFC 4122 version 4 string, UUID_V7() carries the clock, SYS_GUID() has no dashes', () => {
    const ctx = context('mysql', sequence(3))
    const sql = makeDeterministic('INSERT INTO t VALUES (UUID(), UUID_V7(), SYS_GUID(), UUID_SHORT())', ctx).sql
    const [, v4, v7, guid, short] = /VALUES \('(.*)', '(.*)', '(.*)', (\d+)\)/.exec(sql) ?? []
    expect(v4).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(v7).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(parseInt(v7.replace('-', '').slice(0, 12), 16)).toBe(NOW)
    expect(guid).toMatch(/^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/)
    expect(BigInt(short)).toBeLessThan(2n ** 63n)
  })

  test('each occurrence gets its own literal, as each row got its own value on the master', () => {
    const sql = makeDeterministic(
      'INSERT INTO t VALUES (UUID(), RAND()), (UUID(), RAND()), (UUID(), RAND())',
      context('mysql', sequence()),
    ).sql
    const uuids = sql.match(/'[0-9a-f-]{36}'/g) ?? []
    const doubles = sql.match(/\d\.\d+e-?\d+/g) ?? []
    expect(uuids).toHaveLength(3)
    expect(new Set(uuids).size).toBe(3)
    expect(doubles).toHaveLength(3)
    expect(new Set(doubles).size).toBe(3)
  })

  test('the same context gives the same text: the rewrite is a function of the statement, clock and randomness', () => {
    const sql = 'INSERT INTO t VALUES (UUID(), RAND(), SYSDATE(6))'
    expect(makeDeterministic(sql, context('mysql', sequence(9))).sql).toBe(
      makeDeterministic(sql, context('mysql', sequence(9))).sql,
    )
  })

  test.each<[string, string]>([
    ['CURRENT_TIMESTAMP', "'2024-02-29 00:00:05'"],
    ['CURRENT_DATE', "'2024-02-29'"],
    ['CURRENT_TIME', "'00:00:05'"],
    ["datetime('now')", "datetime('2024-02-29 00:00:05.007')"],
  ])('sqlite %s uses UTC, with zero padding', (expr, literal) => {
    const ctx = { dialect: 'sqlite' as const, now: Date.parse('2024-02-29T00:00:05.007Z'), random: () => 0 }
    expect(makeDeterministic(`INSERT INTO t VALUES (${expr})`, ctx).sql).toBe(`INSERT INTO t VALUES (${literal})`)
  })

  test('a statement with nothing to rewrite is returned as the same text', () => {
    const sql = 'INSERT INTO t (a, b) VALUES (1, 2)'
    const prepared = makeDeterministic(
      sql,
      context('mysql', () => {
        throw new Error('random() must not be called')
      }),
    )
    expect(prepared.sql).toBe(sql)
    expect(prepared.rewritten).toBe(false)
  })

  test('a lexer error propagates as SQL_SYNTAX', () => {
    expect(() => makeDeterministic("INSERT INTO t VALUES ('x)", context('mysql'))).toThrow(
      expect.objectContaining({ code: 'SQL_SYNTAX' }),
    )
  })
})

describe("makeDeterministic: rewritten SQLite statements run and store the master's values", () => {
  /** Rewrites `sql` for SQLite with the test clock, runs it on a fresh table t, and returns t's one row. */
  function run(columns: string, sql: string, random: () => number = sequence()): Record<string, unknown> {
    using db = new Database(':memory:')
    db.run(`CREATE TABLE t (${columns})`)
    db.run(makeDeterministic(sql, context('sqlite', random)).sql)
    return db.query('SELECT * FROM t').get() as Record<string, unknown>
  }

  test('the clock', () => {
    expect(
      run(
        'a, b, c, d, e, f, g, h',
        "INSERT INTO t VALUES (CURRENT_TIMESTAMP, CURRENT_DATE, CURRENT_TIME, datetime('now', '+1 day'), strftime('%s'), unixepoch(), datetime('now', 'subsec'), date())",
      ),
    ).toEqual({
      a: '2026-11-22 10:00:00',
      b: '2026-11-22',
      c: '10:00:00',
      d: '2026-11-23 10:00:00',
      e: String(Math.floor(NOW / 1000)),
      f: Math.floor(NOW / 1000),
      g: '2026-11-22 10:00:00.123',
      h: '2026-11-22',
    })
  })

  test('julianday() keeps the milliseconds', () => {
    const { a } = run('a', 'INSERT INTO t VALUES (julianday())')
    expect(a).toBeCloseTo(NOW / 86_400_000 + 2440587.5, 8)
  })

  test('random() and randomblob()', () => {
    const row = run('a, b, c', 'INSERT INTO t VALUES (random(), randomblob(5), typeof(randomblob(5)))')
    expect(typeof row.a === 'number' || typeof row.a === 'bigint').toBe(true)
    expect((row.b as Uint8Array).length).toBe(5)
    expect(row.c).toBe('blob')
  })

  test('a negative random() after a minus sign', () => {
    const draws = [0, 0.5, 0.9] // magnitude 0x80000000, negative
    const { a } = run('a', 'INSERT INTO t VALUES (1 -random())', () => draws.shift() ?? 0)
    expect(a).toBe(1 + 0x80000000)
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
