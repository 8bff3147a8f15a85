import { Database } from 'bun:sqlite'
import { describe, expect, test } from 'bun:test'

import { DdbError, NotMasterError, StoreError, UsageError } from '../../errors.ts'
import { COLUMN_TYPE } from '../../mysql-protocol.ts'
import { runOn, StatementCache } from '../../store/sqlite-connection.ts'
import { answerLocally, type LocalContext } from './local.ts'
import { columnText, fitsType, inferColumn, resultColumn, textValue, toMysqlError } from './results.ts'

describe('toMysqlError', () => {
  test.each([
    ['a slave refusing a write', new NotMasterError('10.0.0.1:8080'), 1290, 'HY000'],
    ['a MySQL store errno', new StoreError("Duplicate entry '1'", { storeCode: 1062 }), 1062, '23000'],
    ['an unknown MySQL errno', new StoreError('odd', { storeCode: 4321 }), 4321, 'HY000'],
    ['a SQLite error without a MySQL counterpart', new StoreError('busy', { storeCode: 'SQLITE_BUSY' }), 1105, 'HY000'],
    ['an unsafe statement', new DdbError('UNSAFE_STATEMENT', 'UUID() is not deterministic'), 1235, '42000'],
    ['an unsupported statement', new DdbError('UNSUPPORTED', 'LOCK TABLES'), 1235, '42000'],
    [
      'a slave refusing DDL it would not forward',
      new DdbError('NOT_MASTER', 'DDL refused: send DDL to the master at h:1'),
      1290,
      'HY000',
    ],
    ['a statement the lexer cannot read', new DdbError('SQL_SYNTAX', 'unterminated string'), 1064, '42000'],
    ['an empty query', new UsageError('no statement given'), 1065, '42000'],
    ['anything else', new Error('boom'), 1105, 'HY000'],
  ])('%s', (_name, err, errno, sqlState) => {
    expect(toMysqlError(err)).toMatchObject({ errno, sqlState })
  })

  /** The error a SQLite store raises for `sql`, on tables p (parent), c (child, a row of p's) and u (unique). */
  function sqliteFailure(sql: string): unknown {
    const db = new Database(':memory:')
    db.run('PRAGMA foreign_keys = ON')
    db.run('CREATE TABLE p (id INTEGER PRIMARY KEY)')
    db.run('CREATE TABLE c (id INTEGER PRIMARY KEY, p INT NOT NULL REFERENCES p (id))')
    db.run('INSERT INTO p VALUES (1)')
    db.run('INSERT INTO c VALUES (1, 1)')
    try {
      runOn(new StatementCache(db), sql, [])
    } catch (err) {
      return err
    } finally {
      db.close()
    }
    throw new Error(`${sql} did not fail`)
  }

  test.each([
    ['a unique or primary key violation', 'INSERT INTO p VALUES (1)', 1062, '23000'],
    ['NOT NULL', 'INSERT INTO c VALUES (2, NULL)', 1048, '23000'],
    ['a missing table', 'SELECT * FROM missing', 1146, '42S02'],
    ['a missing column', 'SELECT nope FROM p', 1054, '42S22'],
    ['a table that exists', 'CREATE TABLE p (x)', 1050, '42S01'],
    ['a duplicate column', 'ALTER TABLE p ADD COLUMN id INT', 1060, '42S21'],
    ['a syntax error', 'SELEC 1', 1064, '42000'],
    ['a foreign key, a child row', 'INSERT INTO c VALUES (2, 99)', 1452, '23000'],
    ['a foreign key, a parent row', 'DELETE FROM p WHERE id = 1', 1451, '23000'],
    ['another SQLite error', 'SELECT no_such_function(1)', 1105, 'HY000'],
  ])("the SQLite store's error for %s has MySQL's errno", (_name, sql, errno, sqlState) => {
    expect(toMysqlError(sqliteFailure(sql))).toMatchObject({ errno, sqlState })
  })

  test('the SQL state of a MySQL store error comes from the server when it gave one', () => {
    const cause = Object.assign(new Error('x'), { sqlState: '42S02' })
    expect(toMysqlError(new StoreError('x', { storeCode: 1146, cause })).sqlState).toBe('42S02')
  })

  test('the read-only error names the master', () => {
    expect(toMysqlError(new NotMasterError('10.0.0.1:8080')).message).toBe(
      'The MySQL server is running with the --read-only option so it cannot execute this statement; send writes to the master at 10.0.0.1:8080',
    )
  })
})

