/**
 * MySQL functions that SQLite spells differently or evaluates differently,
 * rewritten call by call (innermost first, so a call's arguments are already
 * translated when it is rebuilt). Names not listed pass through: SQLite then
 * runs its own function of that name or fails with "no such function".
 *
 * Clock functions read UTC, as everything on a SQLite store does (its
 * time_zone is UTC); in writes the determinism rules then turn
 * CURRENT_TIMESTAMP and strftime(…, 'now') into the entry's time.
 */

import { isName } from '../determinism-occurrence.ts'
import { isPunct, isWord, type Token } from '../lexer.ts'
import { closeOf, findTop, refuse, type Span, splitList, sqlString, type TokenEdits } from './edits.ts'

/** What the functions need to know about the session. */
export interface FunctionContext {
  database: string | null
}

/** One call: the name's index, its parentheses, its arguments. */
interface Call {
  name: number
  open: number
  close: number
  args: Span[]
}

/** Rewrites one call; `arg(k)` is the k-th argument's translated text. */
type Rewrite = (call: Call, arg: (k: number) => string, edits: TokenEdits, ctx: FunctionContext) => string | undefined

const NOW_FORMAT = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
const TIME_FORMAT = "strftime('%H:%M:%f', 'now')"

/** `clock` without fractional seconds; with fsp 1–6 digits, from SQLite's milliseconds padded with zeros. */
function clock(bare: string, format: string, width: number): Rewrite {
  return ({ args }, arg) => {
    if (args.length === 0) return bare
    const fsp = Number(arg(0))
    if (!Number.isInteger(fsp) || fsp < 0 || fsp > 6) return undefined
    return fsp === 0 ? bare : `substr(${format} || '000', 1, ${width + 1 + fsp})`
  }
}

const now = clock('CURRENT_TIMESTAMP', NOW_FORMAT, 19)
const curtime = clock('CURRENT_TIME', TIME_FORMAT, 8)
const curdate: Rewrite = ({ args }) => (args.length === 0 ? 'CURRENT_DATE' : undefined)
const rename =
  (name: string): Rewrite =>
  (_call, _arg, edits, _ctx) => {
    edits.replace(_call.name, name)
    return undefined
  }
const lowerInstr = (haystack: string, needle: string): string => `instr(lower(${haystack}), lower(${needle}))`

