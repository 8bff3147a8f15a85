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
import { DdbError } from '../errors.ts'
import { classifyTokens } from './classify.ts'
import { tokenize, type Token } from './lexer.ts'

/** The SQL dialect of the master's store. */
export type Dialect = 'mysql' | 'sqlite'

/** What makeDeterministic needs to know about the entry it prepares. */
export interface DeterminismContext {
  dialect: Dialect
  /** The master's clock for this entry, ms since the epoch (UTC). */
  now: number
  /** Source of randomness for rewritten RAND()/UUID(); injectable for tests. */
  random: () => number
}

/** A write statement ready for the master to execute and log. */
export interface Prepared {
  /** The text the master executes and logs (identical to the input when nothing needed rewriting). */
  sql: string
  /** True when sql differs from the input (the log then keeps the original too, for auditing). */
  rewritten: boolean
}

/** One occurrence of a rule's name: a call name(…), or a bare keyword such as CURRENT_TIMESTAMP. */
interface Use {
  name: Token
  /** The opening parenthesis of a call; undefined for a bare keyword. */
  open?: Token
  /** The call's arguments, each as its tokens; empty for a bare keyword. */
  args: Token[][]
  /** Offset just past the occurrence in the source. */
  end: number
  /** The occurrence as written, for messages. */
  text: string
}

/** What a rule does with a name whose value the statement's text does not fix. */
type Rule =
  /** A new value at every evaluation: rewritten into a literal where evaluated once, refused elsewhere. */
  | { kind: 'fresh'; when: (args: Token[][]) => boolean; literal: (ctx: DeterminismContext, use: Use) => string; instead: string }
  /** A SQLite clock keyword, constant within a statement: replaced by the literal time. */
  | { kind: 'clock'; literal: (now: number) => string }
  /** A SQLite date/time function: its 'now' time values, or an omitted one that means now, become the literal time. */
  | { kind: 'clock-function'; timeArgs: number[]; nowWhenOmitted: boolean }
  /** A value that depends on the server or the session: always refused. */
  | { kind: 'server'; bare: boolean; when: (args: Token[][]) => boolean }
  /** MySQL's SYSDATE(): renamed NOW(), as mysqld --sysdate-is-now does, which the applier's SET TIMESTAMP pins in every time zone. */
  | { kind: 'now-alias' }

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

/** A replacement of the source text [start, end). */
interface Edit {
  start: number
  end: number
  text: string
}

/** Longest RANDOMBLOB() written out as a literal, in bytes. */
const MAX_LITERAL_BYTES = 65_536

const PER_ROW_VALUES = 'compute the values in the client and send them as literals'
const CLOCK_INSTEAD = 'write the time as a literal instead'

const noArguments = (args: Token[][]): boolean => args.length === 0
const always = (): boolean => true

function fresh(literal: (ctx: DeterminismContext, use: Use) => string, when: (args: Token[][]) => boolean = always, instead = PER_ROW_VALUES): Rule {
  return { kind: 'fresh', when, literal, instead }
}

function server(when: (args: Token[][]) => boolean = always, bare = false): Rule {
  return { kind: 'server', bare, when }
}

const uuidLiteral = (ctx: DeterminismContext): string => quote(uuid(randomBytes(ctx.random, 16), 4))

/**
 * The rules, by uppercased name and dialect. MySQL's clock functions (NOW(),
 * CURRENT_TIMESTAMP, CURDATE(), UNIX_TIMESTAMP() …) are absent on purpose: the
 * applier pins them with SET TIMESTAMP = <entry ts>. SQLite has no such setting.
 */
