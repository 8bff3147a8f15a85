/**
 * MySQL index definitions as SQLite CREATE INDEX statements. MySQL names an
 * index within its table, SQLite within the database (sysbench gives every
 * table an index k_1), so an index `i` of table `t` is named `t.i` in SQLite;
 * the catalog (catalog.ts) shows it as `i` again.
 *
 * Key parts keep ASC/DESC and functional parts `((expr))`; a prefix length
 * `col(10)` is dropped from a plain index (it only bounds the index's size) and
 * refused in a UNIQUE or PRIMARY key, where it changes what counts as a duplicate.
 */
import { isPunct, isWord, type Token } from '../lexer.ts'
import { closeOf, nameOf, refuse, splitList, sqlName, type TokenEdits } from './edits.ts'

/** One part of an index key. */
export interface KeyPart {
  /** The column, for a plain column part. */
  column?: string
  /** The part as SQLite gets it: `col` DESC, (expr). */
  text: string
}

/** An index read from a MySQL definition. */
export interface IndexDef {
  /** MySQL's name for it; undefined when the definition names none. */
  name?: string
  unique: boolean
  parts: KeyPart[]
}

/** Words of MySQL index options, each followed by its value (KEY_BLOCK_SIZE = 8, COMMENT 'x', USING BTREE). */
const VALUED_OPTIONS = new Set([
  'KEY_BLOCK_SIZE',
  'USING',
  'COMMENT',
  'ENGINE_ATTRIBUTE',
  'SECONDARY_ENGINE_ATTRIBUTE',
  'CLUSTERING',
  'ALGORITHM',
  'LOCK',
])

/** Option words with no value. */
const BARE_OPTIONS = new Set(['VISIBLE', 'INVISIBLE', 'IGNORED'])

/** SQLite's name for index `index` of table `table`. */
export function sqliteIndexName(table: string, index: string): string {
  return `${table}.${index}`
}

/** The CREATE INDEX statement for `index` of `table`, named `name` (MySQL's name). */
export function createIndex(table: string, name: string, index: IndexDef, ifNotExists: boolean): string {
  const parts = index.parts.map((p) => p.text).join(', ')
  return `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${ifNotExists ? 'IF NOT EXISTS ' : ''}${sqlName(sqliteIndexName(table, name))} ON ${sqlName(table)} (${parts})`
}

/** A name for an unnamed index on `parts`, as MySQL chooses: its first column, then _2, _3 … while taken. */
export function defaultIndexName(parts: KeyPart[], taken: Set<string>): string {
  const base = parts[0]?.column ?? 'functional_index'
  let name = base
  for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${base}_${n}`
  return name
}

/**
 * Reads `[name] [USING x] (parts) [options]` from tokens[k]: the rest of an
 * index definition after KEY, INDEX, UNIQUE [KEY] or PRIMARY KEY. `what` names
 * it in refusals. Returns the index and where its definition ends.
 */
export function readIndex(
  edits: TokenEdits,
  k: number,
  unique: boolean,
  what: string,
): { index: IndexDef; end: number } {
  const { tokens } = edits
  let name: string | undefined
  if (!isPunct(tokens[k], '(') && !isWord(tokens[k], 'USING')) name = nameOf(tokens[k++])
  k = skipOptions(tokens, k)
  if (!isPunct(tokens[k], '(')) throw refuse(`${what} without a column list`, 'cannot read the index definition')
  const close = closeOf(tokens, k)
  const parts = readKeyParts(edits, k + 1, close, unique, what)
  return { index: { name, unique, parts }, end: skipOptions(tokens, close + 1) }
}

/** Skips index options at tokens[k]; returns the index after them. */
export function skipOptions(tokens: Token[], k: number): number {
  for (;;) {
    const t = tokens[k]
    if (t?.type !== 'word') return k
    if (BARE_OPTIONS.has(t.value)) k++
    else if (isWord(t, 'NOT') && isWord(tokens[k + 1], 'IGNORED')) k += 2
    else if (isWord(t, 'WITH') && isWord(tokens[k + 1], 'PARSER')) k += 3
    else if (VALUED_OPTIONS.has(t.value)) k += isPunct(tokens[k + 1], '=') ? 3 : 2
    else return k
  }
}

/** Reads the key parts in tokens [from, to). */
function readKeyParts(edits: TokenEdits, from: number, to: number, unique: boolean, what: string): KeyPart[] {
  const { tokens } = edits
  return splitList(tokens, from, to).map(({ from: a, to: b }) => {
    let order = ''
    let end = b
    if (isWord(tokens[end - 1], 'ASC') || isWord(tokens[end - 1], 'DESC')) order = ` ${tokens[--end]!.value}`
    if (isPunct(tokens[a], '(')) return { text: `(${edits.text(a + 1, closeOf(tokens, a))})${order}` }
    const column = nameOf(tokens[a])
    if (column === undefined) throw refuse(`${what} on ${edits.source(a, b)}`, 'cannot read the key part')
    if (isPunct(tokens[a + 1], '(') && unique)
      throw refuse(
        `a prefix length in ${what} (${edits.source(a, end)})`,
        'SQLite indexes whole values, so it would treat other values as duplicates than MySQL does; index the whole column',
      )
    return { column, text: `${sqlName(column)}${order}` }
  })
}

/** MySQL's name for SQLite index `sqliteName` of table `table`: without the `table.` prefix (or, after a rename, any prefix). */
export function mysqlIndexName(table: string, sqliteName: string): string {
  if (sqliteName.startsWith(`${table}.`)) return sqliteName.slice(table.length + 1)
  const dot = sqliteName.indexOf('.')
  return dot >= 0 ? sqliteName.slice(dot + 1) : sqliteName
}
