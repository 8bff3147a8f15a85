/**
 * ALTER TABLE in MySQL's dialect, action by action, as SQLite statements.
 * SQLite can add, drop and rename columns and rename the table; indexes are
 * separate statements there. What would change a column or a constraint in
 * place is refused: SQLite can only rebuild the table.
 *
 * - ADD [COLUMN] def (or (def, …)) → ADD COLUMN (columns as in CREATE TABLE);
 *   FIRST/AFTER, PRIMARY KEY and AUTO_INCREMENT columns are refused, and so is a
 *   default that is not a constant on a table with rows (MySQL fills them with
 *   its value at the ALTER).
 * - ADD INDEX/KEY/UNIQUE → CREATE INDEX; DROP INDEX/KEY → DROP INDEX.
 * - ADD [CONSTRAINT s] FOREIGN KEY … → the table rebuilt with it (addForeignKey).
 * - DROP [COLUMN], RENAME [TO] and RENAME COLUMN → the same in SQLite.
 * - AUTO_INCREMENT = n → the table's row of sqlite_sequence.
 * - ENGINE, CHARSET, COLLATE, COMMENT, ROW_FORMAT, ALGORITHM, LOCK, FORCE,
 *   DISABLE/ENABLE KEYS (mysqldump) → nothing to do.
 * - Refused: MODIFY, CHANGE, ALTER COLUMN, CONVERT TO, ADD/DROP PRIMARY KEY,
 *   DROP FOREIGN KEY, CHECK or CONSTRAINT, ADD CHECK, RENAME INDEX, ORDER BY, PARTITION.
 */
import { isPunct, isWord, tokenize } from '../lexer.ts'
import { columnText, readColumn, readReference } from './columns.ts'
import { sqliteIndexOf } from './ddl.ts'
import {
  closeOf,
  nameOf,
  readTableName,
  refuse,
  type Span,
  splitList,
  sqlName,
  sqlString,
  type TokenEdits,
} from './edits.ts'
import { createIndex, defaultIndexName, readIndex } from './indexes.ts'
import type { SqliteContext } from './table-info.ts'

const REBUILD =
  'SQLite cannot change a column or constraint in place; create a new table and copy the rows, or use a MySQL store'

/** Options that only tune MySQL's storage or the way it runs the ALTER. */
const NO_OPS = new Set([
  'ENGINE',
  'CHARSET',
  'CHARACTER',
  'COLLATE',
  'COMMENT',
  'ROW_FORMAT',
  'ALGORITHM',
  'LOCK',
  'FORCE',
  'KEY_BLOCK_SIZE',
  'STATS_PERSISTENT',
  'STATS_AUTO_RECALC',
  'PACK_KEYS',
  'CHECKSUM',
  'DEFAULT',
])

/** ALTER TABLE t action [, action …]; an empty list when nothing needs doing. */
export function translateAlterTable(edits: TokenEdits, ctx: SqliteContext): string[] {
  const { tokens } = edits
  let k = tokens.findIndex((t) => isWord(t, 'TABLE')) + 1
  if (isWord(tokens[k], 'IF')) throw refuse('ALTER TABLE IF EXISTS', 'SQLite has no such clause')
  const { name: table, end } = readTableName(tokens, k)
  k = end
  const to = isPunct(tokens.at(-1), ';') ? tokens.length - 1 : tokens.length
  const out: string[] = []
  const alter = `ALTER TABLE ${sqlName(table)}`
  const taken = new Set((ctx.table?.(table)?.indexes ?? []).map((i) => i.name.toLowerCase()))
  for (const action of splitList(tokens, k, to)) out.push(...translateAction(edits, action, table, alter, taken, ctx))
  return out
}

