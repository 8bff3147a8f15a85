/**
 * The parts of MySQL's SELECT (anywhere: a query, a subquery, INSERT … SELECT)
 * that SQLite spells otherwise or does not have:
 *
 * - LIMIT a, b → LIMIT b OFFSET a (SQLite reads LIMIT a, b the same way too);
 * - FROM DUAL → nothing;
 * - index hints (USE/FORCE/IGNORE INDEX (…)) → nothing: they choose a plan, not rows;
 * - FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE → nothing: a SQLite store runs
 *   one writing transaction at a time, so no other client's write can come
 *   between the read and the end of the transaction;
 * - HIGH_PRIORITY, STRAIGHT_JOIN, SQL_SMALL_RESULT, SQL_BIG_RESULT,
 *   SQL_BUFFER_RESULT, SQL_CACHE, SQL_NO_CACHE → nothing; DISTINCTROW → DISTINCT;
 *   a STRAIGHT_JOIN b → a JOIN b;
 * - db.t after FROM, JOIN, INTO, UPDATE, TABLE, VIEW → t, and db.t.c → t.c: every
 *   database name selects the store's one database (a slave's, that one database only).
 *
 * Refused: SQL_CALC_FOUND_ROWS (FOUND_ROWS() has nothing to read), WITH ROLLUP.
 */
import { isPunct, isWord, type Token } from '../lexer.ts'
import { closeOf, nameOf, refuse, type TokenEdits } from './edits.ts'

const DROPPED_MODIFIERS = new Set([
  'HIGH_PRIORITY',
  'SQL_SMALL_RESULT',
  'SQL_BIG_RESULT',
  'SQL_BUFFER_RESULT',
  'SQL_CACHE',
  'SQL_NO_CACHE',
])

/** Words after which a table name comes. */
const TABLE_BEFORE = new Set(['FROM', 'JOIN', 'INTO', 'UPDATE', 'TABLE', 'VIEW'])

/** Schema names left alone: SQLite's own, and information_schema (catalog.ts). */
const SQLITE_SCHEMAS = new Set(['main', 'temp', 'information_schema'])

/** Rewrites the query clauses of the whole statement (see the module comment). */
export function translateQueries(edits: TokenEdits, onlyDatabase?: string): void {
  const { tokens } = edits
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    if (t.type !== 'word' && t.type !== 'identifier') continue
    const next = tokens[i + 1]
    if (t.type === 'identifier') {
      if (isPunct(next, '.')) qualifier(edits, i, onlyDatabase)
      continue
    }
    switch (t.value) {
      case 'LIMIT':
        limit(edits, i)
        break
      case 'FROM':
        if (isWord(next, 'DUAL')) edits.remove(i, i + 2)
        break
      case 'USE':
      case 'FORCE':
      case 'IGNORE':
        if ((isWord(next, 'INDEX') || isWord(next, 'KEY')) && i > 0) i = indexHint(edits, i)
        break
      case 'FOR':
        if (isWord(next, 'UPDATE') || isWord(next, 'SHARE')) i = lockingRead(edits, i)
        break
      case 'LOCK':
        if (isWord(next, 'IN') && isWord(tokens[i + 2], 'SHARE')) edits.remove(i, i + 4)
        break
      case 'STRAIGHT_JOIN':
        if (modifierPosition(tokens, i)) edits.remove(i)
        else edits.replace(i, 'JOIN')
        break
      case 'DISTINCTROW':
        edits.replace(i, 'DISTINCT')
        break
      case 'SQL_CALC_FOUND_ROWS':
        throw refuse('SQL_CALC_FOUND_ROWS', 'FOUND_ROWS() is not available; run a SELECT COUNT(*) as well')
      case 'WITH':
        if (isWord(next, 'ROLLUP'))
          throw refuse('WITH ROLLUP', 'SQLite has no super-aggregate rows; compute the totals apart')
        break
      default:
        if (DROPPED_MODIFIERS.has(t.value) && modifierPosition(tokens, i)) edits.remove(i)
        else if (isPunct(next, '.')) qualifier(edits, i, onlyDatabase)
    }
  }
}

/** Whether tokens[i] sits among a SELECT's modifiers (after SELECT, before the first expression). */
function modifierPosition(tokens: Token[], i: number): boolean {
  let j = i - 1
  while (
    j > 0 &&
    tokens[j]?.type === 'word' &&
    (DROPPED_MODIFIERS.has(tokens[j]!.value) || ['DISTINCT', 'ALL', 'STRAIGHT_JOIN'].includes(tokens[j]!.value))
  )
    j--
  return isWord(tokens[j], 'SELECT')
}

/** LIMIT a, b with single-token operands → LIMIT b OFFSET a. */
function limit(edits: TokenEdits, i: number): void {
  const { tokens } = edits
  const [a, comma, b, after] = [tokens[i + 1], tokens[i + 2], tokens[i + 3], tokens[i + 4]]
  const operand = (t: Token | undefined): boolean => t?.type === 'number' || t?.type === 'param'
  if (!operand(a) || !isPunct(comma, ',') || !operand(b) || isPunct(after, '.')) return
  edits.replace(i + 1, b!.text)
  edits.replace(i + 2, ' OFFSET')
  edits.replace(i + 3, a!.text)
}

/** Removes the index hint at tokens[i]: {USE|FORCE|IGNORE} {INDEX|KEY} [FOR …] (…); returns the last index removed. */
function indexHint(edits: TokenEdits, i: number): number {
  const { tokens } = edits
  let j = i + 2
  if (isWord(tokens[j], 'FOR')) j += isWord(tokens[j + 1], 'JOIN') ? 2 : 3
  if (!isPunct(tokens[j], '(')) return i
  const close = closeOf(tokens, j)
  edits.remove(i, close + 1)
  return close
}

/** Removes FOR UPDATE|SHARE [OF t, …] [NOWAIT | SKIP LOCKED] at tokens[i]; returns the last index removed. */
function lockingRead(edits: TokenEdits, i: number): number {
  const { tokens } = edits
  let j = i + 2
  if (isWord(tokens[j], 'OF')) {
    j++
    while (nameOf(tokens[j]) !== undefined) j += isPunct(tokens[j + 1], ',') ? 2 : 1
  }
  if (isWord(tokens[j], 'NOWAIT')) j++
  else if (isWord(tokens[j], 'SKIP') && isWord(tokens[j + 1], 'LOCKED')) j += 2
  else if (isWord(tokens[j], 'WAIT')) j += 2
  edits.remove(i, j)
  return j - 1
}

/** Drops the database of a qualified name at tokens[i]: db.t where a table name goes, or db.t.c anywhere. */
function qualifier(edits: TokenEdits, i: number, onlyDatabase: string | undefined): void {
  const { tokens } = edits
  const name = nameOf(tokens[i])
  if (name === undefined || SQLITE_SCHEMAS.has(name.toLowerCase()) || isPunct(tokens[i - 1], '.')) return
  if (nameOf(tokens[i + 2]) === undefined) return
  const threePart = isPunct(tokens[i + 3], '.') && nameOf(tokens[i + 4]) !== undefined
  // FROM (db.a JOIN db.b …), as MySQL writes a view's joins: the parentheses before it do not count.
  let k = i - 1
  while (isPunct(tokens[k], '(')) k--
  const before = tokens[k]
  if (!threePart && !(before?.type === 'word' && TABLE_BEFORE.has(before.value))) return
  if (onlyDatabase !== undefined && name !== onlyDatabase)
    throw refuse(`${name}.${nameOf(tokens[i + 2])}`, `this store holds database ${onlyDatabase} only`)
  edits.remove(i, i + 2)
}