const RULES = new Map<string, Partial<Record<Dialect, Rule>>>(Object.entries({
  RAND: { mysql: fresh((ctx) => doubleLiteral(ctx.random()), noArguments) },
  RANDOM: { sqlite: fresh((ctx) => int64Literal(ctx.random), noArguments) },
  RANDOMBLOB: { sqlite: fresh((ctx, use) => hexLiteral(randomBytes(ctx.random, Math.max(1, lengthArgument(use, 0, MAX_LITERAL_BYTES))))) },
  RANDOM_BYTES: { mysql: fresh((ctx, use) => hexLiteral(randomBytes(ctx.random, lengthArgument(use, 1, 1024)))) },
  UUID: { mysql: fresh(uuidLiteral, noArguments) },
  UUID_V4: { mysql: fresh(uuidLiteral, noArguments) },
  UUID_V7: { mysql: fresh((ctx) => quote(uuid(timestamped(ctx.now, randomBytes(ctx.random, 16)), 7)), noArguments) },
  SYS_GUID: { mysql: fresh((ctx) => quote(uuid(randomBytes(ctx.random, 16), 4).replaceAll('-', '')), noArguments) },
  UUID_SHORT: { mysql: fresh((ctx) => String(randomBits(ctx.random, 63)), noArguments) },
  SYSDATE: { mysql: { kind: 'now-alias' } },

  CURRENT_TIMESTAMP: { sqlite: { kind: 'clock', literal: (now) => utcDateTime(now, 0) } },
  CURRENT_DATE: { sqlite: { kind: 'clock', literal: utcDate } },
  CURRENT_TIME: { sqlite: { kind: 'clock', literal: utcTime } },
  DATE: { sqlite: { kind: 'clock-function', timeArgs: [0], nowWhenOmitted: true } },
  TIME: { sqlite: { kind: 'clock-function', timeArgs: [0], nowWhenOmitted: true } },
  DATETIME: { sqlite: { kind: 'clock-function', timeArgs: [0], nowWhenOmitted: true } },
  JULIANDAY: { sqlite: { kind: 'clock-function', timeArgs: [0], nowWhenOmitted: true } },
  UNIXEPOCH: { sqlite: { kind: 'clock-function', timeArgs: [0], nowWhenOmitted: true } },
  STRFTIME: { sqlite: { kind: 'clock-function', timeArgs: [1], nowWhenOmitted: true } },
  TIMEDIFF: { sqlite: { kind: 'clock-function', timeArgs: [0, 1], nowWhenOmitted: false } },

  USER: { mysql: server() },
  CURRENT_USER: { mysql: server(always, true) },
  SESSION_USER: { mysql: server() },
  SYSTEM_USER: { mysql: server() },
  CURRENT_ROLE: { mysql: server() },
  CONNECTION_ID: { mysql: server() },
  DATABASE: { mysql: server() },
  SCHEMA: { mysql: server() },
  VERSION: { mysql: server() },
  LAST_INSERT_ID: { mysql: server(noArguments) },
  FOUND_ROWS: { mysql: server() },
  ROW_COUNT: { mysql: server() },
  LOAD_FILE: { mysql: server() },
  GET_LOCK: { mysql: server() },
  RELEASE_LOCK: { mysql: server() },
  RELEASE_ALL_LOCKS: { mysql: server() },
  IS_FREE_LOCK: { mysql: server() },
  IS_USED_LOCK: { mysql: server() },
  MASTER_POS_WAIT: { mysql: server() },
  SOURCE_POS_WAIT: { mysql: server() },
  MASTER_GTID_WAIT: { mysql: server() },
  CHANGES: { sqlite: server() },
  TOTAL_CHANGES: { sqlite: server() },
  LAST_INSERT_ROWID: { sqlite: server() },
  SQLITE_VERSION: { sqlite: server() },
  SQLITE_SOURCE_ID: { sqlite: server() },
}))

/** Words after which a name follows, not a function call: INSERT INTO user (…), REFERENCES version (…), KEY uuid (…). */
const NAME_BEFORE = new Set([
  'INTO', 'TABLE', 'EXISTS', 'REFERENCES', 'INDEX', 'KEY', 'UNIQUE', 'FULLTEXT', 'SPATIAL', 'CONSTRAINT',
  'INSERT', 'REPLACE', 'IGNORE', 'LOW_PRIORITY', 'HIGH_PRIORITY', 'DELAYED', 'WITH', 'RECURSIVE',
])

/** Clock words that make a column default or ON UPDATE clause a time default, in either dialect. */
const CLOCK_WORDS = new Set([
  'CURRENT_TIMESTAMP', 'CURRENT_DATE', 'CURRENT_TIME', 'NOW', 'LOCALTIME', 'LOCALTIMESTAMP', 'CURDATE', 'CURTIME',
  'UTC_TIMESTAMP', 'UTC_DATE', 'UTC_TIME', 'UNIX_TIMESTAMP', 'SYSDATE',
])

