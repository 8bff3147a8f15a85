import { Database } from 'bun:sqlite'
import { describe, expect, test } from 'bun:test'
import { context, NOW, sequence } from '../../test/support/determinism-cases.ts'
import { makeDeterministic } from './determinism.ts'

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
    expect(parseInt(v7!.replace('-', '').slice(0, 12), 16)).toBe(NOW)
    expect(guid).toMatch(/^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/)
    expect(BigInt(short!)).toBeLessThan(2n ** 63n)
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
