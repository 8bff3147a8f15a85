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
 */
import { classifyTokens } from './classify.ts'
import { refuseTimeDefaults, TABLE_DDL } from './clock-defaults.ts'
import {
  closing,
  type DeterminismContext,
  type Edit,
  isPunct,
  isWord,
  nowEdits,
  precisionArgument,
  quote,
  RULES,
  type Rule,
  readUse,
  type Use,
  unsafe,
  utcDateTime,
} from './determinism-rules.ts'
import { type Token, tokenize } from './lexer.ts'

export type { DeterminismContext, Dialect } from './determinism-rules.ts'

/** A write statement ready for the master to execute and log. */
export interface Prepared {
  /** The text the master executes and logs (identical to the input when nothing needed rewriting). */
  sql: string
  /** True when sql differs from the input (the log then keeps the original too, for auditing). */
  rewritten: boolean
}

/** How a span of a statement's tokens is evaluated. */
type Evaluation =
  | { evaluation: 'once' }
  /** `where` names the span in refusals: "an UPDATE", "a subquery". */
  | { evaluation: 'per-row'; where: string }
  /** Column definitions of CREATE/ALTER TABLE: evaluated on each server whenever a row is written. */
  | { evaluation: 'definition' }
  /** A trigger's body: evaluated on each server whenever the trigger fires. */
  | { evaluation: 'trigger' }

/** The tokens [from, to) of a statement, and how the statement evaluates them. */
type Region = Evaluation & { from: number; to: number }

const CLOCK_INSTEAD = 'write the time as a literal instead'

/** Words after which a name follows, not a function call: INSERT INTO user (…), REFERENCES version (…), KEY uuid (…). */
const NAME_BEFORE = new Set([
  'INTO',
  'TABLE',
  'EXISTS',
  'REFERENCES',
  'INDEX',
  'KEY',
  'UNIQUE',
  'FULLTEXT',
  'SPATIAL',
  'CONSTRAINT',
  'INSERT',
  'REPLACE',
  'IGNORE',
  'LOW_PRIORITY',
  'HIGH_PRIORITY',
  'DELAYED',
  'WITH',
  'RECURSIVE',
])

/** SQLite date/time modifiers that read the server's time zone. */
const ZONE_MODIFIERS = new Set(['localtime', 'utc'])

/** Words that join queries into one result, at a query's own level. */
const SET_OPERATORS = new Set(['UNION', 'EXCEPT', 'INTERSECT'])

/** What picks rows, as refusals about row order name it: [subject, what it does to rows, what slaves could do]. */
const ROW_PICKERS: Record<string, [string, string, string]> = {
  UPDATE: ['UPDATE', 'changes', 'change'],
  DELETE: ['DELETE', 'deletes', 'delete'],
  INSERT: ['INSERT … SELECT', 'copies', 'copy'],
  REPLACE: ['REPLACE … SELECT', 'copies', 'copy'],
  'CREATE TABLE': ['CREATE TABLE … SELECT', 'copies', 'copy'],
  'CREATE TRIGGER': ['a statement in a trigger', 'touches', 'touch'],
  subquery: ['a subquery', 'returns', 'get'],
}

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
function queryRegions(tokens: Token[], source: number, picker: string, where: string): Region[] {
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
    const t = tokens[k]
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
    const t = tokens[k]
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
    const t = tokens[k]
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
function checkLimits(tokens: Token[], from: number, to: number, picker: string): void {
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
      const t = tokens[i]
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

/** Whether the occurrence has the rule's form: clock keywords bare, functions called, CURRENT_USER either way. */
function fits(rule: Rule, use: Use): boolean {
  if (rule.kind === 'clock') return !use.open
  if (rule.kind === 'now-alias') return use.open !== undefined
  return use.open !== undefined || (rule.kind === 'server' && rule.bare)
}

/** Applies one rule to one occurrence, evaluated as `at` says: adds its edits, or throws. */
function apply(rule: Rule, use: Use, at: Evaluation, sql: string, ctx: DeterminismContext, edits: Edit[]): void {
  switch (rule.kind) {
    case 'server':
      if (rule.when(use.args))
        throw unsafe(
          `${use.text} differs between servers: statement replication would write different values on slaves; use a literal instead`,
        )
      return
    case 'fresh': {
      if (!rule.when(use.args)) return
      if (at.evaluation !== 'once') throw unsafe(`${use.text} ${laterOrPerRow(at)}; ${rule.instead}`)
      edits.push({
        start: use.name.start,
        end: use.end,
        text: rule.literal(ctx, use) + (startsWord(sql[use.end]) ? ' ' : ''),
      })
      return
    }
    case 'now-alias':
      precisionArgument(use)
      // A default or a trigger runs later, on each server, outside any statement's pinned clock.
      if (at.evaluation === 'definition' || at.evaluation === 'trigger')
        throw unsafe(`${use.text} ${laterOrPerRow(at)}; ${CLOCK_INSTEAD}`)
      edits.push({ start: use.name.start, end: use.name.end, text: 'NOW' })
      return
    case 'clock':
      if (at.evaluation === 'definition') return
      if (at.evaluation === 'trigger') throw unsafe(`${use.text} ${laterOrPerRow(at)}; ${CLOCK_INSTEAD}`)
      edits.push({ start: use.name.start, end: use.name.end, text: quote(rule.literal(ctx.now)) })
      return
    case 'clock-function': {
      const zone = use.args.find(
        (arg) => arg.length === 1 && arg[0].type === 'string' && ZONE_MODIFIERS.has(arg[0].value.toLowerCase()),
      )
      if (zone)
        throw unsafe(
          `${use.text} depends on the server's time zone (${zone[0].text}), so slaves in another zone would store different values; convert the time in the client`,
        )
      const found = nowEdits(rule, use, quote(utcDateTime(ctx.now, 3)))
      if (found.length === 0 || at.evaluation === 'definition') return
      if (at.evaluation === 'trigger') throw unsafe(`${use.text} ${laterOrPerRow(at)}; ${CLOCK_INSTEAD}`)
      edits.push(...found)
    }
  }
}

/** Why a value cannot be one literal where `at` evaluates it, as the rest of a sentence whose subject is the function. */
function laterOrPerRow(at: Exclude<Evaluation, { evaluation: 'once' }>): string {
  switch (at.evaluation) {
    case 'per-row':
      return `is evaluated once per row in ${at.where}, and one literal would give every row the same value`
    case 'definition':
      return 'in a column definition is evaluated on each server whenever a row is written, so slaves would store different values'
    case 'trigger':
      return 'in a trigger is evaluated on each server whenever the trigger fires, so slaves would store different values'
  }
}

/** Whether tokens[i] is a name rather than a function: qualified (x.rand), or after INTO, TABLE, REFERENCES, KEY … */
function isName(tokens: Token[], i: number): boolean {
  const before = tokens[i - 1]
  return isPunct(before, '.') || (before?.type === 'word' && NAME_BEFORE.has(before.value))
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

function variableReason(text: string): string {
  return text.startsWith('@@')
    ? `${text} differs between servers: statement replication would write different values on slaves; use a literal instead`
    : `${text} is a user variable, which is not replicated: slaves would read a different value; use a literal instead`
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

/** Whether `c` would join a word or number written just before it. */
function startsWord(c: string | undefined): boolean {
  return c !== undefined && /[\p{L}\p{N}_$]/u.test(c)
}
