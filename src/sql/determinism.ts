/**
 * Makes a write statement mean the same on every node. The master executes a
 * statement and logs its text; slaves replay that text later, on other servers.
 * So before the master executes it, every function whose value depends on when,
 * where or how often it runs is either rewritten into a literal (which then both
 * the master and the slaves execute) or refused. Functions are found with the
 * lexer, so strings, quoted identifiers and comments never count.
 *
 * Where a statement evaluates a function decides what can be done with it:
 * once per occurrence (INSERT … VALUES, a SELECT without FROM) → a literal is
 * exact; once per row (UPDATE, DELETE, INSERT … SELECT, subqueries) → one literal
 * would give every row the same value, so it is refused; later on each server
 * (column defaults, trigger bodies) → refused too. SQLite's clock is constant
 * within a statement, so its uses are rewritten wherever the statement runs them.
 *
 * This module holds the statement walk: it checks LIMIT and ORDER BY, splits the
 * statement into regions by how they are evaluated, and splices in the edits.
 * One occurrence is handled in determinism-occurrence.ts; the rules and the
 * literals they write are in determinism-rules.ts.
 */
import { classifyTokens } from './classify.ts'
import { refuseTimeDefaults, TABLE_DDL } from './clock-defaults.ts'
import { apply, type Evaluation, fits, isName, variableReason } from './determinism-occurrence.ts'
import { closing, type DeterminismContext, type Edit, RULES, readUse, unsafe } from './determinism-rules.ts'
import { isPunct, isWord, type Token, tokenize } from './lexer.ts'

export type { DeterminismContext, Dialect } from './determinism-rules.ts'

/** A write statement ready for the master to execute and log. */
export interface Prepared {
  /** The text the master executes and logs (identical to the input when nothing needed rewriting). */
  sql: string
  /** True when sql differs from the input (the log then keeps the original too, for auditing). */
  rewritten: boolean
}

/** The tokens [from, to) of a statement, and how the statement evaluates them. */
type Region = Evaluation & { from: number; to: number }

/** Words that join queries into one result, at a query's own level. */
const SET_OPERATORS = new Set(['UNION', 'EXCEPT', 'INTERSECT'])

/** What picks rows, as refusals about row order name it: [subject, what it does to rows, what slaves could do]. */
const ROW_PICKERS = {
  UPDATE: ['UPDATE', 'changes', 'change'],
  DELETE: ['DELETE', 'deletes', 'delete'],
  INSERT: ['INSERT … SELECT', 'copies', 'copy'],
  REPLACE: ['REPLACE … SELECT', 'copies', 'copy'],
  'CREATE TABLE': ['CREATE TABLE … SELECT', 'copies', 'copy'],
  'CREATE TRIGGER': ['a statement in a trigger', 'touches', 'touch'],
  subquery: ['a subquery', 'returns', 'get'],
} satisfies Record<string, [string, string, string]>

/** What picks the rows of a statement or a subquery. */
type Picker = keyof typeof ROW_PICKERS

/**
 * Rewrites non-deterministic functions into literals, or throws DdbError code
 * 'UNSAFE_STATEMENT' with a reason naming the function/clause. `tokens`: the
 * statement already lexed, when the caller has them (saves lexing it again).
 */
export function makeDeterministic(sql: string, ctx: DeterminismContext, tokens: Token[] = tokenize(sql)): Prepared {
  const { kind, keyword } = classifyTokens(tokens)
  if (kind !== 'write' && kind !== 'ddl') return { sql, rewritten: false }
  if (ctx.dialect === 'sqlite' && TABLE_DDL.has(keyword)) refuseTimeDefaults(sql, tokens)
  const edits = collectEdits(sql, tokens, regions(tokens, keyword), ctx)
  return edits.length === 0 ? { sql, rewritten: false } : { sql: splice(sql, edits), rewritten: true }
}

