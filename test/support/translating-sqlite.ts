/**
 * An in-memory SQLite database that runs MySQL-dialect statements through the
 * translator as a SQLite store's session would, looking tables up in its own
 * catalog: the harness of the translator's unit tests (src/sql/sqlite/*.test.ts).
 *
 *     const s = translatingSqlite({ sqlMode: 'NO_AUTO_VALUE_ON_ZERO' })
 *     s.rows('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY)')
 *     expect(s.values('SELECT id FROM t')).toEqual([])
 */
import { Database, type SQLQueryBindings } from 'bun:sqlite'
import { tokenize } from '../../src/sql/lexer.ts'
import { describeSqliteTable, type SqliteContext, toSqlite } from '../../src/sql/sqlite/dialect.ts'

export interface TranslatingSqlite {
  db: Database
  /** What the translation knows: database 'app' and the catalog unless told otherwise. */
  ctx: SqliteContext
  translate(sql: string): string[]
  /** Runs every statement `sql` translates to, each with `params`; returns the last one's rows. */
  rows(sql: string, ...params: SQLQueryBindings[]): Record<string, unknown>[]
  /** The rows of the last statement `sql` translates to, as arrays. */
  values(sql: string): unknown[][]
}

/** `ctx` overrides the context; `catalog: false` leaves the table lookup out. */
export function translatingSqlite(
  ctx: Partial<SqliteContext> = {},
  options: { catalog?: boolean } = {},
): TranslatingSqlite {
  const db = new Database(':memory:')
  const context: SqliteContext = { database: 'app', ...ctx }
  if (options.catalog !== false)
    context.table = (name) =>
      describeSqliteTable((sql, params) => db.query(sql).all(...params) as Record<string, unknown>[], name)
  const translate = (sql: string): string[] => toSqlite(sql, tokenize(sql), context)
  return {
    db,
    ctx: context,
    translate,
    rows(sql, ...params) {
      let out: Record<string, unknown>[] = []
      for (const s of translate(sql)) out = db.query(s).all(...params) as Record<string, unknown>[]
      return out
    },
    values: (sql) => db.query(translate(sql).at(-1)!).values() as unknown[][],
  }
}
