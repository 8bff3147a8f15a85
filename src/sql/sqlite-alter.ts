/**
 * ALTER TABLE in MySQL's dialect, action by action, as SQLite statements.
 * SQLite can add, drop and rename columns and rename the table; indexes are
 * separate statements there. What would change a column or a constraint in
 * place is refused: SQLite can only rebuild the table.
 *
 * - ADD [COLUMN] def (or (def, …)) → ADD COLUMN (columns as in CREATE TABLE);
 *   FIRST/AFTER, PRIMARY KEY and AUTO_INCREMENT columns are refused.
 * - ADD INDEX/KEY/UNIQUE → CREATE INDEX; DROP INDEX/KEY → DROP INDEX.
 * - DROP [COLUMN], RENAME [TO] and RENAME COLUMN → the same in SQLite.
 * - AUTO_INCREMENT = n → the table's row of sqlite_sequence.
 * - ENGINE, CHARSET, COLLATE, COMMENT, ROW_FORMAT, ALGORITHM, LOCK, FORCE,
 *   DISABLE/ENABLE KEYS (mysqldump) → nothing to do.
 * - Refused: MODIFY, CHANGE, ALTER COLUMN, CONVERT TO, ADD/DROP PRIMARY KEY,
 *   FOREIGN KEY, CHECK or CONSTRAINT, RENAME INDEX, ORDER BY, PARTITION.
 */
import { isPunct, isWord } from './lexer.ts'
import { columnText, readColumn } from './sqlite-columns.ts'
import { sqliteIndexOf } from './sqlite-ddl.ts'
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
} from './sqlite-edits.ts'
import { createIndex, defaultIndexName, readIndex } from './sqlite-indexes.ts'
import type { SqliteContext } from './sqlite-table-info.ts'

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
    if (isWord(tokens[k], 'CONSTRAINT')) {
      k++
      if (!isWord(tokens[k], 'UNIQUE')) k++
    }
    const kind = tokens[k]?.value
    if (kind === 'INDEX' || kind === 'KEY' || kind === 'UNIQUE') {
      const unique = kind === 'UNIQUE'
      if (unique && (isWord(tokens[k + 1], 'INDEX') || isWord(tokens[k + 1], 'KEY'))) k++
      const { index } = readIndex(edits, k + 1, unique, unique ? 'UNIQUE KEY' : 'KEY')
      const name = index.name ?? defaultIndexName(index.parts, taken)
      taken.add(name.toLowerCase())
      return [createIndex(table, name, index, false)]
    }
    if (
      kind === 'PRIMARY' ||
      kind === 'FOREIGN' ||
      kind === 'CHECK' ||
      kind === 'FULLTEXT' ||
      kind === 'SPATIAL' ||
      kind === 'PERIOD'
    )
      throw refuse(`ALTER TABLE … ${text}`, REBUILD)
    if (kind === 'COLUMN') k++
    const items = isPunct(tokens[k], '(') ? splitList(tokens, k + 1, closeOf(tokens, k)) : [{ from: k, to }]
    return items.flatMap((item) => addColumn(edits, item, table, alter, taken))
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

/** ADD COLUMN for the column definition in `item`, plus the index of an inline UNIQUE. */
function addColumn(edits: TokenEdits, { from, to }: Span, table: string, alter: string, taken: Set<string>): string[] {
  const { tokens } = edits
  if (isWord(tokens[to - 1], 'FIRST') || isWord(tokens[to - 2], 'AFTER'))
    throw refuse(
      'ADD COLUMN … FIRST or AFTER',
      'SQLite adds a column last, so SELECT * and INSERT without a column list would see another order; add it last',
    )
  const column = readColumn(edits, from, to)
  if (column.primary || column.autoIncrement)
    throw refuse(`ADD COLUMN ${column.name} as a PRIMARY KEY or AUTO_INCREMENT`, REBUILD)
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