/** SQLite date/time modifiers that read the server's time zone. */
const ZONE_MODIFIERS = new Set(['localtime', 'utc'])

/** Words that join queries into one result, at a query's own level. */
const SET_OPERATORS = new Set(['UNION', 'EXCEPT', 'INTERSECT'])

/** Statements whose column definitions may hold defaults. */
const TABLE_DDL = new Set(['CREATE TABLE', 'ALTER TABLE'])

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

/** True when a CREATE/ALTER TABLE declares DEFAULT CURRENT_TIMESTAMP/NOW() (or another clock value) or ON UPDATE CURRENT_TIMESTAMP. */
export function hasTimeDefaults(sql: string): boolean {
  const tokens = tokenize(sql)
  return TABLE_DDL.has(classifyTokens(tokens).keyword) && timeDefault(sql, tokens) !== undefined
}

/** Throws UNSAFE_STATEMENT when SQLite DDL declares a clock default (DEFAULT CURRENT_TIMESTAMP, DEFAULT (datetime('now')) …). */
export function checkSqliteDdl(sql: string): void {
  const tokens = tokenize(sql)
  if (TABLE_DDL.has(classifyTokens(tokens).keyword)) refuseTimeDefaults(sql, tokens)
}

function refuseTimeDefaults(sql: string, tokens: Token[]): void {
  const found = timeDefault(sql, tokens)
  if (!found) return
  const text = sql.slice(tokens[found.from].start, tokens[found.to - 1].end)
  throw unsafe(`${text}: SQLite evaluates a column default at insert time on each node, so slaves would store their own clock; insert the value explicitly instead`)
}

/** Finds the first DEFAULT or ON UPDATE clause whose value reads the clock; returns its tokens [from, to). */
function timeDefault(sql: string, tokens: Token[]): { from: number; to: number } | undefined {
  for (let k = 0; k < tokens.length; k++) {
    const value = isWord(tokens[k], 'DEFAULT') ? k + 1 : isWord(tokens[k], 'ON') && isWord(tokens[k + 1], 'UPDATE') ? k + 2 : -1
    if (value < 0 || value >= tokens.length) continue
    const open = isPunct(tokens[value], '(') ? value : isPunct(tokens[value + 1], '(') ? value + 1 : -1
    const end = open < 0 ? value + 1 : closing(tokens, open) + 1
    if (readsClock(sql, tokens, value, end)) return { from: k, to: end }
  }
  return undefined
}

/** Whether tokens [from, to) use a clock word, or call a SQLite date/time function at 'now'. */
function readsClock(sql: string, tokens: Token[], from: number, to: number): boolean {
  for (let k = from; k < to; k++) {
    const t = tokens[k]
    if (t.type !== 'word') continue
    if (CLOCK_WORDS.has(t.value)) return true
    const rule = RULES.get(t.value)?.sqlite
    if (rule?.kind !== 'clock-function') continue
    const use = readUse(sql, tokens, k)
    if (use && nowEdits(rule, use, '').length > 0) return true
  }
  return false
}

