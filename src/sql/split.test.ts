import { describe, expect, test } from 'bun:test'
import { DdbError } from '../errors.ts'
import { splitLexed, splitStatements } from './split.ts'

describe('splitStatements', () => {
  test.each<[string, string[]]>([
    ['SELECT 1', ['SELECT 1']],
    ['SELECT 1;', ['SELECT 1']],
    ['SELECT 1; SELECT 2', ['SELECT 1', 'SELECT 2']],
    ['SELECT 1;SELECT 2;', ['SELECT 1', 'SELECT 2']],
    ['  SELECT 1 ;  \n SELECT 2 ;  ', ['SELECT 1', 'SELECT 2']],
    ['SELECT 1;\r\nSELECT 2;\r\n', ['SELECT 1', 'SELECT 2']],
    ['SELECT\n  a,\n  b\nFROM t;', ['SELECT\n  a,\n  b\nFROM t']],
    [
      'INSERT INTO t VALUES (1); UPDATE t SET a = 2; DELETE FROM t',
      ['INSERT INTO t VALUES (1)', 'UPDATE t SET a = 2', 'DELETE FROM t'],
    ],

    // Empty statements, including ones that are only comments, are dropped.
    ['', []],
    ['   \n\t', []],
    [';', []],
    [';;;', []],
    ['; ; SELECT 1 ;; ;', ['SELECT 1']],
    ['-- only a comment', []],
    ['/* only */ ;', []],
    ['# one\n-- two\n/* three */', []],
    ['SELECT 1; -- trailing note', ['SELECT 1']],
    ['SELECT 1; /* trailing */ ;', ['SELECT 1']],

    // Comments stay in the statement they are in.
    ['-- lead\nSELECT 1', ['-- lead\nSELECT 1']],
    ['SELECT 1; -- note\nSELECT 2', ['SELECT 1', '-- note\nSELECT 2']],
    ['SELECT /* c */ 1; SELECT 2', ['SELECT /* c */ 1', 'SELECT 2']],
    ['SELECT 1; SELECT 2 -- tail', ['SELECT 1', 'SELECT 2 -- tail']],
    ['/*!40101 SET NAMES utf8 */; SELECT 1', ['/*!40101 SET NAMES utf8 */', 'SELECT 1']],
    ['/*!40101 SET @a = 1 */;\n/*!40101 SET @b = 2 */;', ['/*!40101 SET @a = 1 */', '/*!40101 SET @b = 2 */']],

    // A ; inside a string, identifier or comment does not split.
    ["SELECT ';'", ["SELECT ';'"]],
    ["SELECT ';'; SELECT 2", ["SELECT ';'", 'SELECT 2']],
    ['SELECT ";"; SELECT 2', ['SELECT ";"', 'SELECT 2']],
    ["SELECT 'a\\';b'; SELECT 2", ["SELECT 'a\\';b'", 'SELECT 2']],
    ["SELECT 'it''s; fine'; SELECT 2", ["SELECT 'it''s; fine'", 'SELECT 2']],
    ["SELECT '\\\\'; SELECT 2", ["SELECT '\\\\'", 'SELECT 2']],
    ['SELECT "a"";b"; SELECT 2', ['SELECT "a"";b"', 'SELECT 2']],
    ['SELECT `a;b` FROM t; SELECT 2', ['SELECT `a;b` FROM t', 'SELECT 2']],
    ['SELECT `a``;` FROM t; SELECT 2', ['SELECT `a``;` FROM t', 'SELECT 2']],
    ['SELECT 1 -- ; not a split\n, 2', ['SELECT 1 -- ; not a split\n, 2']],
    ['SELECT 1 # ;\n, 2; SELECT 3', ['SELECT 1 # ;\n, 2', 'SELECT 3']],
    ['SELECT /* ; */ 1; SELECT 2', ['SELECT /* ; */ 1', 'SELECT 2']],
    [
      "INSERT INTO t VALUES ('a;b', \"c;d\"); DELETE FROM t WHERE x = ';'",
      ['INSERT INTO t VALUES (\'a;b\', "c;d")', "DELETE FROM t WHERE x = ';'"],
    ],
    ["INSERT INTO t VALUES ('--'); SELECT 2", ["INSERT INTO t VALUES ('--')", 'SELECT 2']],
    ['SELECT 1--1; SELECT 2', ['SELECT 1--1', 'SELECT 2']],

    // Transactions are ordinary statements: BEGIN here opens no body.
    ['BEGIN; INSERT INTO t VALUES (1); COMMIT;', ['BEGIN', 'INSERT INTO t VALUES (1)', 'COMMIT']],
    ['START TRANSACTION; UPDATE t SET a = 1; END', ['START TRANSACTION', 'UPDATE t SET a = 1', 'END']],
    ['CREATE TABLE t (begin INT, end INT); SELECT 1', ['CREATE TABLE t (begin INT, end INT)', 'SELECT 1']],
    ['CREATE TABLE t (begin INT); SELECT 1', ['CREATE TABLE t (begin INT)', 'SELECT 1']],
    ['SELECT begin FROM t; SELECT end FROM t', ['SELECT begin FROM t', 'SELECT end FROM t']],
    ['SELECT CASE WHEN a THEN 1 END FROM t; SELECT 2', ['SELECT CASE WHEN a THEN 1 END FROM t', 'SELECT 2']],
    [
      'CREATE FUNCTION f() RETURNS INT RETURN 1; SELECT f()',
      ['CREATE FUNCTION f() RETURNS INT RETURN 1', 'SELECT f()'],
    ],
    ['END; SELECT 1', ['END', 'SELECT 1']],
  ])('%j', (text, expected) => {
    expect(splitStatements(text)).toEqual(expected)
  })
})

