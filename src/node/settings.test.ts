import { describe, expect, test } from 'bun:test'
import { DdbError } from '../errors.ts'
import { tokenize } from '../sql/lexer.ts'
import { literal, runSet, type SetContext, substituteVariables } from './settings.ts'
import { SessionVariables, type Value } from './variables.ts'

const DEFAULTS = {
  sql_mode: 'STRICT_TRANS_TABLES',
  foreign_key_checks: 1,
  time_zone: 'SYSTEM',
  net_write_timeout: 60,
  sql_log_bin: 1,
}

/** A session on a store that evaluates expressions with `evaluate` and knows the DEFAULTS' variables. */
function context(options: Partial<SetContext> = {}): SetContext & { evaluated: string[] } {
  const evaluated: string[] = []
  return {
    variables: new SessionVariables(DEFAULTS),
    lastInsertId: 0,
    dialect: 'mysql',
    evaluate: async (e) => {
      evaluated.push(e)
      return 'evaluated'
    },
    check: async () => null,
    evaluated,
    ...options,
  }
}

const set = (sql: string, ctx: SetContext) => runSet(sql, tokenize(sql), ctx)

async function refused(p: Promise<unknown>): Promise<DdbError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(DdbError)
  return err as DdbError
}

describe('SET', () => {
  test('system variables: literals, keywords, booleans as 1/0, DEFAULT back to the default', async () => {
    const ctx = context()
    await set(
      "SET sql_mode = 'ansi_quotes,no_zero_date', SESSION foreign_key_checks = OFF, @@net_write_timeout = 600",
      ctx,
    )
    expect(ctx.variables.system('sql_mode')).toBe('ANSI_QUOTES,NO_ZERO_DATE')
    expect(ctx.variables.system('foreign_key_checks')).toBe(0)
    expect(ctx.variables.system('net_write_timeout')).toBe(600)
    await set('SET foreign_key_checks = DEFAULT', ctx)
    expect(ctx.variables.system('foreign_key_checks')).toBe(1)
  })

  test('only replicated settings that differ from a fresh session travel with writes', async () => {
    const ctx = context()
    await set("SET net_write_timeout = 600, foreign_key_checks = 0, sql_mode = 'STRICT_TRANS_TABLES'", ctx)
    expect(ctx.variables.settings()).toEqual({ foreign_key_checks: 0 })
  })

  test("mysqldump's header: each assignment in order, @user variables read what an earlier one left", async () => {
    const ctx = context()
    await set('SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0', ctx)
    expect(ctx.variables.user('old_foreign_key_checks')).toBe(1)
    expect(ctx.variables.system('foreign_key_checks')).toBe(0)
    await set('SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS', ctx)
    expect(ctx.variables.system('foreign_key_checks')).toBe(1)
    expect(ctx.evaluated).toEqual([])
  })

  test('an expression is evaluated by the store once, with the variables it reads written in', async () => {
    const ctx = context()
    await set("SET @a = 'x', @b = CONCAT(@a, @@sql_mode)", ctx)
    expect(ctx.evaluated).toEqual(["CONCAT('x', 'STRICT_TRANS_TABLES')"])
    expect(ctx.variables.user('b')).toBe('evaluated')
  })

  test("the store's check gives the value it reports, and its error", async () => {
    const ctx = context({
      check: async (name, v) => {
        if (name === 'nope') throw new DdbError('STORE', "Unknown system variable 'nope'")
        return name === 'sql_mode' ? `${String(v)},EXPANDED` : v
      },
    })
    await set("SET sql_mode = 'traditional'", ctx)
    expect(ctx.variables.system('sql_mode')).toBe('TRADITIONAL,EXPANDED')
    expect((await refused(set('SET nope = 1', ctx))).message).toBe("Unknown system variable 'nope'")
  })

  test('without a store that checks (SQLite), a variable ddb does not know is unknown', async () => {
    expect((await refused(set('SET no_such_thing = 1', context()))).code).toBe('UNKNOWN_VARIABLE')
  })

  test('what cannot be replayed is refused, with the reason', async () => {
    expect((await refused(set('SET sql_log_bin = 0', context()))).message).toContain('ddb replicates every write')
    expect((await refused(set('SET insert_id = 5', context()))).code).toBe('UNSUPPORTED')
    await set('SET sql_log_bin = 1', context()) // the default: allowed
    const sqlite = context({ dialect: 'sqlite', variables: new SessionVariables({ auto_increment_increment: 1 }) })
    expect((await refused(set('SET auto_increment_increment = 2', sqlite))).message).toContain('SQLite')
  })

  test('on SQLite, foreign_key_checks changes only outside a transaction (PRAGMA foreign_keys is set before BEGIN)', async () => {
    const sqlite = (inTransaction: boolean) =>
      context({ dialect: 'sqlite', inTransaction, variables: new SessionVariables({ foreign_key_checks: 1 }) })
    const outside = sqlite(false)
    await set('SET FOREIGN_KEY_CHECKS = 0', outside)
    expect(outside.variables.settings()).toEqual({ foreign_key_checks: 0 })

    const inside = sqlite(true)
    const err = await refused(set('SET foreign_key_checks = 0', inside))
    expect(err.code).toBe('UNSUPPORTED')
    expect(err.message).toBe(
      'SET foreign_key_checks inside a transaction: SQLite can change foreign-key enforcement only between transactions; set it before BEGIN',
    )
    expect(inside.variables.system('foreign_key_checks')).toBe(1)
    await set('SET foreign_key_checks = ON, @@session.foreign_key_checks = DEFAULT', inside) // no change: allowed
    inside.variables.setSystem('foreign_key_checks', 0)
    expect((await refused(set('SET foreign_key_checks = DEFAULT', inside))).code).toBe('UNSUPPORTED')
    expect(inside.variables.system('foreign_key_checks')).toBe(0)
    // MySQL changes it anywhere.
    const mysql = context({ inTransaction: true })
    await set('SET foreign_key_checks = 0', mysql)
    expect(mysql.variables.system('foreign_key_checks')).toBe(0)
  })

  test('SET NAMES sets the client, connection and results character sets; an unknown one is refused', async () => {
    const ctx = context()
    await set('SET NAMES utf8', ctx)
    expect(
      ['character_set_client', 'character_set_connection', 'character_set_results'].map((n) => ctx.variables.system(n)),
    ).toEqual(['utf8mb3', 'utf8mb3', 'utf8mb3'])
    expect(ctx.variables.system('collation_connection')).toBe('utf8mb3_general_ci')
    // Another character set would need the port to convert text both ways: refused, never mangled.
    expect((await refused(set('SET NAMES latin1', context()))).message).toContain('speaks utf8mb4')
  })

  test('SET TIMESTAMP pins the session clock; DEFAULT unpins it', async () => {
    const ctx = context()
    await set('SET TIMESTAMP = 1700000000.5', ctx)
    expect(ctx.variables.system('timestamp')).toBe(1700000000.5)
    await set('SET TIMESTAMP = DEFAULT', ctx)
    expect(ctx.variables.system('timestamp')).toBeUndefined()
  })
})