/** The rewrites, by uppercased function name. */
const REWRITES: Record<string, Rewrite> = {
  NOW: now,
  CURRENT_TIMESTAMP: now,
  LOCALTIME: now,
  LOCALTIMESTAMP: now,
  SYSDATE: now,
  UTC_TIMESTAMP: now,
  CURDATE: curdate,
  CURRENT_DATE: curdate,
  UTC_DATE: curdate,
  CURTIME: curtime,
  CURRENT_TIME: curtime,
  UTC_TIME: curtime,
  UNIX_TIMESTAMP: ({ args }, arg) => `unixepoch(${args.length === 0 ? '' : arg(0)})`,
  FROM_UNIXTIME: ({ args }, arg) => {
    if (args.length !== 1)
      throw refuse('FROM_UNIXTIME(n, format)', 'SQLite has no DATE_FORMAT; format the time in the client')
    return `datetime(${arg(0)}, 'unixepoch')`
  },
  DATEDIFF: ({ args }, arg) =>
    args.length === 2 ? `CAST(julianday(date(${arg(0)})) - julianday(date(${arg(1)})) AS INTEGER)` : undefined,
  // MySQL's CONCAT is NULL when any argument is; so is SQLite's ||, not its concat().
  CONCAT: ({ args }, arg) => (args.length === 0 ? undefined : `(${args.map((_, k) => `(${arg(k)})`).join(' || ')})`),
  IF: rename('iif'),
  GREATEST: rename('max'),
  LEAST: rename('min'),
  UCASE: rename('upper'),
  LCASE: rename('lower'),
  MID: rename('substr'),
  CEILING: rename('ceil'),
  CHAR_LENGTH: rename('length'),
  CHARACTER_LENGTH: rename('length'),
  // MySQL's LENGTH counts bytes, SQLite's characters.
  LENGTH: ({ args }, arg) => (args.length === 1 ? `length(CAST(${arg(0)} AS BLOB))` : undefined),
  OCTET_LENGTH: ({ args }, arg) => (args.length === 1 ? `length(CAST(${arg(0)} AS BLOB))` : undefined),
  // MySQL's INSTR and LOCATE follow the (case-insensitive) collation; SQLite's instr does not.
  INSTR: ({ args }, arg) => (args.length === 2 ? lowerInstr(arg(0), arg(1)) : undefined),
  LOCATE: ({ args }, arg) => (args.length === 2 ? lowerInstr(arg(1), arg(0)) : undefined),
  POSITION: (call, _arg, edits) => {
    const inside = findTop(edits.tokens, call.open + 1, call.close, (t) => isWord(t, 'IN'))
    if (inside < 0) return undefined
    return lowerInstr(edits.text(inside + 1, call.close), edits.text(call.open + 1, inside))
  },
  SUBSTRING: (call, _arg, edits) => {
    // SUBSTRING(s FROM p FOR n) → substr(s, p, n)
    const at = (word: string): number => findTop(edits.tokens, call.open + 1, call.close, (t) => isWord(t, word))
    for (const k of [at('FROM'), at('FOR')]) if (k >= 0) edits.replace(k, ',')
    edits.replace(call.name, 'substr')
    return undefined
  },
  RAND: ({ args }) => {
    if (args.length > 0)
      throw refuse('RAND(seed)', "SQLite's random() cannot be seeded; compute the values in the client")
    return '((random() & 9223372036854775807) / 9223372036854775808.0)'
  },
  // The session writes a statement's LAST_INSERT_ID() in as its value before translating it (node/settings.ts);
  // one that reaches here is in a trigger's or a view's body, which runs later, in another session.
  LAST_INSERT_ID: ({ args }) => {
    if (args.length > 0) throw refuse('LAST_INSERT_ID(expr)', 'SQLite cannot set the session value; use a literal')
    throw refuse(
      'LAST_INSERT_ID() in a trigger or a view',
      "it would be read when the body runs, in another session; read the insert id of the INSERT's answer",
    )
  },
  DATABASE: ({ args }, _arg, _edits, ctx) => (args.length === 0 ? databaseLiteral(ctx) : undefined),
  SCHEMA: ({ args }, _arg, _edits, ctx) => (args.length === 0 ? databaseLiteral(ctx) : undefined),
  JSON_EXTRACT: ({ args }, arg) => (args.length === 2 ? `((${arg(0)}) -> (${arg(1)}))` : undefined),
  JSON_UNQUOTE: ({ args }, arg) => (args.length === 1 ? `((${arg(0)}) ->> '$')` : undefined),
  GROUP_CONCAT: groupConcat,
  CAST: cast,
  CONVERT: (call, arg, edits) => {
    const using = findTop(edits.tokens, call.open + 1, call.close, (t) => isWord(t, 'USING'))
    if (using >= 0) return `(${edits.text(call.open + 1, using)})`
    if (call.args.length !== 2) return undefined
    return castTo(arg(0), edits.tokens.slice(call.args[1]!.from, call.args[1]!.to)) ?? undefined
  },
  DATE_FORMAT: ({ args }, arg, edits) => {
    const format = args[1] && edits.tokens[args[1].from]
    if (args.length !== 2 || format?.type !== 'string' || args[1]!.to !== args[1]!.from + 1)
      throw refuse('DATE_FORMAT with a format that is not a string literal', 'the format is translated for strftime')
    return `strftime(${sqlString(strftimeFormat(format.value))}, ${arg(0)})`
  },
}

/** Words that call a clock without parentheses. */
const BARE_CLOCKS: Record<string, string> = { LOCALTIME: 'CURRENT_TIMESTAMP', LOCALTIMESTAMP: 'CURRENT_TIMESTAMP' }

/** Rewrites every listed function call in the statement. */
export function translateFunctions(edits: TokenEdits, ctx: FunctionContext): void {
  const { tokens } = edits
  for (let i = tokens.length - 1; i >= 0; i--) {
    const t = tokens[i]!
    if (t.type !== 'word' || isName(tokens, i)) continue
    if (!isPunct(tokens[i + 1], '(')) {
      const bare = BARE_CLOCKS[t.value]
      if (bare) edits.replace(i, bare)
      continue
    }
    const rewrite = REWRITES[t.value]
    if (!rewrite) continue
    const open = i + 1
    const close = closeOf(tokens, open)
    if (close >= tokens.length) continue
    const call = { name: i, open, close, args: splitList(tokens, open + 1, close) }
    const arg = (k: number): string => edits.text(call.args[k]!.from, call.args[k]!.to)
    const text = rewrite(call, arg, edits, ctx)
    if (text !== undefined) edits.replaceRange(i, close + 1, text)
  }
}

