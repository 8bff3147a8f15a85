/**
 * MySQL DDL other than CREATE and ALTER TABLE, as SQLite statements:
 *
 * - CREATE [UNIQUE] INDEX i [USING …] ON t (…) [options] → CREATE INDEX `t.i`
 *   (see indexes.ts); FULLTEXT and SPATIAL are refused.
 * - DROP INDEX i ON t → DROP INDEX `t.i` (SQLite's DROP INDEX names no table).
 * - DROP TABLE a, b (and DROP VIEW) → one statement each (RESTRICT and CASCADE do nothing in MySQL).
 * - CREATE [OR REPLACE] [ALGORITHM …] [DEFINER …] [SQL SECURITY …] VIEW → CREATE VIEW
 *   (OR REPLACE, and ALTER VIEW: DROP VIEW IF EXISTS first); WITH CHECK OPTION is refused.
 * - TRUNCATE [TABLE] t → DELETE FROM t, and, as TRUNCATE restarts MySQL's
 *   AUTO_INCREMENT, the table's row of sqlite_sequence goes too.
 * - RENAME TABLE a TO b, … → ALTER TABLE a RENAME TO b each.
 * - CREATE DATABASE IF NOT EXISTS → nothing to run: every database name selects
 *   the store's one database. CREATE DATABASE without IF NOT EXISTS and DROP
 *   DATABASE are refused.
 */
import { isPunct, isWord, type Token } from '../lexer.ts'
import { findTop, nameOf, readTableName, refuse, splitList, sqlName, sqlString, type TokenEdits } from './edits.ts'
import { createIndex, readIndex, sqliteIndexName } from './indexes.ts'
import type { SqliteContext } from './table-info.ts'

const ONE_DATABASE = 'a SQLite store has one database, which every database name selects'

/** CREATE INDEX. */
export function translateCreateIndex(edits: TokenEdits): string[] {
  const { tokens } = edits
  const at = tokens.findIndex((t) => isWord(t, 'INDEX'))
  const modifiers = tokens.slice(0, at).map((t) => t.value)
  for (const kind of ['FULLTEXT', 'SPATIAL'])
    if (modifiers.includes(kind))
      throw refuse(`${kind} indexes`, `SQLite has no ${kind.toLowerCase()} index; drop it or use a MySQL store`)
  let k = at + 1
  const ifNotExists = isWord(tokens[k], 'IF')
  if (ifNotExists) k += 3
  const name = nameOf(tokens[k++])
  while (k < tokens.length && !isWord(tokens[k], 'ON')) k++
  const { name: table, end } = readTableName(tokens, k + 1)
  if (name === undefined || !isPunct(tokens[end], '('))
    throw refuse('this CREATE INDEX', 'cannot read its name, table and columns')
  const unique = modifiers.includes('UNIQUE')
  const { index } = readIndex(edits, end, unique, unique ? 'UNIQUE INDEX' : 'INDEX')
  const create = createIndex(table, name, index, ifNotExists)
  return modifiers.includes('REPLACE')
    ? [`DROP INDEX IF EXISTS ${sqlName(sqliteIndexName(table, name))}`, create]
    : [create]
}

/** DROP INDEX i ON t; SQLite's own DROP INDEX i (no ON) is left alone. */
export function translateDropIndex(edits: TokenEdits, ctx: SqliteContext): string[] | undefined {
  const { tokens } = edits
  let k = tokens.findIndex((t) => isWord(t, 'INDEX')) + 1
  const ifExists = isWord(tokens[k], 'IF')
  if (ifExists) k += 2
  const name = nameOf(tokens[k])
  if (!isWord(tokens[k + 1], 'ON') || name === undefined) return undefined
  const { name: table } = readTableName(tokens, k + 2)
  return [`DROP INDEX ${ifExists ? 'IF EXISTS ' : ''}${sqlName(sqliteIndexOf(ctx, table, name))}`]
}

/** SQLite's name of MySQL index `name` of `table`: looked up when the context can, else `table.name`. */
export function sqliteIndexOf(ctx: SqliteContext, table: string, name: string): string {
  if (name.toUpperCase() === 'PRIMARY')
    throw refuse(
      'dropping a PRIMARY KEY',
      "SQLite cannot change a table's primary key; create a new table and copy the rows",
    )
  const found = ctx.table?.(table)?.indexes.find((i) => i.name.toLowerCase() === name.toLowerCase())
  return found?.sqliteName ?? sqliteIndexName(table, name)
}

/** DROP TABLE|VIEW [IF EXISTS] a [, b …] [RESTRICT | CASCADE]. */
export function translateDropTable(edits: TokenEdits, what: 'TABLE' | 'VIEW', ctx: SqliteContext): string[] {
  const { tokens } = edits
  let k = tokens.findIndex((t) => isWord(t, what) || isWord(t, 'TABLES')) + 1
  const ifExists = isWord(tokens[k], 'IF')
  if (ifExists) k += 2
  let end = tokens.length
  while (
    end > k &&
    (isPunct(tokens[end - 1], ';') || isWord(tokens[end - 1], 'RESTRICT') || isWord(tokens[end - 1], 'CASCADE'))
  )
    end--
  return splitList(tokens, k, end).map((s) => {
    const { name } = readTableName(tokens, s.from)
    if (what === 'TABLE') sameCase(ctx, name, 'DROP TABLE')
    return `DROP ${what} ${ifExists ? 'IF EXISTS ' : ''}${sqlName(name)}`
  })
}

