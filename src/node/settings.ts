/**
 * SET, and the variables a statement reads. A SET's value is evaluated once, on
 * the master, in the session (so `SET @t = NOW()` or `SET @n = (SELECT …)` gives
 * every slave the same value); a statement that reads @user or @@session
 * variables has them written in as literals before it runs and is logged, so it
 * replays the same everywhere, as MySQL's binlog writes the user variables a
 * statement reads into it.
 */
import { DdbError } from '../errors.ts'
import { isPunct, isWord, type Token, tokenize } from '../sql/lexer.ts'
import { parseSet, userVariableName } from '../sql/set-statement.ts'
import { normalize, REPLICATED, refusal, type SessionVariables, type Value } from './variables.ts'

/** What running a SET needs from the session. */
export interface SetContext {
  variables: SessionVariables
  /** The session's LAST_INSERT_ID(). */
  lastInsertId: number
  /** The store's SQL dialect: SQLite cannot honour every MySQL setting. */
  dialect: 'mysql' | 'sqlite'
  /** Evaluates an expression (already free of variables) as the store would: SELECT expr. */
  evaluate(expression: string): Promise<Value>
  /**
   * The store's own check of `SET SESSION name = value`: the value it then reports, or its
   * error (unknown variable, bad value); null where the store has no such variables (SQLite).
   */
  check(name: string, value: Value): Promise<Value | null>
  /** True while the session has a transaction open on the master (SQLite cannot change foreign-key enforcement inside one). */
  inTransaction?: boolean
}

/**
 * The character sets the MySQL port reads statements in and writes results in: UTF-8
 * (and binary, which converts nothing). Others would need the port to convert both
 * ways, which it does not, so SET NAMES refuses them rather than mangle text.
 */
const CLIENT_CHARSETS: Record<string, string> = {
  utf8mb4: 'utf8mb4_general_ci',
  utf8mb3: 'utf8mb3_general_ci',
  utf8: 'utf8mb3_general_ci',
  binary: 'binary',
}

/** Runs a SET statement's assignments in order (each may read what an earlier one set); `sql` is its text. */
export async function runSet(sql: string, tokens: Token[], ctx: SetContext): Promise<void> {
  const set = parseSet(tokens)
  switch (set.kind) {
    case 'transaction':
      return // isolation and access mode change what the master reads, never what a write does on replay
    case 'names':
      return setNames(set.charset, set.collation, set.characterSet, ctx)
    case 'assignments':
      for (const a of set.assignments) {
        if (a.kind === 'user') ctx.variables.setUser(a.name, await value(sql, a.value, ctx, false))
        else await setSystem(sql, a.name, a.value, ctx)
      }
  }
}

async function setSystem(sql: string, name: string, tokens: Token[], ctx: SetContext): Promise<void> {
  if (name === 'autocommit') {
    throw new DdbError(
      'UNSUPPORTED',
      'SET autocommit: send BEGIN … COMMIT instead (the MySQL port supports autocommit=0)',
    )
  }
  if (name === 'timestamp') return setTimestamp(sql, tokens, ctx)
  if (name === SYNC_REPLICAS_VARIABLE) return setSyncReplicas(sql, tokens, ctx)
  if (tokens.length === 1 && isWord(tokens[0], 'DEFAULT')) {
    if (refusal(name, 1)) throw new DdbError('UNSUPPORTED', refusal(name, 1)!)
    await ctx.check(name, null).catch(() => null) // only to refuse an unknown name below
    if (ctx.variables.system(name) === undefined) throw unknownVariable(name)
    return setSystemVariable(name, undefined, ctx)
  }
  const raw = await value(sql, tokens, ctx, true)
  const why = refusal(name, typeof raw === 'string' ? raw.toUpperCase() : raw)
  if (why) throw new DdbError('UNSUPPORTED', why)
  let v = normalize(name, raw)
  const checked = await ctx.check(name, v)
  if (checked !== null) v = checked
  else if (ctx.variables.system(name) === undefined) throw unknownVariable(name)
  if (ctx.dialect === 'sqlite') refuseOnSqlite(name, v)
  setSystemVariable(name, v, ctx)
}

/**
 * Sets a system variable (undefined: its default). On SQLite, not foreign_key_checks
 * inside a transaction: SQLite changes foreign-key enforcement (PRAGMA foreign_keys)
 * only between transactions, and a transaction's writes replay as one, in one mode.
 */
