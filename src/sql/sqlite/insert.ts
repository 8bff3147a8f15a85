/**
 * INSERT and REPLACE in MySQL's dialect as SQLite's:
 *
 * - INSERT without INTO gets INTO; VALUE → VALUES; VALUES ROW(…) → VALUES (…);
 *   INSERT … SET a = 1, b = 2 → INSERT … (a, b) VALUES (1, 2); INSERT … TABLE u
 *   → INSERT … SELECT * FROM u; INSERT … (SELECT …) → INSERT … SELECT …;
 *   LOW_PRIORITY, DELAYED, HIGH_PRIORITY are dropped.
 * - DEFAULT as a value → the column's default, read from the store's catalog
 *   (SqliteContext.table); without it, the column is left out of the column list
 *   when every row defaults it, and refused otherwise. VALUES () → DEFAULT VALUES;
 *   VALUES (), () → one column's default per row.
 * - INSERT IGNORE → ON CONFLICT DO NOTHING: duplicates of a primary or unique
 *   key are skipped, as in MySQL; other errors still fail (MySQL would adjust
 *   the value with a warning instead: not silently the same, so not done).
 * - ON DUPLICATE KEY UPDATE → ON CONFLICT DO UPDATE SET: SQLite's upsert, for a
 *   conflict on any unique key, as MySQL's (VALUES(c) → excluded.c and MySQL's
 *   left-to-right SET are rewritten before, in assignments.ts).
 *
 * - 0 for the AUTO_INCREMENT column asks MySQL for a new id, as NULL does, unless
 *   the sql_mode has NO_AUTO_VALUE_ON_ZERO (dump files set it): its value becomes
 *   nullif(v, 0) in VALUES, SET and each SELECT of INSERT … SELECT (a * from one
 *   table written out from the catalog).
 *
 * Refused: INSERT … PARTITION, INSERT … (columns) SET, INSERT … SELECT into an
 * AUTO_INCREMENT table where ddb cannot tell which selected column is the id,
 * REPLACE into a table with a DELETE trigger (SQLite's REPLACE does not fire it).
 */
import { isPunct, isWord, type Token } from '../lexer.ts'
import { type Catalog, catalog, defaultOf, defaults, MODIFIERS } from './dml.ts'
import {
  closeOf,
  findTop,
  nameOf,
  queryArms,
  readTableName,
  refuse,
  type Span,
  splitList,
  sqlName,
  type TokenEdits,
} from './edits.ts'
import { noAutoValueOnZero, type SqliteContext, type TableInfo } from './table-info.ts'