/** Refuses `what` on table `name` when the store's table of that name is spelt in another case: SQLite would act on it, MySQL finds no such table. */
export function sameCase(ctx: SqliteContext, name: string, what: string): void {
  const found = ctx.table?.(name)?.name
  if (found !== undefined && found !== name)
    throw refuse(
      `${what} ${name}`,
      `there is no such table, only ${found}, which SQLite would take for it (its table names ignore case, MySQL's do not)`,
    )
}

/** TRUNCATE [TABLE] t. */
export function translateTruncate(edits: TokenEdits, ctx: SqliteContext): string[] {
  const { tokens } = edits
  const k = isWord(tokens[1], 'TABLE') ? 2 : 1
  const { name } = readTableName(tokens, k)
  sameCase(ctx, name, 'TRUNCATE')
  if (!ctx.table)
    throw refuse(
      'TRUNCATE here',
      "restarting the table's AUTO_INCREMENT needs to know whether it has one; the store's catalog is not available",
    )
  const info = ctx.table(name)
  const statements = [`DELETE FROM ${sqlName(name)}`]
  if (info?.autoIncrement) statements.push(`DELETE FROM sqlite_sequence WHERE name = ${sqlString(info.name)}`)
  return statements
}

/** RENAME TABLE a TO b [, c TO d …]. */
export function translateRenameTable(edits: TokenEdits): string[] {
  const { tokens } = edits
  return splitList(tokens, 2, endOf(tokens)).map((s) => {
    const from = readTableName(tokens, s.from)
    if (!isWord(tokens[from.end], 'TO')) throw refuse('this RENAME TABLE', 'cannot read it')
    return `ALTER TABLE ${sqlName(from.name)} RENAME TO ${sqlName(readTableName(tokens, from.end + 1).name)}`
  })
}

/** CREATE DATABASE / SCHEMA and DROP DATABASE / SCHEMA. */
export function translateDatabase(edits: TokenEdits, keyword: string): string[] {
  const { tokens } = edits
  if (keyword.startsWith('DROP')) throw refuse(keyword, `${ONE_DATABASE}, so it would drop every table`)
  if (keyword.startsWith('ALTER')) return [] // character set and collation defaults: nothing to keep
  const at = tokens.findIndex((t) => isWord(t, 'DATABASE') || isWord(t, 'SCHEMA'))
  if (isWord(tokens[at + 1], 'IF')) return []
  throw refuse(
    `${keyword} without IF NOT EXISTS`,
    `${ONE_DATABASE}, so every name already exists; write CREATE DATABASE IF NOT EXISTS`,
  )
}

/** `text` as UTF-8 hex, which holds no `*\/` to end the comment it is kept in. */
function hex(text: string): string {
  return Buffer.from(text, 'utf8').toString('hex').toUpperCase()
}

/** The index just past the statement's last token, before a closing `;`. */
function endOf(tokens: Token[]): number {
  return isPunct(tokens.at(-1), ';') ? tokens.length - 1 : tokens.length
}

/**
 * CREATE [OR REPLACE] [ALGORITHM = …] [DEFINER = …] [SQL SECURITY …] VIEW v … AS query
 * → CREATE VIEW v … AS query; OR REPLACE, and ALTER VIEW, drop the old view first.
 */
export function translateCreateView(edits: TokenEdits): string[] {
  const { tokens } = edits
  const at = tokens.findIndex((t) => isWord(t, 'VIEW'))
  const last = endOf(tokens)
  if (isWord(tokens[last - 1], 'OPTION') && isWord(tokens[last - 2], 'CHECK'))
    throw refuse('WITH CHECK OPTION', 'SQLite views are read-only, so there is nothing to check; drop the clause')
  const { name, end: afterName } = readTableName(tokens, at + 1)
  const as = findTop(tokens, afterName, last, (t) => isWord(t, 'AS'))
  if (as < 0) throw refuse('this CREATE VIEW', 'cannot find its AS')
  // MySQL's text, for SHOW CREATE VIEW and information_schema.VIEWS (catalog.ts): a dump of the store gives it back.
  const marker = `/*mysql_view ${hex(edits.source(afterName, as))} ${hex(edits.source(as + 1, last))}*/`
  const create = `CREATE VIEW ${edits.text(at + 1, as + 1)} ${marker} ${edits.text(as + 1, last)}`
  const replace = isWord(tokens[0], 'ALTER') || tokens.slice(0, at).some((t) => isWord(t, 'REPLACE'))
  if (!replace) return [create]
  return [`DROP VIEW IF EXISTS ${sqlName(name)}`, create]
}
