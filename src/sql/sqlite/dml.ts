/**
 * UPDATE and DELETE in MySQL's dialect as SQLite's, and what INSERT shares with
 * them (insert.ts): the column defaults that DEFAULT stands for.
 *
 * - SET c = DEFAULT → the column's default, read from the store's catalog.
 * - UPDATE/DELETE … [ORDER BY …] LIMIT n → … WHERE rowid IN (SELECT rowid FROM t
 *   WHERE … ORDER BY … LIMIT n), which needs no compile option; ORDER BY without
 *   LIMIT is dropped. LOW_PRIORITY and QUICK are dropped.
 * - MySQL's left-to-right SET and SET t.c are rewritten before, in assignments.ts.
 *
 * Refused: multiple-table UPDATE and DELETE, UPDATE IGNORE, DELETE IGNORE.
 */
import { isPunct, isWord } from '../lexer.ts'
import { findTop, nameOf, readTableName, refuse, type Span, splitList, type TokenEdits } from './edits.ts'
import type { SqliteContext, TableInfo } from './table-info.ts'

/** Modifiers of INSERT, UPDATE and DELETE that only tune MySQL's locking or scheduling. */
export const MODIFIERS = new Set(['LOW_PRIORITY', 'DELAYED', 'HIGH_PRIORITY', 'QUICK'])

/** Words that end an UPDATE's or DELETE's table reference or SET list at top level. */
const CLAUSES = new Set(['WHERE', 'ORDER', 'LIMIT', 'RETURNING'])

/** A table from the store's catalog, read when first needed; undefined without a catalog. */
export type Catalog = () => TableInfo | undefined

/** The Catalog of table `name`; asking refuses the statement when the catalog has no such table. */
export function catalog(ctx: SqliteContext, name: string): Catalog {
  let info: TableInfo | undefined
  return () => {
    if (!ctx.table) return undefined
    info ??= ctx.table(name)
    if (!info) throw refuse(`DEFAULT for a column of ${name}`, `no such table: ${name}`)
    return info
  }
}

/** SQL for column `name`'s default in `info`: NULL for the rowid (a new id) and columns without one. */
export function defaultOf(info: TableInfo, name: string): string {
  const column = info.columns.find((c) => c.name.toLowerCase() === name.toLowerCase())
  if (!column) throw refuse(`DEFAULT for column ${name}`, `table ${info.name} has no such column`)
  return column.default === null || column.name === info.rowid ? 'NULL' : `(${column.default})`
}

/** The assignments of a SET list in `span`: DEFAULT becomes the column's default. */
export function defaults(edits: TokenEdits, span: Span, table: Catalog): void {
  const { tokens } = edits
  for (const item of splitList(tokens, span.from, span.to)) {
    const eq = findTop(tokens, item.from, item.to, (t) => isPunct(t, '='))
    if (eq < 0 || eq + 2 !== item.to || !isWord(tokens[eq + 1], 'DEFAULT')) continue
    const info = table()
    if (!info)
      throw refuse(
        'SET column = DEFAULT here',
        "writing the column's default needs the table's columns, which are not available",
      )
    edits.replace(eq + 1, defaultOf(info, nameOf(tokens[eq - 1]) ?? ''))
  }
}

/** UPDATE (single table). */
export function translateUpdate(edits: TokenEdits, ctx: SqliteContext): string | undefined {
  const { tokens } = edits
  let k = 1
  for (; tokens[k]?.type === 'word' && (MODIFIERS.has(tokens[k]!.value) || tokens[k]!.value === 'IGNORE'); k++) {
    if (tokens[k]!.value === 'IGNORE')
      throw refuse(
        'UPDATE IGNORE',
        'SQLite would skip the rows that fail any constraint, MySQL adjusts them; drop IGNORE',
      )
    edits.remove(k)
  }
  const set = findTop(tokens, k, tokens.length, (t) => isWord(t, 'SET'))
  if (findTop(tokens, k, set, (t) => isPunct(t, ',') || isWord(t, 'JOIN')) >= 0)
    throw refuse('a multiple-table UPDATE', "SQLite's UPDATE … FROM matches rows otherwise; update one table at a time")
  const { name: table, end: afterTable } = readTableName(tokens, k)
  if (afterTable === k + 3) edits.remove(k, k + 2) // db.t → t
  const end = isPunct(tokens.at(-1), ';') ? tokens.length - 1 : tokens.length
  const clause = findTop(tokens, set + 1, end, (t) => t.type === 'word' && CLAUSES.has(t.value))
  defaults(edits, { from: set + 1, to: clause < 0 ? end : clause }, catalog(ctx, table))
  return limitByRowid(edits, k, set, end)
}

/** DELETE (single table). */
export function translateDelete(edits: TokenEdits): string | undefined {
  const { tokens } = edits
  let k = 1
  for (; tokens[k]?.type === 'word' && (MODIFIERS.has(tokens[k]!.value) || tokens[k]!.value === 'IGNORE'); k++) {
    if (tokens[k]!.value === 'IGNORE')
      throw refuse('DELETE IGNORE', 'SQLite has no DELETE that skips failing rows; drop IGNORE')
    edits.remove(k)
  }
  if (
    !isWord(tokens[k], 'FROM') ||
    findTop(tokens, k, tokens.length, (t) => isWord(t, 'USING') || isWord(t, 'JOIN')) >= 0
  )
    throw refuse('a multiple-table DELETE', 'SQLite deletes from one table at a time')
  const end = isPunct(tokens.at(-1), ';') ? tokens.length - 1 : tokens.length
  const clause = findTop(tokens, k + 1, end, (t) => t.type === 'word' && CLAUSES.has(t.value))
  if (findTop(tokens, k + 1, clause < 0 ? end : clause, (t) => isPunct(t, ',')) >= 0)
    throw refuse('a multiple-table DELETE', 'SQLite deletes from one table at a time')
  if (isPunct(tokens[k + 2], '.')) edits.remove(k + 1, k + 3)
  return limitByRowid(edits, k + 1, clause < 0 ? end : clause, end)
}

/**
 * Rewrites a trailing ORDER BY … LIMIT of UPDATE/DELETE as a rowid subquery on
 * the table reference tokens [ref, refEnd); returns the new text, or undefined
 * when there is no LIMIT (an ORDER BY alone is removed).
 */
function limitByRowid(edits: TokenEdits, ref: number, refEnd: number, end: number): string | undefined {
  const { tokens } = edits
  const at = (word: string): number => findTop(tokens, refEnd, end, (t) => isWord(t, word))
  const where = at('WHERE')
  const order = findTop(tokens, refEnd, end, (t, j) => isWord(t, 'ORDER') && isWord(tokens[j + 1], 'BY'))
  const limit = at('LIMIT')
  if (limit < 0) {
    if (order >= 0) edits.remove(order, end)
    return undefined
  }
  const headEnd = [where, order, limit].filter((j) => j >= 0)[0]!
  const condition = where >= 0 ? ` WHERE ${edits.text(where + 1, order >= 0 ? order : limit)}` : ''
  const orderBy = order >= 0 ? ` ${edits.text(order, limit)}` : ''
  const tableRef = edits.text(ref, refEnd)
  return `${edits.text(0, headEnd)} WHERE rowid IN (SELECT rowid FROM ${tableRef}${condition}${orderBy} ${edits.text(limit, end)})`
}
