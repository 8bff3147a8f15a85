import { Database } from 'bun:sqlite'
import { describe, expect, test } from 'bun:test'
import { tokenize } from '../lexer.ts'
import { type SqliteContext, toSqlite } from './dialect.ts'

/** Translates `sql` (one statement) and returns the first row's values on `db`. */
function row(sql: string, ctx: Partial<SqliteContext> = {}, db = new Database(':memory:')): unknown[] {
  const [translated] = toSqlite(sql, tokenize(sql), { database: 'app', ...ctx })
  return db.query(translated!).values()[0] as unknown[]
}

describe('clock functions (UTC, the store time zone)', () => {
  test("NOW(), CURDATE(), CURTIME() and their synonyms have MySQL's formats", () => {
    const [now, now3, now6, date, time, utc, local] = row(
      'SELECT NOW(), NOW(3), CURRENT_TIMESTAMP(6), CURDATE(), CURTIME(), UTC_TIMESTAMP(), LOCALTIMESTAMP',
    ) as string[]
    expect(now).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/) // MySQL: 2024-01-02 03:04:05
    expect(now3).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/) // LENGTH(NOW(3)) = 23
    expect(now6).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/) // LENGTH(NOW(6)) = 26
    expect(date).toBe(now!.slice(0, 10))
    expect(time).toMatch(/^\d\d:\d\d:\d\d$/)
    expect([utc, local]).toEqual([now, now])
  })

  test("UNIX_TIMESTAMP, FROM_UNIXTIME, DATEDIFF (MySQL: 1704067200, '1970-01-01 00:00:00', 29)", () => {
    expect(
      row(
        "SELECT UNIX_TIMESTAMP('2024-01-01 00:00:00'), FROM_UNIXTIME(0), DATEDIFF('2024-03-01', '2024-02-01 23:00:00')",
      ),
    ).toEqual([1704067200, '1970-01-01 00:00:00', 29])
    expect(typeof row('SELECT UNIX_TIMESTAMP()')[0]).toBe('number')
  })

  test("DATE_FORMAT with strftime's specifiers (MySQL: '2024/01/02 03:04:05')", () => {
    expect(row("SELECT DATE_FORMAT('2024-01-02 03:04:05', '%Y/%m/%d %H:%i:%s')")).toEqual(['2024/01/02 03:04:05'])
    expect(() => row("SELECT DATE_FORMAT(NOW(), '%M %e')")).toThrow('DATE_FORMAT specifier %M')
  })

  test('the rewritten clock functions are the ones makeDeterministic pins in writes', () => {
    const sql = 'INSERT INTO t VALUES (NOW(), NOW(6), CURDATE())'
    expect(toSqlite(sql, tokenize(sql), { database: null })).toEqual([
      "INSERT INTO t VALUES (CURRENT_TIMESTAMP, substr(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000', 1, 26), CURRENT_DATE)",
    ])
  })
})