/** Checks the statement's shape (LIMIT and ORDER BY) and returns the regions the rules apply to; statements no rule concerns get none. */
function regions(tokens: Token[], keyword: string): Region[] {
  const n = tokens.length
  switch (keyword) {
    case 'INSERT':
    case 'REPLACE':
      return insertRegions(tokens, keyword)
    case 'UPDATE':
    case 'DELETE':
      checkLimits(tokens, 0, n, keyword)
      return [{ from: 0, to: n, evaluation: 'per-row', where: keyword === 'UPDATE' ? 'an UPDATE' : 'a DELETE' }]
    case 'CREATE TABLE':
      return createTableRegions(tokens)
    case 'ALTER TABLE':
      return [{ from: 0, to: n, evaluation: 'definition' }]
    case 'CREATE TRIGGER': {
      const body = triggerBody(tokens)
      checkLimits(tokens, body, n, keyword)
      return [{ from: body, to: n, evaluation: 'trigger' }]
    }
  }
  return []
}

/** Regions of INSERT or REPLACE, by the source of its rows: VALUES, SET, or a query. */
function insertRegions(tokens: Token[], verb: 'INSERT' | 'REPLACE'): Region[] {
  const n = tokens.length
  checkLimits(tokens, 0, n, verb)
  const main = findAtTopLevel(tokens, 0, n, (t) => isWord(t, verb))
  const source = findSource(tokens, main + 1, true)
  if (source < 0)
    return [{ from: 0, to: n, evaluation: 'per-row', where: verb === 'INSERT' ? 'an INSERT' : 'a REPLACE' }]
  if (isWord(tokens[source], 'SET')) return [{ from: 0, to: n, evaluation: 'once' }]
  if (isWord(tokens[source], 'VALUES') || isWord(tokens[source], 'VALUE')) {
    const { end, rows } = valuesList(tokens, source)
    if (rows === 1) return [{ from: 0, to: n, evaluation: 'once' }]
    return [
      { from: 0, to: end, evaluation: 'once' },
      { from: end, to: n, evaluation: 'per-row', where: 'the clauses after a multi-row VALUES list' },
    ]
  }
  return [
    { from: 0, to: source, evaluation: 'once' },
    ...queryRegions(tokens, source, verb, verb === 'INSERT' ? 'an INSERT … SELECT' : 'a REPLACE … SELECT'),
  ]
}

/** Regions of CREATE TABLE: its definitions, then the query that fills it, if any. */
function createTableRegions(tokens: Token[]): Region[] {
  const table = findAtTopLevel(tokens, 0, tokens.length, (t) => isWord(t, 'TABLE'))
  const source = findSource(tokens, table + 1, false)
  if (source < 0) return [{ from: 0, to: tokens.length, evaluation: 'definition' }]
  checkLimits(tokens, source, tokens.length, 'CREATE TABLE')
  return [
    { from: 0, to: source, evaluation: 'definition' },
    ...queryRegions(tokens, source, 'CREATE TABLE', 'a CREATE TABLE … SELECT'),
  ]
}

/**
 * Regions from a query that supplies rows (at tokens[source]) to the end: evaluated
 * once when it selects one row without FROM, per row otherwise, and then refused
 * without a top-level ORDER BY, since the order rows arrive in decides generated keys.
 */
function queryRegions(tokens: Token[], source: number, picker: Picker, where: string): Region[] {
  const n = tokens.length
  const end = queryEnd(tokens, source)
  let select = source
  while (isPunct(tokens[select], '(')) select++
  if (selectsOneRow(tokens, source, end))
    return [
      { from: source, to: select, evaluation: 'once' },
      { from: select, to: n, evaluation: 'once' },
    ]
  if (!isOrdered(tokens, source, end)) {
    throw unsafe(
      `${ROW_PICKERS[picker][0]} without ORDER BY: the order it inserts rows in is not defined, so generated keys (AUTO_INCREMENT, rowid) and which duplicates are kept could differ on slaves; add ORDER BY on a unique key`,
    )
  }
  return [{ from: source, to: n, evaluation: 'per-row', where }]
}

/**
 * Finds where the rows of INSERT or CREATE TABLE come from, searching at depth 0
 * from `from`: a query (SELECT, WITH, INSERT's TABLE, or one in parentheses), or
 * for INSERT also VALUES or SET. Returns its index, or -1.
 */
