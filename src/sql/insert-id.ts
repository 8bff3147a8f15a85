/**
 * The id a MySQL client is told an INSERT generated (the OK packet's insert id)
 * and what LAST_INSERT_ID() then holds. MySQL reports:
 *
 * - 0 for a table without an AUTO_INCREMENT column, and when no row was inserted;
 * - the FIRST id a multi-row INSERT generated;
 * - for rows that all give their id, the last one given; LAST_INSERT_ID() stays
 *   what it was (it only ever holds a generated id).
 *
 * A MySQL store's OK packet has MySQL's id already, but ddb's session (not the
 * store's connection) keeps LAST_INSERT_ID(), so it must know whether the id was
 * generated. A SQLite store reports the rowid of the last row it inserted,
 * whatever the table; a statement's generated ids are consecutive on the single
 * writer, so the first is the last minus the rows before it.
 *
 * Which case an INSERT is comes from the statement as the client sent it: the id
 * column left out, or given NULL, DEFAULT or 0 (unless sql_mode has
 * NO_AUTO_VALUE_ON_ZERO), asks for an id; a number gives one. Anything ddb cannot
 * read ahead (an expression, an INSERT … SELECT of the id, rows of both kinds, an
 * upsert that may update instead) keeps the store's figure: see the README.
 */
import type { Param } from '../entry.ts'
import { isPunct, isWord, type Token } from './lexer.ts'
import { closeOf, findTop, nameOf, queryArms, type Span, splitList } from './sqlite/edits.ts'

/** What the insert id needs to know of a table: its columns in order and its AUTO_INCREMENT column. */
export interface IdTable {
  columns: ReadonlyArray<{ name: string }>
  /** The AUTO_INCREMENT column; undefined when the table has none. */
  autoIncrement: string | undefined
}

/** Where an INSERT's ids come from: no AUTO_INCREMENT column, all generated, all given, or not known ahead. */
export type IdSource = 'none' | 'generated' | 'given' | 'unknown'

/** What the store said an INSERT did. */
export interface InsertOutcome {
  affectedRows: number
  /** SQLite's last inserted rowid. */
  insertId: number
}

/** The id to report, and whether it is a generated one (which LAST_INSERT_ID() then holds). */
export interface ReportedId {
  insertId: number
  generated: boolean
}

/**
 * What MySQL would report for an INSERT whose ids come from `source`, from what
 * the store said: a MySQL store's figure as it is, a SQLite store's last rowid made MySQL's.
 */
export function reportedInsertId(source: IdSource, outcome: InsertOutcome, store: 'mysql' | 'sqlite'): ReportedId {
  const { affectedRows: rows, insertId: last } = outcome
  if (store === 'mysql') return { insertId: last, generated: source !== 'given' && source !== 'none' && last > 0 }
  if (source === 'none' || rows === 0) return { insertId: 0, generated: false }
  if (source === 'generated') return { insertId: last - rows + 1, generated: true }
  if (source === 'given') return { insertId: last, generated: false }
  return { insertId: last, generated: last > 0 }
}

/** The table an INSERT or REPLACE writes (a db.t qualifier dropped); undefined for another statement. */
export function insertTarget(tokens: Token[]): { name: string; db?: string; end: number } | undefined {
  let k = 0
  if (!isWord(tokens[k], 'INSERT') && !isWord(tokens[k], 'REPLACE')) return undefined
  k++
  while (['LOW_PRIORITY', 'DELAYED', 'HIGH_PRIORITY', 'IGNORE', 'INTO'].includes(tokens[k]?.value ?? '')) k++
  const first = nameOf(tokens[k])
  if (first === undefined) return undefined
  if (!isPunct(tokens[k + 1], '.')) return { name: first, end: k + 1 }
  const name = nameOf(tokens[k + 2])
  return name === undefined ? undefined : { name, db: first, end: k + 3 }
}

/**
 * Where the ids of the MySQL INSERT or REPLACE in `tokens` come from, given its
 * table (see insertTarget); `zeroIsId`: sql_mode has NO_AUTO_VALUE_ON_ZERO.
 */