describe('string functions', () => {
  test("CONCAT is NULL when any argument is (MySQL: CONCAT('a', NULL) → NULL, CONCAT('a', 1, 'b') → 'a1b')", () => {
    expect(row("SELECT CONCAT('a', NULL), CONCAT('a', 1, 'b'), CONCAT('x'), CONCAT_WS(',', 'a', NULL, 'b')")).toEqual([
      null,
      'a1b',
      'x',
      'a,b',
    ])
  })

  test("LENGTH counts bytes, CHAR_LENGTH characters (MySQL: LENGTH('é') = 2, CHAR_LENGTH('é') = 1)", () => {
    expect(row("SELECT LENGTH('é'), CHAR_LENGTH('é'), CHARACTER_LENGTH('abc'), OCTET_LENGTH('é')")).toEqual([
      2, 1, 3, 2,
    ])
  })

  test("INSTR, LOCATE and POSITION ignore case as MySQL's default collation does (MySQL: 2, 2, 3)", () => {
    expect(row("SELECT INSTR('ABC', 'b'), LOCATE('B', 'abc'), POSITION('c' IN 'ABC'), LOCATE('z', 'abc')")).toEqual([
      2, 2, 3, 0,
    ])
  })

  test("SUBSTRING … FROM … FOR, MID, UCASE, LCASE (MySQL: 'bcd', 'bc', 'AB', 'ab')", () => {
    expect(
      row("SELECT SUBSTRING('abcdef' FROM 2 FOR 3), MID('abcd', 2, 2), UCASE('ab'), LCASE('AB'), SUBSTRING('abc', 2)"),
    ).toEqual(['bcd', 'bc', 'AB', 'ab', 'bc'])
  })

  test('GROUP_CONCAT with ORDER BY, SEPARATOR and several expressions', () => {
    const db = new Database(':memory:')
    db.run("CREATE TABLE t (a TEXT, b INT); INSERT INTO t VALUES ('x', 2), ('y', 1), ('x', 3), (NULL, 4)")
    // MySQL: 'y,x,x'; 'x3|x2|y1'; 'x,y'
    expect(
      row(
        "SELECT GROUP_CONCAT(a ORDER BY b), GROUP_CONCAT(a, b ORDER BY a, b DESC SEPARATOR '|'), GROUP_CONCAT(DISTINCT a ORDER BY a) FROM t",
        {},
        db,
      ),
    ).toEqual(['y,x,x', 'x3|x2|y1', 'x,y'])
  })
})

describe('other functions', () => {
  test("IF, GREATEST, LEAST (MySQL: 'yes', NULL, 5, 'a')", () => {
    expect(
      row("SELECT IF(2 > 1, 'yes', 'no'), GREATEST(1, NULL), GREATEST(3, 5), LEAST('b', 'a'), IFNULL(NULL, 'd')"),
    ).toEqual(['yes', null, 5, 'a', 'd'])
  })

  test("CAST and CONVERT to MySQL's types (MySQL: '2024-01-01', 1, '12', '2024-01-02 03:04:05')", () => {
    expect(
      row(
        "SELECT CAST('2024-01-01' AS DATE), CAST('1.7' AS SIGNED), CAST(12 AS CHAR), CONVERT('2024-01-02 03:04:05', DATETIME), CONVERT('x' USING utf8mb4)",
      ),
    ).toEqual(['2024-01-01', 1, '12', '2024-01-02 03:04:05', 'x'])
  })

  test("JSON_EXTRACT returns JSON, JSON_UNQUOTE the value (MySQL: '\"x\"', 'x')", () => {
    expect(row(`SELECT JSON_EXTRACT('{"a":"x"}', '$.a'), JSON_UNQUOTE(JSON_EXTRACT('{"a":"x"}', '$.a'))`)).toEqual([
      '"x"',
      'x',
    ])
  })

  test('RAND() is in [0, 1); RAND(seed) is refused', () => {
    const [r] = row('SELECT RAND()') as number[]
    expect(r).toBeGreaterThanOrEqual(0)
    expect(r).toBeLessThan(1)
    expect(() => row('SELECT RAND(1)')).toThrow('not supported on a SQLite store: RAND(seed)')
  })

  test('DATABASE() is the selected name, NULL without one', () => {
    expect(row('SELECT DATABASE(), SCHEMA()', { database: 'shop' })).toEqual(['shop', 'shop'])
    expect(row('SELECT DATABASE()', { database: null })).toEqual([null])
  })

  test('LAST_INSERT_ID() reaches the translator only in a body that runs later (the session writes in its own value)', () => {
    expect(() => row('SELECT LAST_INSERT_ID()')).toThrow('LAST_INSERT_ID() in a trigger or a view')
    expect(() => row('SELECT LAST_INSERT_ID(5)')).toThrow('LAST_INSERT_ID(expr)')
  })

  test('names that only look like calls are left alone', () => {
    const sql = 'INSERT INTO now (length) VALUES (1)'
    expect(toSqlite(sql, tokenize(sql), { database: null })).toEqual([sql])
  })
})