describe('substituteVariables', () => {
  const variables = new SessionVariables(DEFAULTS)
  variables.setUser('name', "O'Neil")
  variables.setUser('n', 7)
  const sub = (sql: string) => substituteVariables(sql, tokenize(sql), variables, 41)

  test('@user and @@session variables become literals of their values', () => {
    expect(sub('INSERT INTO t VALUES (@name, @n, @unset, @@session.sql_mode)')).toBe(
      "INSERT INTO t VALUES ('O\\'Neil', 7, NULL, 'STRICT_TRANS_TABLES')",
    )
  })

  test('assignments, @@global and variables ddb does not know stay as they are', () => {
    expect(sub('UPDATE t SET a = (@n := @n + 1), b = @@global.sql_mode, c = @@hostname')).toBe(
      'UPDATE t SET a = (@n := 7 + 1), b = @@global.sql_mode, c = @@hostname',
    )
  })

  test("LAST_INSERT_ID() becomes the session's id; LAST_INSERT_ID(expr) and a column of that name stay", () => {
    expect(sub('INSERT INTO child (parent) VALUES (LAST_INSERT_ID())')).toBe('INSERT INTO child (parent) VALUES (41)')
    expect(sub('SELECT last_insert_id( ), LAST_INSERT_ID(5), t.last_insert_id FROM t')).toBe(
      'SELECT 41, LAST_INSERT_ID(5), t.last_insert_id FROM t',
    )
  })
})

describe('literal', () => {
  test.each<[Value, string]>([
    [null, 'NULL'],
    [5, '5'],
    [2.5, '2.5'],
    ["a'b\\c\n\0", "'a\\'b\\\\c\\n\\0'"],
    [{ $bytes: Buffer.from([0, 255]).toString('base64') }, "X'00FF'"],
  ])('%p is %s', (v, text) => expect(literal(v)).toBe(text))
})