/** Checks the statement's shape (LIMIT and ORDER BY) and returns the regions the rules apply to; statements no rule concerns get none. */
function regions(tokens: Token[], keyword: string): Region[] {
  const n = tokens.length
  switch (keyword) {
    case 'INSERT': case 'REPLACE':
      return insertRegions(tokens, keyword)
    case 'UPDATE': case 'DELETE':
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
  if (source < 0) return [{ from: 0, to: n, evaluation: 'per-row', where: verb === 'INSERT' ? 'an INSERT' : 'a REPLACE' }]
  if (isWord(tokens[source], 'SET')) return [{ from: 0, to: n, evaluation: 'once' }]
  if (isWord(tokens[source], 'VALUES') || isWord(tokens[source], 'VALUE')) {
    const { end, rows } = valuesList(tokens, source)
    if (rows === 1) return [{ from: 0, to: n, evaluation: 'once' }]
    return [{ from: 0, to: end, evaluation: 'once' }, { from: end, to: n, evaluation: 'per-row', where: 'the clauses after a multi-row VALUES list' }]
  }
  return [{ from: 0, to: source, evaluation: 'once' }, ...queryRegions(tokens, source, verb, verb === 'INSERT' ? 'an INSERT … SELECT' : 'a REPLACE … SELECT')]
}

/** Regions of CREATE TABLE: its definitions, then the query that fills it, if any. */
function createTableRegions(tokens: Token[]): Region[] {
  const table = findAtTopLevel(tokens, 0, tokens.length, (t) => isWord(t, 'TABLE'))
  const source = findSource(tokens, table + 1, false)
  if (source < 0) return [{ from: 0, to: tokens.length, evaluation: 'definition' }]
  checkLimits(tokens, source, tokens.length, 'CREATE TABLE')
  return [{ from: 0, to: source, evaluation: 'definition' }, ...queryRegions(tokens, source, 'CREATE TABLE', 'a CREATE TABLE … SELECT')]
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
  if (selectsOneRow(tokens, source, end)) return [{ from: source, to: select, evaluation: 'once' }, { from: select, to: n, evaluation: 'once' }]
  if (!isOrdered(tokens, source, end)) {
    throw unsafe(`${ROW_PICKERS[picker][0]} without ORDER BY: the order it inserts rows in is not defined, so generated keys (AUTO_INCREMENT, rowid) and which duplicates are kept could differ on slaves; add ORDER BY on a unique key`)
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
    else if (depth === 0 && insert && t.type === 'word' && (t.value === 'VALUES' || t.value === 'VALUE' || t.value === 'SET')) return k
  }
  return -1
}

/** Whether tokens[k] starts a query: SELECT, WITH (not MariaDB's WITH SYSTEM VERSIONING), TABLE after INSERT, or parentheses around one. */
function startsQuery(tokens: Token[], k: number, insert: boolean): boolean {
  let j = k
  while (isPunct(tokens[j], '(')) j++
  const t = tokens[j]
  if (t?.type !== 'word') return false
  return t.value === 'SELECT' || (t.value === 'WITH' && !isWord(tokens[j + 1], 'SYSTEM')) || (insert && j === k && t.value === 'TABLE')
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
    else if (depth === 0 && (isPunct(t, ';') || isWord(t, 'RETURNING') || (isWord(t, 'ON') && (isWord(tokens[k + 1], 'DUPLICATE') || isWord(tokens[k + 1], 'CONFLICT'))))) return k
  }
  return tokens.length
}

/** Whether the query in tokens [from, to) is a single SELECT without FROM (or FROM DUAL) and without UNION, so it yields at most one row. */
function selectsOneRow(tokens: Token[], from: number, to: number): boolean {
  if (isPunct(tokens[from], '(') && closing(tokens, from) === to - 1) return selectsOneRow(tokens, from + 1, to - 1)
  if (!isWord(tokens[from], 'SELECT')) return false
  return findAtTopLevel(tokens, from, to, (t, k) => t.type === 'word' && (SET_OPERATORS.has(t.value) || (t.value === 'FROM' && !isWord(tokens[k + 1], 'DUAL')))) < 0
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
  return Math.max(0, tokens.findIndex((t) => isWord(t, 'WHEN') || isWord(t, 'BEGIN')))
}