function findSource(tokens: Token[], from: number, insert: boolean): number {
  let depth = 0
  for (let k = from; k < tokens.length; k++) {
    const t = tokens[k]!
    if (depth === 0 && startsQuery(tokens, k, insert)) return k
    if (isPunct(t, '(')) depth++
    else if (isPunct(t, ')')) depth--
    else if (
      depth === 0 &&
      insert &&
      t.type === 'word' &&
      (t.value === 'VALUES' || t.value === 'VALUE' || t.value === 'SET')
    )
      return k
  }
  return -1
}

/** Whether tokens[k] starts a query: SELECT, WITH (not MariaDB's WITH SYSTEM VERSIONING), TABLE after INSERT, or parentheses around one. */
function startsQuery(tokens: Token[], k: number, insert: boolean): boolean {
  let j = k
  while (isPunct(tokens[j], '(')) j++
  const t = tokens[j]
  if (t?.type !== 'word') return false
  return (
    t.value === 'SELECT' ||
    (t.value === 'WITH' && !isWord(tokens[j + 1], 'SYSTEM')) ||
    (insert && j === k && t.value === 'TABLE')
  )
}

/** Reads the row list after VALUES at tokens[values]: where it ends and how many rows it has. */
function valuesList(tokens: Token[], values: number): { end: number; rows: number } {
  let depth = 0
  let rows = 1
  for (let k = values + 1; k < tokens.length; k++) {
    const t = tokens[k]!
    if (isPunct(t, '(')) depth++
    else if (isPunct(t, ')')) depth--
    else if (depth > 0) continue
    else if (isPunct(t, ',')) rows++
    else if (isPunct(t, ';') || (t.type === 'word' && t.value !== 'ROW')) return { end: k, rows }
  }
  return { end: tokens.length, rows }
}

/** Returns where the query starting at tokens[from] ends: at `;`, RETURNING, ON DUPLICATE KEY or ON CONFLICT at its depth, or the end. */
function queryEnd(tokens: Token[], from: number): number {
  let depth = 0
  for (let k = from; k < tokens.length; k++) {
    const t = tokens[k]
    if (isPunct(t, '(')) depth++
    else if (isPunct(t, ')')) depth--
    else if (
      depth === 0 &&
      (isPunct(t, ';') ||
        isWord(t, 'RETURNING') ||
        (isWord(t, 'ON') && (isWord(tokens[k + 1], 'DUPLICATE') || isWord(tokens[k + 1], 'CONFLICT'))))
    )
      return k
  }
  return tokens.length
}

/** Whether the query in tokens [from, to) is a single SELECT without FROM (or FROM DUAL) and without UNION, so it yields at most one row. */
function selectsOneRow(tokens: Token[], from: number, to: number): boolean {
  if (isPunct(tokens[from], '(') && closing(tokens, from) === to - 1) return selectsOneRow(tokens, from + 1, to - 1)
  if (!isWord(tokens[from], 'SELECT')) return false
  return (
    findAtTopLevel(
      tokens,
      from,
      to,
      (t, k) =>
        t.type === 'word' && (SET_OPERATORS.has(t.value) || (t.value === 'FROM' && !isWord(tokens[k + 1], 'DUAL'))),
    ) < 0
  )
}

/** Whether the query in tokens [from, to) has an ORDER BY at its own level (looking inside parentheses that wrap all of it). */
function isOrdered(tokens: Token[], from: number, to: number): boolean {
  if (isPunct(tokens[from], '(') && closing(tokens, from) === to - 1) return isOrdered(tokens, from + 1, to - 1)
  return findAtTopLevel(tokens, from, to, (t, k) => isWord(t, 'ORDER') && isWord(tokens[k + 1], 'BY')) >= 0
}

/** Returns the index of the first token of [from, to) outside any parentheses opened there that passes `test`, or -1. */
function findAtTopLevel(tokens: Token[], from: number, to: number, test: (t: Token, k: number) => boolean): number {
  let depth = 0
  for (let k = from; k < to; k++) {
    const t = tokens[k]!
    if (isPunct(t, '(')) depth++
    else if (isPunct(t, ')')) depth--
    else if (depth === 0 && test(t, k)) return k
  }
  return -1
}