export function insertIdSource(tokens: Token[], params: Param[], table: IdTable, zeroIsId: boolean): IdSource {
  const id = table.autoIncrement
  if (!id) return 'none'
  let k = insertTarget(tokens)?.end ?? tokens.length
  const end = isPunct(tokens.at(-1), ';') ? tokens.length - 1 : tokens.length
  if (findTop(tokens, k, end, (t, j) => isWord(t, 'DUPLICATE') && isWord(tokens[j + 1], 'KEY')) >= 0) return 'unknown'
  if (isWord(tokens[k], 'PARTITION')) k = closeOf(tokens, k + 1) + 1
  const value = (span: Span | undefined) => idValue(tokens, span, params, zeroIsId)
  if (isWord(tokens[k], 'SET')) {
    const assignment = splitList(tokens, k + 1, end).find((a) => sameName(nameOf(tokens[a.from]), id))
    return assignment ? value({ from: assignment.from + 2, to: assignment.to }) : 'generated'
  }
  // Without a column list, MySQL's VALUES give every column, generated ones (as DEFAULT) too.
  let position = table.columns.findIndex((c) => sameName(c.name, id))
  if (isPunct(tokens[k], '(') && !isWord(tokens[k + 1], 'SELECT') && !isWord(tokens[k + 1], 'WITH')) {
    const close = closeOf(tokens, k)
    position = splitList(tokens, k + 1, close).findIndex((c) => sameName(nameOf(tokens[c.from]), id))
    k = close + 1
    if (position < 0) return 'generated'
  }
  if (isWord(tokens[k], 'VALUE')) return rowsSource(tokens, k, end, position, value)
  const arms = queryArms(tokens, k, end)
  if (!arms || arms.some((a) => a.kind !== 'values')) return 'unknown'
  return combine(
    arms
      .flatMap((a) => (a.kind === 'values' ? a.rows : []))
      .map((r) => value(splitList(tokens, r.from, r.to)[position])),
  )
}

/** MySQL's `VALUE (…), (…)`, which queryArms (SQLite's VALUES) does not read. */
function rowsSource(
  tokens: Token[],
  k: number,
  end: number,
  position: number,
  value: (span: Span | undefined) => IdSource,
): IdSource {
  const rows = splitList(tokens, k + 1, end)
  if (rows.some((r) => !isPunct(tokens[r.from], '(') || !isPunct(tokens[r.to - 1], ')'))) return 'unknown'
  return combine(rows.map((r) => value(splitList(tokens, r.from + 1, r.to - 1)[position])))
}

/** Column names match in any case, as in MySQL. */
const sameName = (a: string | undefined, b: string) => a !== undefined && a.toLowerCase() === b.toLowerCase()

/** One source for all rows, or unknown when they differ. */
function combine(sources: IdSource[]): IdSource {
  const [first] = sources
  return first !== undefined && sources.every((s) => s === first) ? first : 'unknown'
}

/** Whether the id value in `span` asks for an id (NULL, DEFAULT, 0) or gives one (a number). */
function idValue(tokens: Token[], span: Span | undefined, params: Param[], zeroIsId: boolean): IdSource {
  if (!span || span.to - span.from !== 1) {
    const negative = span && span.to - span.from === 2 && isPunct(tokens[span.from], '-')
    return negative && tokens[span.from + 1]?.type === 'number' ? 'given' : 'unknown'
  }
  const t = tokens[span.from]!
  if (isWord(t, 'NULL') || isWord(t, 'DEFAULT')) return 'generated'
  let v: Param | undefined
  if (t.type === 'number') v = t.text
  else if (t.type === 'string') v = t.value
  else if (t.type === 'param') v = params[tokens.slice(0, span.from).filter((p) => p.type === 'param').length]
  else return 'unknown'
  if (v === null) return 'generated'
  if (typeof v === 'object' || v === undefined || !Number.isFinite(Number(v)) || String(v).trim() === '')
    return 'unknown'
  return Number(v) === 0 && !zeroIsId ? 'generated' : 'given'
}