/** INSERT or REPLACE (keyword `verb`). */
export function translateInsert(edits: TokenEdits, ctx: SqliteContext, verb: string): void {
  const { tokens } = edits
  const n = isPunct(tokens.at(-1), ';') ? tokens.length - 1 : tokens.length
  let k = tokens.findIndex((t) => isWord(t, verb)) + 1
  let ignore = false
  for (; tokens[k]?.type === 'word' && (MODIFIERS.has(tokens[k]!.value) || tokens[k]!.value === 'IGNORE'); k++) {
    ignore ||= tokens[k]!.value === 'IGNORE'
    edits.remove(k)
  }
  if (isWord(tokens[k], 'OR')) k += 2 // SQLite's own INSERT OR REPLACE|IGNORE …
  if (isWord(tokens[k], 'INTO')) k++
  else edits.before(k, 'INTO ')
  const { name: table, end: afterTable } = readTableName(tokens, k)
  if (afterTable === k + 3) edits.remove(k, k + 2) // db.t → t
  k = afterTable
  if (isWord(tokens[k], 'PARTITION')) throw refuse('INSERT … PARTITION', 'SQLite has no partitions')
  let columns: Span[] | undefined
  let columnsOpen = -1
  if (isPunct(tokens[k], '(') && !isWord(tokens[k + 1], 'SELECT') && !isWord(tokens[k + 1], 'WITH')) {
    columnsOpen = k
    k = closeOf(tokens, k)
    columns = splitList(tokens, columnsOpen + 1, k)
    k++
  }
  const duplicate = findTop(tokens, k, n, (t, j) => isWord(t, 'ON') && isWord(tokens[j + 1], 'DUPLICATE'))
  const returning = findTop(tokens, k, n, (t) => isWord(t, 'RETURNING'))
  const sourceEnd = [duplicate, returning, n].find((j) => j >= 0)!
  if (isPunct(tokens[k], '(') && (isWord(tokens[k + 1], 'SELECT') || isWord(tokens[k + 1], 'WITH'))) {
    edits.remove(k) // INSERT … (SELECT …): SQLite takes the query without parentheses
    edits.remove(closeOf(tokens, k))
    k++
  }
  const source = tokens[k]
  const info = catalog(ctx, table)
  const generated = idColumn(ctx, table, verb)
  const idAt = generated === undefined ? -1 : position(tokens, columns, generated, ctx.table!(table)!)
  let defaultValues = false
  if (isWord(source, 'VALUES') || isWord(source, 'VALUE')) {
    defaultValues = values(edits, { from: k, to: sourceEnd }, columnsOpen, columns, info)
    if (idAt >= 0 && !defaultValues) zeroValues(edits, { from: k, to: sourceEnd }, idAt)
  } else if (isWord(source, 'SET')) {
    if (columns) throw refuse('INSERT … (columns) SET', 'MySQL refuses it too')
    setForm(edits, { from: k, to: sourceEnd }, info, generated)
  } else if (isWord(source, 'TABLE')) {
    edits.replace(k, 'SELECT * FROM')
    if (idAt >= 0) zeroTable(edits, k, idAt, ctx)
  } else if (idAt >= 0) {
    zeroQuery(edits, { from: k, to: sourceEnd }, idAt, ctx, table)
  }
  const query = !isWord(source, 'VALUES') && !isWord(source, 'VALUE') && !isWord(source, 'SET')
  if (duplicate >= 0) {
    if (query) whereTrue(edits, k, sourceEnd)
    edits.remove(duplicate, duplicate + 4)
    edits.replace(duplicate, 'ON CONFLICT DO UPDATE SET')
    defaults(edits, { from: duplicate + 4, to: returning >= 0 ? returning : n }, info)
  } else if (ignore && defaultValues) {
    edits.after(
      tokens.findIndex((t) => isWord(t, verb)),
      ' OR IGNORE',
    )
  } else if (ignore) {
    if (query) whereTrue(edits, k, sourceEnd)
    edits.after(sourceEnd - 1, ' ON CONFLICT DO NOTHING')
  }
}

/**
 * Rewrites VALUES rows in `span`: VALUE, ROW and DEFAULT; returns whether the
 * statement became INSERT … DEFAULT VALUES.
 */
function values(
  edits: TokenEdits,
  span: Span,
  columnsOpen: number,
  columns: Span[] | undefined,
  table: Catalog,
): boolean {
  const { tokens } = edits
  edits.replace(span.from, 'VALUES')
  const rows: Span[] = []
  for (const row of splitList(tokens, span.from + 1, span.to)) {
    let open = row.from
    if (isWord(tokens[open], 'ROW')) edits.remove(open++)
    rows.push({ from: open + 1, to: closeOf(tokens, open) })
  }
  const items = rows.map((r) => splitList(tokens, r.from, r.to))
  if (items.every((row) => row.length === 0) && (columns === undefined || columns.length === 0)) {
    if (rows.length === 1) {
      if (columnsOpen >= 0) edits.remove(columnsOpen, columnsOpen + 2)
      edits.replaceRange(span.from, span.to, 'DEFAULT VALUES')
      return true
    }
    const info = table()
    const first = info?.columns.find((c) => !c.generated)
    if (!first) throw refuse('INSERT … VALUES (), ()', "filling several rows with defaults needs the table's columns")
    if (columnsOpen >= 0) edits.replaceRange(columnsOpen, columnsOpen + 2, `(${sqlName(first.name)})`)
    else edits.after(span.from - 1, ` (${sqlName(first.name)})`)
    for (const r of rows) edits.before(r.to, defaultOf(info!, first.name))
    return false
  }
  const isDefault = (s: Span): boolean => s.to === s.from + 1 && isWord(tokens[s.from], 'DEFAULT')
  if (!items.some((row) => row.some(isDefault))) return false
  const info = table()
  const names =
    columns?.map((c) => nameOf(tokens[c.from]) ?? '') ?? info?.columns.filter((c) => !c.generated).map((c) => c.name)
  if (info && names) {
    for (const row of items)
      for (const [p, s] of row.entries()) if (isDefault(s)) edits.replace(s.from, defaultOf(info, names[p] ?? ''))
    return false
  }
  const positions = items[0]!.map((s, p) => (isDefault(s) ? p : -1)).filter((p) => p >= 0)
  const same = items.every(
    (row) =>
      row
        .map((s, p) => (isDefault(s) ? p : -1))
        .filter((p) => p >= 0)
        .join() === positions.join(),
  )
  if (!columns || !same || positions.length === columns.length)
    throw refuse(
      'DEFAULT in VALUES here',
      "writing each column's default needs the table's columns, which are not available",
    )
  for (const list of [columns, ...items]) removeItems(edits, list, positions)
  return false
}