/** Returns where a trigger's body starts: after FOR EACH ROW, else at its WHEN or BEGIN; 0 when none is found. */
function triggerBody(tokens: Token[]): number {
  const each = tokens.findIndex((t, k) => isWord(t, 'EACH') && isWord(tokens[k + 1], 'ROW'))
  if (each >= 0) return each + 2
  return Math.max(
    0,
    tokens.findIndex((t) => isWord(t, 'WHEN') || isWord(t, 'BEGIN')),
  )
}

/** Refuses a LIMIT (or FETCH FIRST/NEXT) in tokens [from, to) that has no ORDER BY before it in its own query. */
function checkLimits(tokens: Token[], from: number, to: number, picker: Picker): void {
  for (let k = from; k < to; k++) {
    const t = tokens[k]
    if (
      !isWord(t, 'LIMIT') &&
      !(isWord(t, 'FETCH') && (isWord(tokens[k + 1], 'FIRST') || isWord(tokens[k + 1], 'NEXT')))
    )
      continue
    const scope = limitScope(tokens, from, k)
    if (scope === 'ordered') continue
    const [subject, does, could] = ROW_PICKERS[scope === 'statement' ? picker : 'subquery']
    throw unsafe(
      `${subject} with LIMIT but no ORDER BY: which rows it ${does} is not defined, so slaves could ${could} different rows; add ORDER BY on a unique key`,
    )
  }
}

/**
 * Walks back from the LIMIT at tokens[k] to the start of its query: 'ordered' if
 * an ORDER BY comes first, else whether that query is the statement itself (it
 * reached `from` or a `;`) or one in parentheses ('subquery').
 */
function limitScope(tokens: Token[], from: number, k: number): 'ordered' | 'statement' | 'subquery' {
  let depth = 0
  for (let j = k - 1; j >= from; j--) {
    const t = tokens[j]
    if (isPunct(t, ')')) depth++
    else if (isPunct(t, '(')) {
      if (depth === 0) return 'subquery'
      depth--
    } else if (depth === 0 && isPunct(t, ';')) return 'statement'
    else if (depth === 0 && isWord(t, 'BY') && isWord(tokens[j - 1], 'ORDER')) return 'ordered'
  }
  return 'statement'
}

/** Applies the rules to every occurrence in the regions; returns the edits, or throws for one that cannot be made deterministic. */
function collectEdits(sql: string, tokens: Token[], regions: Region[], ctx: DeterminismContext): Edit[] {
  const edits: Edit[] = []
  for (const region of regions) {
    for (let i = region.from; i < region.to; i++) {
      const t = tokens[i]!
      if (t.type === 'variable' && ctx.dialect === 'mysql') throw unsafe(variableReason(t.text))
      const rule = t.type === 'word' ? RULES.get(t.value)?.[ctx.dialect] : undefined
      if (!rule || isName(tokens, i)) continue
      const use = readUse(sql, tokens, i)
      if (!use || !fits(rule, use)) continue
      const at =
        region.evaluation === 'once' && inSubquery(tokens, region.from, i)
          ? ({ evaluation: 'per-row', where: 'a subquery' } as const)
          : region
      apply(rule, use, at, sql, ctx, edits)
    }
  }
  return edits
}

/** Whether tokens[i] sits inside a parenthesised query (a subquery) opened at or after `from`. */
function inSubquery(tokens: Token[], from: number, i: number): boolean {
  let depth = 0
  let subquery = 0 // the depth of the outermost open subquery, or 0
  for (let k = from; k < i; k++) {
    if (isPunct(tokens[k], '(')) {
      depth++
      if (subquery === 0 && startsQuery(tokens, k + 1, true)) subquery = depth
    } else if (isPunct(tokens[k], ')')) {
      if (depth === subquery) subquery = 0
      depth--
    }
  }
  return subquery > 0
}

/** Splices the edits into the text. */
function splice(sql: string, edits: Edit[]): string {
  edits.sort((a, b) => a.start - b.start)
  let out = ''
  let from = 0
  for (const edit of edits) {
    out += sql.slice(from, edit.start) + edit.text
    from = edit.end
  }
  return out + sql.slice(from)
}
