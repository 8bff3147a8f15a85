import { Database } from 'bun:sqlite'
import { describe, expect, test } from 'bun:test'
import { tokenize } from '../lexer.ts'
import { toSqlite } from './dialect.ts'

/** Translates `sql` and runs it on a fresh in-memory database; returns the first row's values. */
function row(sql: string): unknown[] {
  const db = new Database(':memory:')
  const [translated] = toSqlite(sql, tokenize(sql), { database: 'app' })
  return db.query(translated!).values()[0] as unknown[]
}

const translate = (sql: string): string[] => toSqlite(sql, tokenize(sql), { database: 'app' })

describe('MySQL string literals', () => {
  test("backslash escapes mean the same characters (MySQL: SELECT 'o\\'neil' → o'neil)", () => {
    expect(row("SELECT 'o\\'neil', 'a\\\\b', 'tab\\there', 'new\\nline', 'x\\Zy', 'per\\%cent', 'it''s'")).toEqual([
      "o'neil",
      'a\\b',
      'tab\there',
      'new\nline',
      'x\x1ay',
      'per\\%cent', // MySQL keeps \% and \_ outside LIKE patterns
      "it's",
    ])
  })

  test("\\0 is a NUL character: MySQL LENGTH('a\\0b') = 3", () => {
    const [sql] = translate("SELECT LENGTH('a\\0b'), HEX('a\\0b')")
    expect(new Database(':memory:').query(sql!).values()[0]).toEqual([3, '610062'])
  })

  test("double-quoted strings are strings, as in MySQL's default sql_mode", () => {
    expect(translate('SELECT "dq", "say ""hi""", "it\'s"')).toEqual([`SELECT 'dq', 'say "hi"', 'it''s'`])
    const db = new Database(':memory:')
    db.run('CREATE TABLE t (name TEXT)')
    db.run("INSERT INTO t VALUES ('bob')")
    // SQLite would read "name" as the column and match every row; MySQL compares with the string 'name'.
    expect(db.query(translate('SELECT count(*) FROM t WHERE name = "name"')[0]!).values()).toEqual([[0]])
  })

  test("N'…' and charset introducers", () => {
    expect(row("SELECT N'nat', _utf8mb4'intro', _latin1 'x'")).toEqual(['nat', 'intro', 'x'])
    expect(
      row("SELECT hex(_binary'bin'), typeof(_binary'bin'), hex(_binary'a\\'b'), _utf8mb4 0x41, _utf8mb4 X'C3A9'"),
    ).toEqual(['62696E', 'blob', '612762', 'A', 'é'])
  })

  test('statements with nothing to translate come back as the same text', () => {
    const sql = "SELECT id, 'plain' FROM t WHERE x = ? -- comment\n AND y = 'it''s'"
    expect(translate(sql)[0]).toBe(sql)
  })

  test('# comments and executable comments are removed or opened', () => {
    expect(row('SELECT 1 # a MySQL comment\n, 2 /*!40101 , 3 */')).toEqual([1, 2, 3])
  })
})

describe('hex and bit literals', () => {
  test("0x41 and X'41' are the bytes 0x41 (MySQL: HEX(0x41) = 41, in string context 'A')", () => {
    expect(row("SELECT hex(0x41), hex(X'41'), hex(0x123), CONCAT(CAST(0x41 AS CHAR), 'b')")).toEqual([
      '41',
      '41',
      '0123',
      'Ab',
    ])
  })

  test("b'0101' and 0b0101 are the number 5 (MySQL: b'0101' + 0 = 5)", () => {
    expect(row("SELECT b'0101' + 0, 0b0101 + 0")).toEqual([5, 5])
  })

  test("DATE '…' is the string (MySQL: DATE '2024-01-02' = '2024-01-02')", () => {
    expect(row("SELECT DATE '2024-01-02', TIMESTAMP '2024-01-02 03:04:05'")).toEqual([
      '2024-01-02',
      '2024-01-02 03:04:05',
    ])
  })
})

describe('operators', () => {
  test("|| is OR and && AND (MySQL: SELECT 1 || 0, 'a' || 'b', 1 && 0 → 1, 0, 0)", () => {
    expect(row("SELECT 1 || 0, 'a' || 'b', 1 && 0, 0||1")).toEqual([1, 0, 0, 1])
  })

  test('<=> is null-safe equality (MySQL: NULL <=> NULL = 1, 1 <=> NULL = 0)', () => {
    expect(row('SELECT NULL <=> NULL, 1 <=> NULL, 2 <=> 2')).toEqual([1, 0, 1])
  })

  test('/ divides exactly (MySQL: 7 / 2 = 3.5000, 6 / 3 = 2.0000, 1 + 6 / 4 * 2 = 4.0000)', () => {
    expect(row('SELECT 7 / 2, 6 / 3, 1 + 6 / 4 * 2, 7/2/2, -7 / 2, 1 / 0')).toEqual([3.5, 2, 4, 1.75, -3.5, null])
  })

  test("LIKE escapes with a backslash (MySQL: 'a_c' LIKE 'a\\_c' = 1, 'abc' LIKE 'a\\_c' = 0)", () => {
    expect(
      row("SELECT 'a_c' LIKE 'a\\_c', 'abc' LIKE 'a\\_c', 'a%' LIKE 'a\\%', 'ab' NOT LIKE 'a\\%', 'A' LIKE 'a'"),
    ).toEqual([1, 0, 1, 1, 1])
    expect(row("SELECT 'a|c' LIKE 'a|_c' ESCAPE '|', 'a_c' LIKE CONCAT('a', '\\_', 'c')")).toEqual([0, 1])
  })

  test('the translation lexes again as SQLite reads it: ddb reads it with its (MySQL) lexer before it runs', () => {
    // MySQL: 'a\\' is a\, 'b\\\'c' is b\'c; LIKE escapes with \.
    const [translated] = translate(String.raw`SELECT 'a\\', 'b\\\'c', 'y_z' LIKE 'y\_%', 'd\\e', NOW()`)
    expect(new Database(':memory:').query(translated!).values()[0]!.slice(0, 4)).toEqual(['a\\', "b\\'c", 1, 'd\\e'])
    // The same tokens for ddb's lexer: no string swallows the NOW() the determinism rules must see.
    expect(tokenize(translated!).some((t) => t.type === 'word' && t.value === 'CURRENT_TIMESTAMP')).toBe(true)
    expect(translated).not.toContain(String.raw`'\'`) // ESCAPE '\' would be an open string to MySQL's lexer
  })

  test("COLLATE names map to BINARY or NOCASE (MySQL: 'a' = 'A' COLLATE utf8mb4_bin → 0)", () => {
    expect(row("SELECT 'a' = 'A' COLLATE utf8mb4_bin, 'a' = 'A' COLLATE utf8mb4_general_ci")).toEqual([0, 1])
  })

  test('! and LIKE BINARY are refused with the reason', () => {
    expect(() => translate('SELECT !1')).toThrow('not supported on a SQLite store: the ! operator (write NOT')
    expect(() => translate("SELECT 'a' LIKE BINARY 'A'")).toThrow('LIKE BINARY')
  })
})