/** INSERT … SET a = 1, b = 2 → INSERT … (a, b) VALUES (1, 2); `id`: the AUTO_INCREMENT column, for which 0 asks for an id. */
function setForm(edits: TokenEdits, span: Span, table: Catalog, id: string | undefined): void {
  const { tokens } = edits
  const names: string[] = []
  const valuesText: string[] = []
  for (const item of splitList(tokens, span.from + 1, span.to)) {
    const eq = findTop(tokens, item.from, item.to, (t) => isPunct(t, '='))
    const name = nameOf(tokens[eq - 1]) ?? ''
    const isDefault = eq + 2 === item.to && isWord(tokens[eq + 1], 'DEFAULT')
    const info = isDefault ? table() : undefined
    if (isDefault && !info) continue
    names.push(sqlName(name))
    const value = info ? defaultOf(info, name) : edits.text(eq + 1, item.to)
    valuesText.push(name.toLowerCase() === id?.toLowerCase() ? askForId(value) : value)
  }
  edits.replaceRange(
    span.from,
    span.to,
    names.length === 0 ? 'DEFAULT VALUES' : `(${names.join(', ')}) VALUES (${valuesText.join(', ')})`,
  )
}

/**
 * The AUTO_INCREMENT column of `table` when 0 given for it asks for a new id (the
 * sql_mode has no NO_AUTO_VALUE_ON_ZERO); undefined when it has none, or the
 * catalog does not say. Refuses REPLACE into a table with a DELETE trigger.
 */
function idColumn(ctx: SqliteContext, table: string, verb: string): string | undefined {
  const info = ctx.table?.(table)
  if (verb === 'REPLACE' && info?.triggers.some((t) => t.event === 'DELETE'))
    throw refuse(
      `REPLACE into ${info.name}, which has a DELETE trigger`,
      "MySQL's REPLACE fires the DELETE triggers of the rows it replaces, SQLite's does not; DELETE, then INSERT",
    )
  return info?.autoIncrement && !noAutoValueOnZero(ctx) ? info.rowid : undefined
}

/** Where column `id` is among the values an INSERT gives: in its column list, else among the table's columns; -1 when not given. */
function position(tokens: Token[], columns: Span[] | undefined, id: string, info: TableInfo): number {
  const names = columns
    ? columns.map((c) => nameOf(tokens[c.from]) ?? '')
    : info.columns.filter((c) => !c.generated).map((c) => c.name)
  return names.findIndex((n) => n.toLowerCase() === id.toLowerCase())
}

/** A value for the AUTO_INCREMENT column: 0 (or NULL) asks MySQL for a new id, and NULL asks SQLite. */
function askForId(value: string): string {
  return `nullif(${value}, 0)`
}

/** Wraps the AUTO_INCREMENT column's value (position `at`) of each VALUES row in askForId. */
function zeroValues(edits: TokenEdits, span: Span, at: number): void {
  const { tokens } = edits
  for (const row of splitList(tokens, span.from + 1, span.to)) {
    const open = isWord(tokens[row.from], 'ROW') ? row.from + 1 : row.from
    const item = splitList(tokens, open + 1, closeOf(tokens, open))[at]
    if (!item) continue // MySQL refuses a row with too few values; so does SQLite
    edits.before(item.from, 'nullif(')
    edits.after(item.to - 1, ', 0)')
  }
}

/** INSERT … TABLE u (now SELECT * FROM u at tokens[k]): the AUTO_INCREMENT column's value of each row in askForId. */
function zeroTable(edits: TokenEdits, k: number, at: number, ctx: SqliteContext): void {
  const { name } = readTableName(edits.tokens, k + 1)
  edits.replace(k, `SELECT ${starColumns(ctx, name, undefined, at)} FROM`)
}

/**
 * INSERT … SELECT: the AUTO_INCREMENT column's value (position `at` of each
 * SELECT's result list) in askForId. A `*` is written out from the catalog when
 * it selects from one table; refused where ddb cannot tell which selected
 * column gives the id.
 */