describe('splitStatements: trigger and routine bodies', () => {
  const sqliteTrigger =
    'CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  INSERT INTO log VALUES (new.id);\n  DELETE FROM old WHERE id = new.id;\nEND'
  const sqliteTriggerWithCase =
    "CREATE TRIGGER tr BEFORE UPDATE ON t WHEN new.a > 0 BEGIN SELECT CASE WHEN new.a > 9 THEN RAISE(ABORT, 'big') END; UPDATE u SET n = n + 1; END"
  const mysqlTrigger =
    'CREATE DEFINER=`root`@`%` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN IF NEW.a < 0 THEN SET NEW.a = 0; END IF; INSERT INTO log VALUES (NEW.a); END'
  const procedure =
    'CREATE PROCEDURE p() BEGIN DECLARE i INT DEFAULT 0; WHILE i < 3 DO SET i = i + 1; END WHILE; BEGIN SELECT i; END; CASE i WHEN 3 THEN SELECT 1; ELSE SELECT 2; END CASE; END'
  const event = 'CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; LOOP LEAVE; END LOOP; END'
  const dumped =
    '/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER tr AFTER INSERT ON t FOR EACH ROW BEGIN INSERT INTO log VALUES (1); END */'
  const bodyInParens = 'CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW INSERT INTO u (begin) VALUES (1)'
  const caseInParens = 'CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE u SET n = (CASE WHEN new.a THEN 1 END); END'
  const tempTrigger = 'CREATE TEMP TRIGGER tr AFTER DELETE ON t BEGIN DELETE FROM u; END'

  test.each<[string, string[]]>([
    [sqliteTrigger, [sqliteTrigger]],
    [`${sqliteTrigger};`, [sqliteTrigger]],
    [`${sqliteTrigger}; SELECT 1`, [sqliteTrigger, 'SELECT 1']],
    [`SELECT 1; ${sqliteTrigger}; SELECT 2`, ['SELECT 1', sqliteTrigger, 'SELECT 2']],
    [`${sqliteTriggerWithCase}; SELECT 1`, [sqliteTriggerWithCase, 'SELECT 1']],
    [`${mysqlTrigger}; SELECT 1`, [mysqlTrigger, 'SELECT 1']],
    [`${procedure}; CALL p()`, [procedure, 'CALL p()']],
    [`${event}; SELECT 1`, [event, 'SELECT 1']],
    [`${dumped}; SELECT 1`, [dumped, 'SELECT 1']],
    [`${tempTrigger}; SELECT 1`, [tempTrigger, 'SELECT 1']],
    [`${sqliteTrigger}; ${sqliteTrigger}`, [sqliteTrigger, sqliteTrigger]],
    [`${bodyInParens}; SELECT 2`, [bodyInParens, 'SELECT 2']],
    [`${caseInParens}; SELECT 2`, [caseInParens, 'SELECT 2']],
  ])('%j', (text, expected) => {
    expect(splitStatements(text)).toEqual(expected)
  })
})

describe('splitStatements: syntax errors', () => {
  test.each<[string]>([
    ["SELECT 'abc; SELECT 2"],
    ['SELECT "abc; SELECT 2'],
    ['SELECT `abc; SELECT 2'],
    ['SELECT 1 /* unterminated; SELECT 2'],
    ['SELECT 1; /*!50001 SELECT 2;'],
  ])('%j throws', (text) => {
    expect(() => splitStatements(text)).toThrow(DdbError)
  })
})

describe('splitStatements: size', () => {
  test('splits 60,000 statements', () => {
    const text = "INSERT INTO t VALUES (1, 'a;b'); BEGIN; COMMIT; ".repeat(20_000)
    expect(splitStatements(text)).toHaveLength(60_000)
  })
})

describe('splitLexed', () => {
  test("each statement's tokens point into its own trimmed source", () => {
    const text = "  /* hint */ INSERT INTO t VALUES ('a;b') ;\n  UPDATE t SET v = 1 ; "
    const statements = splitLexed(text)
    expect(statements.map((s) => s.sql)).toEqual(["/* hint */ INSERT INTO t VALUES ('a;b')", 'UPDATE t SET v = 1'])
    for (const { sql, tokens } of statements) {
      for (const t of tokens) expect(sql.slice(t.start, t.end)).toBe(t.text)
    }
    expect(statements[1]!.tokens[0]).toMatchObject({ value: 'UPDATE', start: 0, end: 6 })
  })
})