describe('inferColumn', () => {
  test.each([
    [[1, null, -3], COLUMN_TYPE.LONGLONG],
    [[1, 2.5], COLUMN_TYPE.DOUBLE],
    [[true, false], COLUMN_TYPE.TINY],
    [[{ $bytes: 'AA==' }, null], COLUMN_TYPE.BLOB],
    [['a', 1], COLUMN_TYPE.VAR_STRING],
    [[null, null], COLUMN_TYPE.VAR_STRING],
    [[], COLUMN_TYPE.VAR_STRING],
  ])('%p → type %p', (values, type) => {
    expect(inferColumn('c', values).type).toBe(type)
  })

  test('values travel as text; bytes as themselves', () => {
    expect(textValue(null)).toBeNull()
    expect(textValue(1.5)!.toString()).toBe('1.5')
    expect(textValue(false)!.toString()).toBe('0')
    expect([...textValue({ $bytes: 'AP8=' })!]).toEqual([0, 255])
  })

  test.each([
    [12.5, 4, '12.5000'],
    [0, 4, '0.0000'],
    [-0.0001, 4, '-0.0001'],
    [12345678.1234, 4, '12345678.1234'],
    [12.5, 0, '13'],
    [7, 2, '7.00'],
  ])('a number %p in a DECIMAL(…, %p) column is written %p, as MySQL writes it', (v, decimals, text) => {
    expect(columnText({ type: COLUMN_TYPE.NEWDECIMAL, decimals }, v)!.toString()).toBe(text)
  })

  test('a DECIMAL that is already text, and numbers of other types, are written as they are', () => {
    expect(columnText({ type: COLUMN_TYPE.NEWDECIMAL, decimals: 4 }, '1.50')!.toString()).toBe('1.50')
    expect(columnText({ type: COLUMN_TYPE.DOUBLE, decimals: 0x1f }, 12.5)!.toString()).toBe('12.5')
  })
})

describe('answerLocally', () => {
  const ctx: LocalContext = {
    connectionId: 9,
    user: 'root',
    db: 'app',
    lastOffset: 41,
    dialect: 'mysql',
    autocommit: true,
    variable: (name) => ({ version_comment: 'ddb statement replication', auto_increment_increment: 1 })[name],
    userVariable: (name) => (name === 'old_mode' ? 'X' : null),
  }

  test.each([
    ['SELECT @@version_comment LIMIT 1', ['@@version_comment'], 'ddb statement replication'],
    ['select @@session.auto_increment_increment AS inc', ['inc'], 1],
    ['SELECT DATABASE()', ['DATABASE()'], 'app'],
    ['SELECT ddb_offset()', ['ddb_offset()'], 41],
    ['SELECT CONNECTION_ID() id', ['id'], 9],
  ])('%s', (sql, columns, value) => {
    const answer = answerLocally(sql, ctx)
    expect(answer).toMatchObject({ kind: 'read', columns })
    if (answer?.kind === 'read') expect(answer.rows[0]![0]).toBe(value)
  })

  test('SELECT @user reads the session value; one never set is NULL', () => {
    expect(answerLocally('SELECT @old_mode, @nothing', ctx)).toMatchObject({ rows: [['X', null]] })
  })

  test.each([
    'SELECT * FROM t',
    'SELECT @@no_such_variable',
    'SELECT @@version, id FROM t',
    'SET sql_mode = ""',
    'SET NAMES utf8mb4',
    'SET SESSION net_write_timeout = 600',
    'SET @x = 1',
    'SHOW TABLES',
    'INSERT INTO t VALUES (1)',
  ])('%s goes to the session', (sql) => expect(answerLocally(sql, ctx)).toBeNull())

  test('on SQLite, a system variable ddb does not know reads as NULL', () => {
    expect(
      answerLocally('SELECT @@no_such_variable AS v, @@version_comment', { ...ctx, dialect: 'sqlite' }),
    ).toMatchObject({ kind: 'read', columns: ['v', '@@version_comment'], rows: [[null, 'ddb statement replication']] })
  })

  test.each<[string, boolean]>([
    ['SET autocommit = 0', false],
    ['set autocommit=OFF', false],
    ['SET SESSION autocommit = 1', true],
  ])('%s sets autocommit for the connection to apply', (sql, on) => {
    expect(answerLocally(sql, ctx)).toEqual({ kind: 'ok', autocommit: on })
  })

  test('a SET of autocommit and more gives the rest to the session', () => {
    expect(answerLocally('SET @@session.autocommit = ON, NAMES utf8mb4', ctx)).toEqual({
      kind: 'ok',
      autocommit: true,
      rest: 'SET NAMES utf8mb4',
    })
  })

  test("SET autocommit to something else is error 1231; @@autocommit reads the connection's setting", () => {
    expect(answerLocally('SET autocommit = 2', ctx)).toMatchObject({ kind: 'error', errno: 1231 })
    expect(answerLocally('SELECT @@autocommit', { ...ctx, autocommit: false })).toMatchObject({
      kind: 'read',
      rows: [[0]],
    })
  })
})