function databaseLiteral(ctx: FunctionContext): string {
  return ctx.database === null ? 'NULL' : sqlString(ctx.database)
}

/** GROUP_CONCAT([DISTINCT] e, … [ORDER BY …] [SEPARATOR s]) → group_concat([DISTINCT] e || …, s [ORDER BY …]). */
function groupConcat(call: Call, _arg: (k: number) => string, edits: TokenEdits): string {
  const { tokens } = edits
  let from = call.open + 1
  const distinct = isWord(tokens[from], 'DISTINCT')
  if (distinct) from++
  if (findTop(tokens, from, call.close, (t) => isWord(t, 'LIMIT')) >= 0)
    throw refuse('GROUP_CONCAT(… LIMIT n)', "SQLite's group_concat takes no LIMIT; limit the rows in a subquery")
  const separator = findTop(tokens, from, call.close, (t) => isWord(t, 'SEPARATOR'))
  const order = findTop(tokens, from, call.close, (t, k) => isWord(t, 'ORDER') && isWord(tokens[k + 1], 'BY'))
  const valuesEnd = [order, separator, call.close].find((k) => k >= 0)!
  const values = splitList(tokens, from, valuesEnd).map((s) => `(${edits.text(s.from, s.to)})`)
  const orderBy = order >= 0 ? ` ${edits.text(order, separator >= 0 ? separator : call.close)}` : ''
  const sep = separator >= 0 ? edits.text(separator + 1, call.close) : undefined
  if (distinct && sep !== undefined && sep !== "','")
    throw refuse('GROUP_CONCAT(DISTINCT … SEPARATOR …)', "SQLite's group_concat takes no separator with DISTINCT")
  const body = values.join(' || ')
  if (distinct) return `group_concat(DISTINCT ${body}${orderBy})`
  return `group_concat(${body}, ${sep ?? "','"}${orderBy})`
}

/** CAST(x AS type) with MySQL's type names that SQLite reads otherwise. */
function cast(call: Call, _arg: (k: number) => string, edits: TokenEdits): string | undefined {
  const as = findTop(edits.tokens, call.open + 1, call.close, (t) => isWord(t, 'AS'))
  if (as < 0) return undefined
  return castTo(edits.text(call.open + 1, as), edits.tokens.slice(as + 1, call.close))
}

/** `value` converted to the MySQL type named by `type`, or undefined to leave the CAST alone. */
function castTo(value: string, type: Token[]): string | undefined {
  switch (type[0]?.value) {
    case 'SIGNED':
    case 'UNSIGNED':
    case 'INTEGER':
    case 'INT':
      return `CAST(${value} AS INTEGER)`
    case 'CHAR':
    case 'NCHAR':
    case 'VARCHAR':
      return `CAST(${value} AS TEXT)`
    case 'BINARY':
      return `CAST(${value} AS BLOB)`
    case 'DATE':
      return `date(${value})`
    case 'DATETIME':
      return `datetime(${value})`
    case 'TIME':
      return `time(${value})`
    case 'DOUBLE':
    case 'FLOAT':
    case 'REAL':
      return `CAST(${value} AS REAL)`
    default:
      return undefined
  }
}

/** DATE_FORMAT specifiers strftime has under the same or another letter. */
const DATE_FORMAT_SPECIFIERS: Record<string, string> = {
  Y: '%Y',
  m: '%m',
  d: '%d',
  H: '%H',
  i: '%M',
  s: '%S',
  S: '%S',
  T: '%H:%M:%S',
  j: '%j',
  '%': '%%',
}

/** A DATE_FORMAT format as strftime's; refuses a specifier strftime has no equal of (month names, 12-hour clock …). */
function strftimeFormat(format: string): string {
  return format.replace(/%(.)|%$/g, (match, letter: string | undefined) => {
    const to = letter === undefined ? undefined : DATE_FORMAT_SPECIFIERS[letter]
    if (to === undefined)
      throw refuse(`DATE_FORMAT specifier ${match}`, 'strftime has no equal of it; format the time in the client')
    return to
  })
}