function zeroQuery(edits: TokenEdits, span: Span, at: number, ctx: SqliteContext, table: string): void {
  const { tokens } = edits
  const cannot = (why: string) =>
    refuse(
      `this INSERT … SELECT into ${table}`,
      `MySQL generates an AUTO_INCREMENT id where the selected id is 0, and ddb cannot tell which selected column is the id: ${why}; name the selected columns, or SET sql_mode with NO_AUTO_VALUE_ON_ZERO`,
    )
  const arms = queryArms(tokens, span.from, span.to)
  if (!arms) throw cannot('it cannot read the query')
  for (const arm of arms) {
    if (arm.kind === 'values') {
      zeroValues(edits, { from: arm.rows[0]!.from - 2, to: arm.rows.at(-1)!.to + 1 }, at)
      continue
    }
    const items = splitList(tokens, arm.list.from, arm.list.to)
    const star = items.findIndex((s) => isPunct(tokens[s.to - 1], '*'))
    if (star >= 0 && star <= at) {
      if (items.length !== 1) throw cannot('the result list mixes * with other columns')
      const from = fromTable(tokens, arm.list.to, span.to)
      if (!from) throw cannot('* selects from more than one table, or a subquery')
      const qualifier = items[0]!.to - items[0]!.from === 3 ? nameOf(tokens[items[0]!.from]) : undefined
      edits.replaceRange(items[0]!.from, items[0]!.to, starColumns(ctx, from.name, qualifier ?? from.alias, at))
      continue
    }
    const item = items[at]
    if (!item) continue // too few values: SQLite refuses it as MySQL does
    edits.before(item.from, 'nullif(')
    edits.after(item.to - 1, ', 0)')
  }
}

/** The columns of table `name` (written for `*`), the one at position `at` in askForId. */
function starColumns(ctx: SqliteContext, name: string, qualifier: string | undefined, at: number): string {
  const info = ctx.table?.(name)
  if (!info) throw refuse(`INSERT … SELECT * FROM ${name}`, `no such table: ${name}`)
  const prefix = qualifier === undefined ? '' : `${sqlName(qualifier)}.`
  return info.columns
    .map((c, i) => (i === at ? askForId(`${prefix}${sqlName(c.name)}`) : `${prefix}${sqlName(c.name)}`))
    .join(', ')
}

/** The one table a SELECT reads when its FROM (at tokens[from]) names just one: its name and alias. */
function fromTable(tokens: Token[], from: number, to: number): { name: string; alias?: string } | undefined {
  if (!isWord(tokens[from], 'FROM')) return undefined
  const { name, end } = readTableName(tokens, from + 1)
  let k = end
  let alias: string | undefined
  if (isWord(tokens[k], 'AS')) k++
  if (tokens[k]?.type === 'identifier' || (tokens[k]?.type === 'word' && !QUERY_CLAUSES.has(tokens[k]!.value))) {
    alias = nameOf(tokens[k])
    k++
  }
  const clause = tokens[k]
  if (k < to && !(clause?.type === 'word' && QUERY_CLAUSES.has(clause.value)) && !isPunct(clause, ';')) return undefined
  return { name, ...(alias !== undefined ? { alias } : {}) }
}

/** Words that end a FROM list of one table. */
const QUERY_CLAUSES = new Set([
  'WHERE',
  'GROUP',
  'HAVING',
  'WINDOW',
  'ORDER',
  'LIMIT',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'ON',
  'RETURNING',
  'FOR',
  'LOCK',
  'USE',
  'FORCE',
  'IGNORE',
])

/** Removes the list items at `positions` (and the commas between). */
function removeItems(edits: TokenEdits, list: Span[], positions: number[]): void {
  const kept = list.filter((_, p) => !positions.includes(p)).map((s) => edits.text(s.from, s.to))
  edits.replaceRange(list[0]!.from, list.at(-1)!.to, kept.join(', '))
}

/** Adds WHERE true to a query source that ends with its FROM list, which SQLite would otherwise read ON CONFLICT as a join's ON. */
function whereTrue(edits: TokenEdits, from: number, to: number): void {
  const { tokens } = edits
  let last = -1
  for (
    let j = findTop(tokens, from, to, (t) => isWord(t, 'FROM'));
    j >= 0;
    j = findTop(tokens, j + 1, to, (t) => isWord(t, 'FROM'))
  )
    last = j
  if (last < 0) return
  const clause = findTop(
    tokens,
    last,
    to,
    (t) => t.type === 'word' && ['WHERE', 'GROUP', 'HAVING', 'WINDOW', 'ORDER', 'LIMIT'].includes(t.value),
  )
  if (clause < 0) edits.after(to - 1, ' WHERE true')
}