/** Refuses a LIMIT (or FETCH FIRST/NEXT) in tokens [from, to) that has no ORDER BY before it in its own query. */
function checkLimits(tokens: Token[], from: number, to: number, picker: string): void {
  for (let k = from; k < to; k++) {
    const t = tokens[k]
    if (!isWord(t, 'LIMIT') && !(isWord(t, 'FETCH') && (isWord(tokens[k + 1], 'FIRST') || isWord(tokens[k + 1], 'NEXT')))) continue
    const scope = limitScope(tokens, from, k)
    if (scope === 'ordered') continue
    const [subject, does, could] = ROW_PICKERS[scope === 'statement' ? picker : 'subquery']
    throw unsafe(`${subject} with LIMIT but no ORDER BY: which rows it ${does} is not defined, so slaves could ${could} different rows; add ORDER BY on a unique key`)
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
      const at = region.evaluation === 'once' && inSubquery(tokens, region.from, i) ? { evaluation: 'per-row', where: 'a subquery' } as const : region
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
      if (rule.when(use.args)) throw unsafe(`${use.text} differs between servers: statement replication would write different values on slaves; use a literal instead`)
      return
    case 'fresh': {
      if (!rule.when(use.args)) return
      if (at.evaluation !== 'once') throw unsafe(`${use.text} ${laterOrPerRow(at)}; ${rule.instead}`)
      edits.push({ start: use.name.start, end: use.end, text: rule.literal(ctx, use) + (startsWord(sql[use.end]) ? ' ' : '') })
      return
    }
    case 'now-alias':
      precisionArgument(use)
      // A default or a trigger runs later, on each server, outside any statement's pinned clock.
      if (at.evaluation === 'definition' || at.evaluation === 'trigger') throw unsafe(`${use.text} ${laterOrPerRow(at)}; ${CLOCK_INSTEAD}`)
      edits.push({ start: use.name.start, end: use.name.end, text: 'NOW' })
      return
    case 'clock':
      if (at.evaluation === 'definition') return
      if (at.evaluation === 'trigger') throw unsafe(`${use.text} ${laterOrPerRow(at)}; ${CLOCK_INSTEAD}`)
      edits.push({ start: use.name.start, end: use.name.end, text: quote(rule.literal(ctx.now)) })
      return
    case 'clock-function': {
      const zone = use.args.find((arg) => arg.length === 1 && arg[0].type === 'string' && ZONE_MODIFIERS.has(arg[0].value.toLowerCase()))
      if (zone) throw unsafe(`${use.text} depends on the server's time zone (${zone[0].text}), so slaves in another zone would store different values; convert the time in the client`)
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
    case 'per-row': return `is evaluated once per row in ${at.where}, and one literal would give every row the same value`
    case 'definition': return 'in a column definition is evaluated on each server whenever a row is written, so slaves would store different values'
    case 'trigger': return 'in a trigger is evaluated on each server whenever the trigger fires, so slaves would store different values'
  }
}

/** The edits that put `literal` in place of a SQLite date/time call's 'now' time values, or insert it where an omitted time value means now. */
function nowEdits(rule: Extract<Rule, { kind: 'clock-function' }>, use: Use, literal: string): Edit[] {
  const edits: Edit[] = []
  if (rule.nowWhenOmitted && use.args.length === rule.timeArgs[0] && use.open) {
    const after = use.args.length === 0 ? use.open.end : use.args[use.args.length - 1].at(-1)?.end ?? use.open.end
    edits.push({ start: after, end: after, text: use.args.length === 0 ? literal : `, ${literal}` })
  }
  for (const index of rule.timeArgs) {
    const arg = use.args[index]
    if (arg?.length === 1 && arg[0].type === 'string' && arg[0].value.toLowerCase() === 'now') {
      edits.push({ start: arg[0].start, end: arg[0].end, text: literal })
    }
  }
  return edits
}

/** Reads the occurrence whose name is tokens[i]: a call with its arguments, or a bare name; undefined if its parentheses never close. */
function readUse(sql: string, tokens: Token[], i: number): Use | undefined {
  const name = tokens[i]
  const open = tokens[i + 1]
  if (!isPunct(open, '(')) return { name, args: [], end: name.end, text: name.text }
  const args: Token[][] = []
  let arg: Token[] = []
  let depth = 0
  for (let k = i + 2; k < tokens.length; k++) {
    const t = tokens[k]
    if (depth === 0 && isPunct(t, ')')) {
      if (arg.length > 0 || args.length > 0) args.push(arg)
      return { name, open, args, end: t.end, text: sql.slice(name.start, t.end) }
    }
    if (isPunct(t, '(')) depth++
    else if (isPunct(t, ')')) depth--
    if (depth === 0 && isPunct(t, ',')) {
      args.push(arg)
      arg = []
    } else {
      arg.push(t)
    }
  }
  return undefined
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

/** Reads RANDOMBLOB(n)'s or RANDOM_BYTES(n)'s length, which must be an integer literal from min to max. */
function lengthArgument(use: Use, min: number, max: number): number {
  const n = integerArgument(use)
  if (n === undefined) throw unsafe(`${use.text} has a length that is not a number literal, so its bytes cannot be written as a literal; use a number`)
  if (n < min || n > max) throw unsafe(`${use.text} needs a length from ${min} to ${max} to be written as a literal`)
  return n
}

/** Reads SYSDATE(fsp)'s precision: 0 without an argument, else an integer literal from 0 to 6. */
function precisionArgument(use: Use): number {
  if (use.args.length === 0) return 0
  const fsp = integerArgument(use)
  if (fsp === undefined || fsp > 6) throw unsafe(`${use.text} needs a precision from 0 to 6`)
  return fsp
}

/** The call's only argument if it is a plain integer literal. */
function integerArgument(use: Use): number | undefined {
  const [arg, ...rest] = use.args
  if (rest.length > 0 || arg?.length !== 1 || arg[0].type !== 'number' || !/^\d+$/.test(arg[0].text)) return undefined
  return Number(arg[0].text)
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

/** `x` as a DOUBLE literal with 17 significant digits (the exponent keeps MySQL from reading it as DECIMAL). */
function doubleLiteral(x: number): string {
  const digits = x.toPrecision(17)
  return digits.includes('e') ? digits : `${digits}e0`
}

/** A random signed 64-bit integer literal; a negative one in parentheses, so that `x -RANDOM()` cannot become a `--` comment. */
function int64Literal(random: () => number): string {
  const magnitude = randomBits(random, 63)
  return random() < 0.5 ? String(magnitude) : `(-${magnitude})`
}

/** A random unsigned integer of `bits` bits, drawn 32 bits at a time. */
function randomBits(random: () => number, bits: number): bigint {
  let n = 0n
  for (let b = 0; b < bits; b += 32) n = (n << 32n) | BigInt(Math.floor(random() * 2 ** 32) >>> 0)
  return BigInt.asUintN(bits, n)
}

function randomBytes(random: () => number, count: number): number[] {
  return Array.from({ length: count }, () => Math.floor(random() * 256) & 255)
}

/** Puts the 48-bit ms timestamp in the first six bytes, as UUID version 7 does. */
function timestamped(now: number, bytes: number[]): number[] {
  for (let i = 0; i < 6; i++) bytes[i] = Math.floor(now / 2 ** (8 * (5 - i))) & 255
  return bytes
}

/** Formats 16 bytes as an RFC 4122 UUID string of the given version. */
function uuid(bytes: number[], version: number): string {
  bytes[6] = (bytes[6] & 0x0f) | (version << 4)
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  const hex = toHex(bytes)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

function hexLiteral(bytes: number[]): string {
  return `X'${toHex(bytes).toUpperCase()}'`
}

function toHex(bytes: number[]): string {
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** `now` as 'YYYY-MM-DD HH:MM:SS' in UTC, with `digits` (0–6) fractional digits, truncated; those past milliseconds are zeros. */
function utcDateTime(now: number, digits: number): string {
  const iso = new Date(now).toISOString()
  const fraction = digits > 0 ? `.${`${iso.slice(20, 23)}000`.slice(0, digits)}` : ''
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction}`
}

/** `now` as 'YYYY-MM-DD' in UTC. */
function utcDate(now: number): string {
  return new Date(now).toISOString().slice(0, 10)
}

/** `now` as 'HH:MM:SS' in UTC. */
function utcTime(now: number): string {
  return new Date(now).toISOString().slice(11, 19)
}

/** A SQL string literal; the texts quoted here never hold a quote or backslash. */
function quote(text: string): string {
  return `'${text}'`
}

/** Whether `c` would join a word or number written just before it. */
function startsWord(c: string | undefined): boolean {
  return c !== undefined && /[\p{L}\p{N}_$]/u.test(c)
}

function closing(tokens: Token[], open: number): number {
  let depth = 0
  for (let k = open; k < tokens.length; k++) {
    if (isPunct(tokens[k], '(')) depth++
    else if (isPunct(tokens[k], ')') && --depth === 0) return k
  }
  return tokens.length - 1
}

function unsafe(reason: string): DdbError {
  return new DdbError('UNSAFE_STATEMENT', `not safe to replicate: ${reason}`)
}

function isWord(t: Token | undefined, value: string): boolean {
  return t?.type === 'word' && t.value === value
}

function isPunct(t: Token | undefined, text: string): boolean {
  return t?.type === 'punct' && t.text === text
}