function translateAction(
  edits: TokenEdits,
  { from, to }: Span,
  table: string,
  alter: string,
  taken: Set<string>,
  ctx: SqliteContext,
): string[] {
  const { tokens } = edits
  const word = tokens[from]?.value ?? ''
  const next = tokens[from + 1]
  const text = edits.source(from, to)
  if (word === 'ADD') {
    let k = from + 1
    let symbol: string | undefined
    if (isWord(tokens[k], 'CONSTRAINT')) {
      k++
      if (!['UNIQUE', 'PRIMARY', 'FOREIGN', 'CHECK'].includes(tokens[k]?.type === 'word' ? tokens[k]!.value : ''))
        symbol = nameOf(tokens[k++])
    }
    const kind = tokens[k]?.value
    if (kind === 'FOREIGN') return addForeignKey(edits, { from: k, to }, table, symbol, taken, ctx)
    if (kind === 'INDEX' || kind === 'KEY' || kind === 'UNIQUE') {
      const unique = kind === 'UNIQUE'
      if (unique && (isWord(tokens[k + 1], 'INDEX') || isWord(tokens[k + 1], 'KEY'))) k++
      const { index } = readIndex(edits, k + 1, unique, unique ? 'UNIQUE KEY' : 'KEY')
      const name = index.name ?? defaultIndexName(index.parts, taken)
      taken.add(name.toLowerCase())
      return [createIndex(table, name, index, false)]
    }
    if (kind === 'PRIMARY' || kind === 'CHECK' || kind === 'FULLTEXT' || kind === 'SPATIAL' || kind === 'PERIOD')
      throw refuse(`ALTER TABLE … ${text}`, REBUILD)
    if (kind === 'COLUMN') k++
    const items = isPunct(tokens[k], '(') ? splitList(tokens, k + 1, closeOf(tokens, k)) : [{ from: k, to }]
    return items.flatMap((item) => addColumn(edits, item, table, alter, taken, ctx))
  }
  if (word === 'DROP') {
    const what = next?.value
    if (what === 'INDEX' || what === 'KEY') {
      const name = nameOf(tokens[from + 2])
      return [`DROP INDEX ${sqlName(sqliteIndexOf(ctx, table, name ?? ''))}`]
    }
    if (what === 'PRIMARY' || what === 'FOREIGN' || what === 'CHECK' || what === 'CONSTRAINT' || what === 'PARTITION')
      throw refuse(`ALTER TABLE … ${text}`, REBUILD)
    const column = nameOf(tokens[what === 'COLUMN' ? from + 2 : from + 1])
    return [`${alter} DROP COLUMN ${sqlName(column ?? '')}`]
  }
  if (word === 'RENAME') {
    if (isWord(next, 'INDEX') || isWord(next, 'KEY'))
      throw refuse('RENAME INDEX', 'SQLite cannot rename an index; drop it and create it again')
    if (isWord(next, 'COLUMN')) {
      const [a, b] = [nameOf(tokens[from + 2]), nameOf(tokens[from + 4])]
      return [`${alter} RENAME COLUMN ${sqlName(a ?? '')} TO ${sqlName(b ?? '')}`]
    }
    const k = isWord(next, 'TO') || isWord(next, 'AS') ? from + 2 : from + 1
    return [`${alter} RENAME TO ${sqlName(readTableName(tokens, k).name)}`]
  }
  if (word === 'AUTO_INCREMENT') {
    const written = tokens[isPunct(next, '=') ? from + 2 : from + 1]?.text ?? ''
    if (!/^\d+$/.test(written)) throw refuse(`AUTO_INCREMENT = ${written}`, 'the next id must be a number')
    const value = BigInt(written)
    const info = ctx.table?.(table)
    if (info && !info.autoIncrement) return [] // MySQL keeps the option, which does nothing without an AUTO_INCREMENT column
    const seq = String(value > 0n ? value - 1n : 0n)
    const name = sqlString(info?.name ?? table)
    return [
      `DELETE FROM sqlite_sequence WHERE name = ${name}`,
      `INSERT INTO sqlite_sequence (name, seq) VALUES (${name}, ${seq})`,
    ]
  }
  if ((word === 'DISABLE' || word === 'ENABLE') && isWord(next, 'KEYS')) return []
  if (NO_OPS.has(word)) return []
  throw refuse(`ALTER TABLE … ${text}`, REBUILD)
}

/**
 * ADD [CONSTRAINT s] FOREIGN KEY [i] (cols) REFERENCES … (knex adds every foreign
 * key so): SQLite cannot add a constraint to a table, so the table is rebuilt as
 * SQLite's documentation describes: a new table with the constraint, the rows
 * copied, the sqlite_sequence row kept (the next id stays MySQL's), the old table
 * dropped, the new one renamed, then its indexes and triggers created again, and
 * the views and other triggers that name it (SQLite checks them at the rename)
 * dropped before and created after. Plus the index MySQL adds on the foreign
 * key's columns when none starts with them. The statements are read from the
 * catalog, so this needs it, and the foreign key must be the ALTER's only action.
 */
