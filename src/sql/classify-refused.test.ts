import { describe, expect, test } from 'bun:test'
import { DdbError } from '../errors.ts'
import { classify } from './classify.ts'

describe('classify: unsupported', () => {
  test.each<[string, string, string]>([
    ["SELECT * FROM t INTO OUTFILE '/tmp/x'", 'SELECT', 'SELECT … INTO OUTFILE writes a file on the server'],
    ["SELECT * INTO OUTFILE '/tmp/x' FROM t", 'SELECT', 'INTO OUTFILE writes a file'],
    ["select a into dumpfile '/tmp/x' from t", 'SELECT', 'SELECT … INTO DUMPFILE writes a file on the server'],
    ['SELECT a INTO @x FROM t', 'SELECT', 'SELECT … INTO sets variables, which are not replicated'],
    ['SELECT a, b INTO @x, @y FROM t', 'SELECT', 'INTO sets variables'],
    ['SELECT a FROM t INTO @x', 'SELECT', 'INTO sets variables'],
    ['SELECT a FROM t WHERE b = 1 FOR UPDATE INTO @x', 'SELECT', 'INTO sets variables'],
    ['(SELECT a FROM t INTO @x)', 'SELECT', 'INTO sets variables'],
    ["WITH c AS (SELECT 1) SELECT * FROM c INTO OUTFILE 'x'", 'SELECT', 'INTO OUTFILE'],
    ["TABLE t INTO OUTFILE '/tmp/x'", 'TABLE', 'TABLE … INTO OUTFILE'],
    ["SELECT a FROM t UNION SELECT b FROM u INTO OUTFILE 'x'", 'SELECT', 'INTO OUTFILE'],
    ["/* c */ SELECT 1 INTO OUTFILE 'x'", 'SELECT', 'INTO OUTFILE'],
    [
      'CREATE TEMPORARY TABLE t (a INT)',
      'CREATE TEMPORARY TABLE',
      'CREATE TEMPORARY TABLE acts on a temporary object, which lives in one session only',
    ],
    ['CREATE TEMPORARY TABLE IF NOT EXISTS t SELECT 1', 'CREATE TEMPORARY TABLE', 'one session'],
    ['create temporary table t (a int)', 'CREATE TEMPORARY TABLE', 'one session'],
    ['CREATE TEMP TABLE t (a)', 'CREATE TEMPORARY TABLE', 'one session'],
    ['CREATE OR REPLACE TEMPORARY TABLE t (a INT)', 'CREATE TEMPORARY TABLE', 'one session'],
    ['CREATE TEMP VIEW v AS SELECT 1', 'CREATE TEMPORARY VIEW', 'one session'],
    ['DROP TEMPORARY TABLE t', 'DROP TEMPORARY TABLE', 'one session'],
    ['DROP TEMPORARY TABLE IF EXISTS t', 'DROP TEMPORARY TABLE', 'one session'],
    [
      "CREATE USER 'bob'@'localhost' IDENTIFIED BY 'pw'",
      'CREATE USER',
      'CREATE USER changes accounts, which are not replicated',
    ],
    ['CREATE USER IF NOT EXISTS bob', 'CREATE USER', 'changes accounts'],
    ["ALTER USER 'bob'@'%' IDENTIFIED BY 'x'", 'ALTER USER', 'changes accounts'],
    ['DROP USER bob', 'DROP USER', 'changes accounts'],
    ['RENAME USER a TO b', 'RENAME USER', 'changes accounts'],
    ['CREATE ROLE r', 'CREATE ROLE', 'changes accounts'],
    ['DROP ROLE r', 'DROP ROLE', 'changes accounts'],
    ["GRANT SELECT ON db.* TO 'bob'@'%'", 'GRANT', 'GRANT changes accounts, which are not replicated'],
    ['grant all on *.* to bob', 'GRANT', 'changes accounts'],
    ['REVOKE ALL ON *.* FROM bob', 'REVOKE', 'REVOKE changes accounts'],
    ['LOCK INSTANCE FOR BACKUP', 'LOCK INSTANCE', 'LOCK INSTANCE acts on one server only'],
    ["LOAD DATA INFILE '/tmp/x' INTO TABLE t", 'LOAD DATA', 'LOAD DATA reads a file that the slaves do not have'],
    ["LOAD DATA LOCAL INFILE 'x' INTO TABLE t", 'LOAD DATA', 'reads a file'],
    ["LOAD XML INFILE 'x' INTO TABLE t", 'LOAD XML', 'reads a file'],
    ['CALL p(1)', 'CALL', 'CALL runs a stored procedure'],
    ['call p', 'CALL', 'stored procedure'],
    ['DO SLEEP(1)', 'DO', 'side effects'],
    ['HANDLER t OPEN', 'HANDLER', 'cursor'],
    ['FLUSH TABLES', 'FLUSH TABLES', 'one server'],
    ['FLUSH PRIVILEGES', 'FLUSH', 'one server'],
    ['KILL 42', 'KILL', 'connections'],
    ['KILL QUERY 42', 'KILL', 'connections'],
    ["INSTALL PLUGIN x SONAME 'x.so'", 'INSTALL', 'plugins'],
    ['UNINSTALL PLUGIN x', 'UNINSTALL', 'plugins'],
    ["INSTALL COMPONENT 'file://x'", 'INSTALL', 'components'],
    ['CREATE PROCEDURE p() BEGIN SELECT 1; END', 'CREATE PROCEDURE', 'CREATE PROCEDURE defines stored code'],
    ['CREATE DEFINER=`root`@`%` PROCEDURE p() SELECT 1', 'CREATE PROCEDURE', 'stored code'],
    ['DROP PROCEDURE IF EXISTS p', 'DROP PROCEDURE', 'stored code'],
    ["ALTER PROCEDURE p COMMENT 'x'", 'ALTER PROCEDURE', 'stored code'],
    ['CREATE FUNCTION f() RETURNS INT RETURN 1', 'CREATE FUNCTION', 'stored code'],
    ["CREATE AGGREGATE FUNCTION f RETURNS STRING SONAME 'x.so'", 'CREATE FUNCTION', 'stored code'],
    ['DROP FUNCTION f', 'DROP FUNCTION', 'stored code'],
    ['CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM t', 'CREATE EVENT', 'schedules stored code'],
    ['ALTER EVENT e DISABLE', 'ALTER EVENT', 'schedules stored code'],
    ['DROP EVENT e', 'DROP EVENT', 'schedules stored code'],
    ["CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'x')", 'CREATE SERVER', 'another server'],
    ['DROP SERVER s', 'DROP SERVER', 'another server'],
    ["PREPARE s FROM 'SELECT 1'", 'PREPARE', 'prepared statement'],
    ['EXECUTE s USING @a', 'EXECUTE', 'prepared statement'],
    ['DEALLOCATE PREPARE s', 'DEALLOCATE', 'prepared statement'],
    ['DROP PREPARE s', 'DROP PREPARE', 'prepared statement'],
    ["XA START 'x'", 'XA', 'distributed transaction'],
    ["XA COMMIT 'x'", 'XA', 'distributed transaction'],
    ['ANALYZE TABLE t', 'ANALYZE TABLE', 'maintains tables'],
    ['OPTIMIZE TABLE t', 'OPTIMIZE TABLE', 'maintains tables'],
    ['REPAIR TABLE t', 'REPAIR TABLE', 'maintains tables'],
    ['CHECK TABLE t', 'CHECK TABLE', 'maintains tables'],
    ['ANALYZE', 'ANALYZE', 'maintains tables'],
    ['SHUTDOWN', 'SHUTDOWN', 'one server'],
    ["ATTACH DATABASE 'x.db' AS x", 'ATTACH', 'database file'],
    ["ATTACH 'x.db' AS x", 'ATTACH', 'database file'],
    ['DETACH DATABASE x', 'DETACH', 'database file'],
    ['VACUUM', 'VACUUM', 'database file'],
    ["VACUUM INTO 'x.db'", 'VACUUM', 'database file'],
    ['REINDEX', 'REINDEX', 'indexes'],
    ['REINDEX t', 'REINDEX', 'indexes'],
    ['PRAGMA foreign_keys = ON', 'PRAGMA', 'PRAGMA … = … changes a setting on one server only'],
    ['PRAGMA main.journal_mode=WAL', 'PRAGMA', 'changes a setting'],
    [
      'SET GLOBAL max_connections = 10',
      'SET GLOBAL',
      'SET GLOBAL changes server-wide settings, which are not replicated',
    ],
    ['set global max_connections = 10', 'SET GLOBAL', 'server-wide'],
    ['SET @@global.max_connections = 10', 'SET GLOBAL', 'server-wide'],
    ['SET @@GLOBAL.max_connections = 10', 'SET GLOBAL', 'server-wide'],
    ['SET PERSIST max_connections = 10', 'SET PERSIST', 'server-wide'],
    ['SET PERSIST_ONLY x = 1', 'SET PERSIST_ONLY', 'server-wide'],
    ['SET @@persist.x = 1', 'SET PERSIST', 'server-wide'],
    ['SET @a = 1, GLOBAL max_connections = 10', 'SET GLOBAL', 'server-wide'],
    ['SET SESSION a = 1, @@global.b = 2', 'SET GLOBAL', 'server-wide'],
    ['SET GLOBAL TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'SET GLOBAL', 'server-wide'],
    ['/*!40101 SET GLOBAL x = 1 */', 'SET GLOBAL', 'server-wide'],
    ["SET PASSWORD = 'x'", 'SET PASSWORD', 'changes accounts'],
    ["SET PASSWORD FOR bob = 'x'", 'SET PASSWORD', 'changes accounts'],
    ['SET ROLE r', 'SET ROLE', 'accounts'],
    ['SET ROLE ALL', 'SET ROLE', 'accounts'],
    ['SET DEFAULT ROLE r TO bob', 'SET DEFAULT ROLE', 'changes accounts'],
    ['SET STATEMENT max_statement_time = 1 FOR UPDATE t SET a = 1', 'SET STATEMENT', 'wraps another statement'],
    ['BEGIN NOT ATOMIC INSERT INTO t VALUES (1); END', 'BEGIN NOT ATOMIC', 'compound statement'],
    ['EXPLAIN ANALYZE UPDATE t SET a = 1', 'EXPLAIN ANALYZE', 'runs the statement'],
    ['EXPLAIN ANALYZE FORMAT=TREE DELETE FROM t', 'EXPLAIN ANALYZE', 'runs the statement'],
    ['DESCRIBE ANALYZE DELETE FROM t', 'DESCRIBE ANALYZE', 'runs the statement'],
    ['SELECT 1; DELETE FROM t', 'SELECT', 'SELECT is followed by more statements; send one statement at a time'],
    ['SET @x = 1; DELETE FROM t', 'SET', 'followed by more statements'],
    ['BEGIN; INSERT INTO t VALUES (1); COMMIT', 'BEGIN', 'followed by more statements'],
    ['USE d; DROP TABLE t', 'USE', 'followed by more statements'],
    ['INSERT INTO t VALUES (1); SELECT 1', 'INSERT', 'followed by more statements'],
    ['SELECT 1; INSERT INTO t VALUES (1)', 'SELECT', 'SELECT is followed by more statements'],
  ])('%j', (sql, keyword, reason) => {
    const result = classify(sql)
    expect(result.kind).toBe('unsupported')
    expect(result.keyword).toBe(keyword)
    expect(result.reason).toStartWith('not supported by statement replication: ')
    expect(result.reason).toContain(reason)
  })

  test('gives the reason as a full sentence fragment', () => {
    expect(classify("GRANT SELECT ON *.* TO 'bob'@'%'")).toEqual({
      kind: 'unsupported',
      keyword: 'GRANT',
      reason: 'not supported by statement replication: GRANT changes accounts, which are not replicated',
    })
  })
})

describe('classify: unrecognised and empty', () => {
  test.each<[string, string, string]>([
    ['', '', 'empty statement'],
    ['   \n ', '', 'empty statement'],
    [';', '', 'empty statement'],
    ['-- just a comment', '', 'empty statement'],
    ['/* only */', '', 'empty statement'],
    ['# a\n/* b */ -- c', '', 'empty statement'],
    ['FOO BAR', 'FOO', 'not a statement ddb recognises: FOO'],
    ['foo', 'FOO', 'not a statement ddb recognises: FOO'],
    ['START SLAVE', 'START', 'not a statement ddb recognises: START'],
    ["CHANGE MASTER TO MASTER_HOST = 'x'", 'CHANGE', 'not a statement ddb recognises: CHANGE'],
    ['RESET MASTER', 'RESET', 'not a statement ddb recognises: RESET'],
    ["PURGE BINARY LOGS TO 'x'", 'PURGE', 'not a statement ddb recognises: PURGE'],
    ['CHECKSUM TABLE t', 'CHECKSUM', 'not a statement ddb recognises: CHECKSUM'],
    ['DELIMITER //', 'DELIMITER', 'not a statement ddb recognises: DELIMITER'],
    ["SIGNAL SQLSTATE '45000'", 'SIGNAL', 'not a statement ddb recognises: SIGNAL'],
    ["CREATE TABLESPACE ts ADD DATAFILE 'x'", 'CREATE TABLESPACE', 'not a statement ddb recognises: CREATE TABLESPACE'],
    ['ALTER INSTANCE ROTATE INNODB MASTER KEY', 'ALTER INSTANCE', 'not a statement ddb recognises: ALTER INSTANCE'],
    ['CREATE', 'CREATE', 'not a statement ddb recognises: CREATE'],
    ['DROP', 'DROP', 'not a statement ddb recognises: DROP'],
    ['CREATE `t` (a INT)', 'CREATE', 'not a statement ddb recognises: CREATE'],
    ['USE', 'USE', 'not a statement ddb recognises: USE'],
    ['WITH c AS (SELECT 1)', 'WITH', 'not a statement ddb recognises: WITH'],
    ['(INSERT INTO t VALUES (1))', '(', 'not a statement ddb recognises: ('],
    ["'SELECT 1'", "'SELECT 1'", "not a statement ddb recognises: 'SELECT 1'"],
    ['`select` 1', '`select`', 'not a statement ddb recognises: `select`'],
    ['42', '42', 'not a statement ddb recognises: 42'],
    ['@x := 1', '@x', 'not a statement ddb recognises: @x'],
    ['* FROM t', '*', 'not a statement ddb recognises: *'],
    ['lbl: BEGIN NOT ATOMIC SELECT 1; END', 'LBL', 'not a statement ddb recognises: LBL'],
  ])('%j', (sql, keyword, reason) => {
    expect(classify(sql)).toEqual({ kind: 'unsupported', keyword, reason })
  })
})

describe('classify: syntax errors', () => {
  test.each<[string, string]>([
    ["SELECT 'abc", 'unterminated string starting at position 7'],
    ["INSERT INTO t VALUES ('x)", 'unterminated string starting at position 22'],
    ['SELECT `a', 'unterminated quoted identifier starting at position 7'],
    ['/* x', 'unterminated comment starting at position 0'],
    ['/*!50001 SELECT 1', 'unterminated comment starting at position 0'],
    ['SELECT "a\\"', 'unterminated string starting at position 7'],
  ])('%j throws', (sql, message) => {
    let error: unknown
    try {
      classify(sql)
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(DdbError)
    expect(error).toMatchObject({ code: 'SQL_SYNTAX', message })
  })
})