function setSystemVariable(name: string, v: Value | undefined, ctx: SetContext): void {
  const before = ctx.variables.system(name)
  ctx.variables.setSystem(name, v)
  if (ctx.dialect !== 'sqlite' || !ctx.inTransaction || name !== 'foreign_key_checks') return
  if (Number(ctx.variables.system(name)) === Number(before)) return
  ctx.variables.setSystem(name, before)
  throw new DdbError(
    'UNSUPPORTED',
    'SET foreign_key_checks inside a transaction: SQLite can change foreign-key enforcement only between transactions; set it before BEGIN',
  )
}

/** ddb's own session variable: how many slaves must have applied this session's writes before they are answered. */
export const SYNC_REPLICAS_VARIABLE = 'ddb_sync_replicas'

/** SET ddb_sync_replicas = K (a whole number; 0: do not wait); DEFAULT: the master's --sync-replicas again. */
async function setSyncReplicas(sql: string, tokens: Token[], ctx: SetContext): Promise<void> {
  if (tokens.length === 1 && isWord(tokens[0], 'DEFAULT'))
    return ctx.variables.setSystem(SYNC_REPLICAS_VARIABLE, undefined)
  const k = Number(await value(sql, tokens, ctx, true))
  if (!Number.isSafeInteger(k) || k < 0)
    throw new DdbError(
      'BAD_VALUE',
      `Variable '${SYNC_REPLICAS_VARIABLE}' can't be set to the value of '${tokens.map((t) => t.text).join(' ')}'`,
    )
  ctx.variables.setSystem(SYNC_REPLICAS_VARIABLE, k)
}

/** SET TIMESTAMP = seconds pins the session's clock (what NOW() returns, here and on replay); DEFAULT unpins it. */
async function setTimestamp(sql: string, tokens: Token[], ctx: SetContext): Promise<void> {
  if (tokens.length === 1 && isWord(tokens[0], 'DEFAULT')) return ctx.variables.setSystem('timestamp', undefined)
  const seconds = Number(await value(sql, tokens, ctx, true))
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new DdbError(
      'BAD_VALUE',
      `Variable 'timestamp' can't be set to the value of '${tokens.map((t) => t.text).join(' ')}'`,
    )
  }
  ctx.variables.setSystem('timestamp', seconds)
}

/** SQLite settings ddb cannot honour say so, instead of being silently different. */
function refuseOnSqlite(name: string, v: Value): void {
  if ((name === 'auto_increment_increment' || name === 'auto_increment_offset') && Number(v) !== 1) {
    throw new DdbError('UNSUPPORTED', `SET ${name} = ${String(v)}: a SQLite store cannot step AUTO_INCREMENT values`)
  }
  if (name === 'time_zone' && !['SYSTEM', 'UTC', '+00:00', '-00:00', '+0:00'].includes(String(v).toUpperCase())) {
    throw new DdbError('UNSUPPORTED', `SET time_zone = '${String(v)}': a SQLite store keeps time in UTC only`)
  }
}

async function setNames(
  charset: string,
  collation: string | null,
  characterSet: boolean,
  ctx: SetContext,
): Promise<void> {
  if (!(charset in CLIENT_CHARSETS) && charset !== 'default') {
    throw new DdbError(
      'UNSUPPORTED',
      `SET NAMES ${charset}: ddb's MySQL port speaks ${Object.keys(CLIENT_CHARSETS).join(', ')}`,
    )
  }
  const cs = charset === 'default' ? 'utf8mb4' : charset
  const canonical = cs === 'utf8' ? 'utf8mb3' : cs
  ctx.variables.setSystem('character_set_client', canonical)
  ctx.variables.setSystem('character_set_results', canonical)
  if (characterSet) {
    ctx.variables.setSystem('character_set_connection', ctx.variables.system('character_set_database') ?? canonical)
    ctx.variables.setSystem('collation_connection', ctx.variables.system('collation_database') ?? CLIENT_CHARSETS[cs]!)
    return
  }
  ctx.variables.setSystem('character_set_connection', canonical)
  const checked = await ctx.check('collation_connection', collation ?? CLIENT_CHARSETS[cs]!)
  ctx.variables.setSystem('collation_connection', checked ?? collation ?? CLIENT_CHARSETS[cs]!)
}