function addForeignKey(
  edits: TokenEdits,
  { from, to }: Span,
  table: string,
  symbol: string | undefined,
  taken: Set<string>,
  ctx: SqliteContext,
): string[] {
  const { tokens } = edits
  const info = ctx.table?.(table)
  if (!info)
    throw refuse(
      'ALTER TABLE … ADD FOREIGN KEY here',
      "SQLite rebuilds the table to add a constraint, which needs the store's catalog",
    )
  const actions = splitList(tokens, tokens.findIndex((t) => isWord(t, 'TABLE')) + 2, to)
  if (actions.length > 1)
    throw refuse(
      'ADD FOREIGN KEY beside other actions',
      'SQLite rebuilds the table for it; add it in an ALTER TABLE of its own',
    )
  let k = from + 2
  const indexName = isPunct(tokens[k], '(') ? undefined : nameOf(tokens[k++])
  const close = closeOf(tokens, k)
  const columns = splitList(tokens, k + 1, close).map((s) => nameOf(tokens[s.from]) ?? '')
  const reference = readReference(edits, close + 1)
  const constraint = `${symbol ? `CONSTRAINT ${sqlName(symbol)} ` : ''}FOREIGN KEY (${columns.map(sqlName).join(', ')}) ${reference.text}`
  const temp = `ddb_rebuild_${info.name}`
  const lexed = tokenize(info.sql)
  const open = lexed.findIndex((t) => isPunct(t, '('))
  const end = closeOf(lexed, open)
  if (open < 0 || end >= lexed.length)
    throw refuse('ADD FOREIGN KEY here', `cannot read the definition of ${info.name}`)
  const create = `CREATE TABLE ${sqlName(temp)} ${info.sql.slice(lexed[open]!.start, lexed[end]!.start)}, ${constraint}${info.sql.slice(lexed[end]!.start)}`
  const copied = info.columns.filter((c) => !c.generated).map((c) => sqlName(c.name))
  const order = info.rowid !== undefined || !/\bWITHOUT\s+ROWID\b/i.test(info.sql) ? 'rowid' : '1'
  const out = [
    create,
    `INSERT INTO ${sqlName(temp)} (${copied.join(', ')}) SELECT ${copied.join(', ')} FROM ${sqlName(info.name)} ORDER BY ${order}`,
  ]
  if (info.autoIncrement)
    out.push(
      `DELETE FROM sqlite_sequence WHERE name = ${sqlString(temp)}`,
      `INSERT INTO sqlite_sequence (name, seq) SELECT ${sqlString(temp)}, seq FROM sqlite_sequence WHERE name = ${sqlString(info.name)} ORDER BY seq DESC LIMIT 1`,
    )
  for (const d of info.dependents) out.push(`DROP ${d.type.toUpperCase()} ${sqlName(d.name)}`)
  out.push(`DROP TABLE ${sqlName(info.name)}`, `ALTER TABLE ${sqlName(temp)} RENAME TO ${sqlName(info.name)}`)
  for (const i of info.indexes) if (i.sql) out.push(i.sql)
  const key = info.columns.filter((c) => c.primaryKey > 0).sort((a, b) => a.primaryKey - b.primaryKey)
  const covered = [key.map((c) => c.name), ...info.indexes.map((i) => i.columns)].some((cols) =>
    columns.every((c, n) => cols[n]?.toLowerCase() === c.toLowerCase()),
  )
  if (!covered) {
    const parts = columns.map((c) => ({ column: c, text: sqlName(c) }))
    const name = symbol ?? indexName ?? defaultIndexName(parts, taken)
    taken.add(name.toLowerCase())
    out.push(createIndex(info.name, name, { unique: false, parts }, false))
  }
  for (const t of info.triggers) if (t.sql) out.push(t.sql)
  for (const d of info.dependents) out.push(d.sql)
  return out
}

/** ADD COLUMN for the column definition in `item`, plus the index of an inline UNIQUE. */
function addColumn(
  edits: TokenEdits,
  { from, to }: Span,
  table: string,
  alter: string,
  taken: Set<string>,
  ctx: SqliteContext,
): string[] {
  const { tokens } = edits
  if (isWord(tokens[to - 1], 'FIRST') || isWord(tokens[to - 2], 'AFTER'))
    throw refuse(
      'ADD COLUMN … FIRST or AFTER',
      'SQLite adds a column last, so SELECT * and INSERT without a column list would see another order; add it last',
    )
  const column = readColumn(edits, from, to)
  if (column.primary || column.autoIncrement)
    throw refuse(`ADD COLUMN ${column.name} as a PRIMARY KEY or AUTO_INCREMENT`, REBUILD)
  if (column.writtenDefault && ctx.table?.(table)?.hasRows?.())
    throw refuse(
      `ADD COLUMN ${column.name} with a default that is not a constant, to a table that has rows`,
      "MySQL fills the rows there with the default's value at the ALTER; SQLite cannot (ddb writes such a default into each INSERT); add the column without the default, UPDATE it, or add it while the table is empty",
    )
  const out = [`${alter} ADD COLUMN ${columnText(column, { rowid: false, primary: false, binaryTable: false })}`]
  if (column.unique) {
    const name = defaultIndexName([{ column: column.name, text: '' }], taken)
    taken.add(name.toLowerCase())
    out.push(
      createIndex(table, name, { unique: true, parts: [{ column: column.name, text: sqlName(column.name) }] }, false),
    )
  }
  return out
}