describe('resultColumn', () => {
  const T = COLUMN_TYPE
  const type = (t: number, charset = 63) => ({ type: t, length: 10, decimals: 0, flags: 0, charset })

  test.each([
    ['integers, big ones as strings, fit LONGLONG', T.LONGLONG, [1, '18446744073709551615', null], true],
    ['a fraction does not fit LONGLONG', T.LONGLONG, [1.5], false],
    ['text does not fit LONG', T.LONG, ['abc'], false],
    ['-128 and 255 fit TINY', T.TINY, [-128, 255], true],
    ['256 does not fit TINY', T.TINY, [256], false],
    ['2^64 does not fit LONGLONG', T.LONGLONG, ['18446744073709551616'], false],
    ['numbers and numeric strings fit DOUBLE', T.DOUBLE, [1.5, 2, '3.25'], true],
    ['decimal strings and numbers fit NEWDECIMAL', T.NEWDECIMAL, ['12.34', 5], true],
    ['other text does not fit NEWDECIMAL', T.NEWDECIMAL, ['n/a'], false],
    ['YYYY-MM-DD fits DATE', T.DATE, ['2024-02-29'], true],
    ['a time of day does not fit DATE', T.DATE, ['2024-02-29 10:00:00'], false],
    [
      'dates with or without time and fraction fit DATETIME',
      T.DATETIME,
      ['2024-02-29 13:14:15.123456', '2024-02-29'],
      true,
    ],
    ['other text does not fit TIMESTAMP', T.TIMESTAMP, ['yesterday'], false],
    ['[-]hhh:mm:ss[.ffffff] fits TIME', T.TIME, ['-838:59:59.000000', '01:02:03'], true],
    ['anything fits a binary BLOB', T.BLOB, [{ $bytes: 'AA==' }, 'x', 1], true],
    ['text does not fit GEOMETRY', T.GEOMETRY, ['{"x":1}'], false],
    ['nothing fits an unknown type', 0x42, ['x'], false],
  ])('%s', (_name, t, values, fits) => {
    expect((values as unknown[]).every((v) => fitsType(type(t as number), v))).toBe(fits as boolean)
  })

  test('text types take bytes only under the binary charset', () => {
    expect(fitsType(type(T.VAR_STRING, 45), { $bytes: 'AA==' })).toBe(false)
    expect(fitsType(type(T.VAR_STRING, 63), { $bytes: 'AA==' })).toBe(true)
  })

  test("the store's type when every value fits, else the inferred one", () => {
    const dt = { type: T.DATETIME, length: 26, decimals: 6, flags: 0x80, charset: 63 }
    expect(resultColumn('d', ['2024-02-29 13:14:15.123456', null], dt)).toEqual({ name: 'd', ...dt })
    expect(resultColumn('d', ['2024-02-29', 'not a date'], dt).type).toBe(T.VAR_STRING)
    expect(resultColumn('n', [1, 2], null).type).toBe(T.LONGLONG)
    expect(resultColumn('n', [1, 2]).type).toBe(T.LONGLONG)
  })

  test('doubles are written without a plus in the exponent, as MySQL does', () => {
    expect(textValue(-2.25e300)!.toString()).toBe('-2.25e300')
    expect(textValue(1e-7)!.toString()).toBe('1e-7')
  })
})