/**
 * A SET's value: a literal as it is; for a system variable a bare word too (SET
 * sql_mode = TRADITIONAL, time_zone = SYSTEM, foreign_key_checks = OFF); anything
 * else evaluated by the store, with its variables written in.
 */
async function value(sql: string, tokens: Token[], ctx: SetContext, system: boolean): Promise<Value> {
  const [only] = tokens
  if (tokens.length === 1 && only) {
    if (only.type === 'string' && (only.text.startsWith("'") || only.text.startsWith('"'))) return only.value
    if (only.type === 'number' && /^-?\d+$/.test(only.text)) return Number(only.text)
    if (isWord(only, 'NULL')) return null
    if (isWord(only, 'TRUE')) return system ? 'ON' : 1
    if (isWord(only, 'FALSE')) return system ? 'OFF' : 0
    if (system && (only.type === 'word' || only.type === 'identifier'))
      return only.type === 'word' ? only.text : only.value
  }
  const text = sql.slice(tokens[0]!.start, tokens[tokens.length - 1]!.end)
  const substituted = substituteVariables(text, tokenize(text), ctx.variables, ctx.lastInsertId)
  if (/^-?\d+(\.\d+)?$/.test(substituted.trim())) return Number(substituted)
  const [unquoted] = tokenize(substituted)
  if (tokenize(substituted).length === 1 && unquoted?.type === 'string') return unquoted.value
  return ctx.evaluate(substituted)
}

/**
 * `sql` with every @user variable and every @@session variable the session knows
 * written as a literal of its value, and LAST_INSERT_ID() as the session's last
 * generated id (the store's connection is not the session's, so only the session
 * knows it). Left as they are: assignments (`@n := …`, refused later as a write
 * ddb cannot replicate) and @@global reads.
 */
export function substituteVariables(
  sql: string,
  tokens: Token[],
  variables: SessionVariables,
  lastInsertId: number,
): string {
  let out = ''
  let from = 0
  for (const [i, t] of tokens.entries()) {
    if (isLastInsertIdCall(tokens, i)) {
      out += sql.slice(from, t.start) + String(lastInsertId)
      from = tokens[i + 2]!.end
      continue
    }
    if (t.type !== 'variable' || isPunct(tokens[i + 1], ':=')) continue
    let v: Value | undefined
    if (!t.text.startsWith('@@')) v = variables.user(userVariableName(t))
    else if (!/^@@global\./i.test(t.text))
      v = variables.system(
        t.text
          .slice(2)
          .replace(/^(session|local)\./i, '')
          .toLowerCase(),
      )
    if (v === undefined) continue
    out += sql.slice(from, t.start) + literal(v)
    from = t.end
  }
  return from === 0 ? sql : out + sql.slice(from)
}

/** Whether tokens[i] starts `LAST_INSERT_ID()` (a call without arguments, not a qualified name). */
export function isLastInsertIdCall(tokens: Token[], i: number): boolean {
  return (
    isWord(tokens[i], 'LAST_INSERT_ID') &&
    !isPunct(tokens[i - 1], '.') &&
    isPunct(tokens[i + 1], '(') &&
    isPunct(tokens[i + 2], ')')
  )
}

/** A value as a MySQL literal: NULL, a number, a quoted string with MySQL's escapes, or X'…' for bytes. */
export function literal(v: Value): string {
  if (v === null) return 'NULL'
  if (typeof v === 'boolean') return v ? '1' : '0'
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'NULL'
  if (typeof v === 'object') return `X'${Buffer.from(v.$bytes, 'base64').toString('hex').toUpperCase()}'`
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL and ^Z are what MySQL's string escapes cover
  return `'${v.replace(/[\\'\0\n\r\x1a]/g, (c) => ESCAPED[c]!)}'`
}

const ESCAPED: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\0': '\\0',
  '\n': '\\n',
  '\r': '\\r',
  '\x1a': '\\Z',
}

function unknownVariable(name: string): DdbError {
  return new DdbError('UNKNOWN_VARIABLE', `Unknown system variable '${name}'`)
}

/** True when a system variable's value changes what a write does (it travels with the write). */
export function isReplicated(name: string): boolean {
  return REPLICATED.has(name)
}
