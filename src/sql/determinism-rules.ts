/**
 * The rules that make a write statement's functions deterministic: for each
 * name whose value the statement's text does not fix, by dialect, whether it is
 * rewritten into a literal, pinned to the master's clock, or refused; plus the
 * readers of an occurrence and the builders of the literals written in its place.
 */
import { DdbError } from '../errors.ts'
import { isPunct, type Token } from './lexer.ts'

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

/** One occurrence of a rule's name: a call name(…), or a bare keyword such as CURRENT_TIMESTAMP. */
export interface Use {
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
export type Rule =
  /** A new value at every evaluation: rewritten into a literal where evaluated once, refused elsewhere. */
  | {
      kind: 'fresh'
      when: (args: Token[][]) => boolean
      literal: (ctx: DeterminismContext, use: Use) => string
      instead: string
    }
  /** A SQLite clock keyword, constant within a statement: replaced by the literal time. */
  | { kind: 'clock'; literal: (now: number) => string }
  /** A SQLite date/time function: its 'now' time values, or an omitted one that means now, become the literal time. */
  | { kind: 'clock-function'; timeArgs: number[]; nowWhenOmitted: boolean }
  /** A value that depends on the server or the session: always refused. */
  | { kind: 'server'; bare: boolean; when: (args: Token[][]) => boolean }
  /** MySQL's SYSDATE(): renamed NOW(), as mysqld --sysdate-is-now does, which the applier's SET TIMESTAMP pins in every time zone. */
  | { kind: 'now-alias' }

/** A replacement of the source text [start, end). */
export interface Edit {
  start: number
  end: number
  text: string
}

/** Longest RANDOMBLOB() written out as a literal, in bytes. */
const MAX_LITERAL_BYTES = 65_536

const PER_ROW_VALUES = 'compute the values in the client and send them as literals'

const noArguments = (args: Token[][]): boolean => args.length === 0
const always = (): boolean => true

function fresh(
  literal: (ctx: DeterminismContext, use: Use) => string,
  when: (args: Token[][]) => boolean = always,
  instead = PER_ROW_VALUES,
): Rule {
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
export const RULES = new Map<string, Partial<Record<Dialect, Rule>>>(
  Object.entries({
    RAND: { mysql: fresh((ctx) => doubleLiteral(ctx.random()), noArguments) },
    RANDOM: { sqlite: fresh((ctx) => int64Literal(ctx.random), noArguments) },
    RANDOMBLOB: {
      sqlite: fresh((ctx, use) =>
        hexLiteral(randomBytes(ctx.random, Math.max(1, lengthArgument(use, 0, MAX_LITERAL_BYTES)))),
      ),
    },
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
    LAST_INSERT_ID: { mysql: server() }, // LAST_INSERT_ID() is the session's literal by then; LAST_INSERT_ID(expr) sets the store connection's
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
  }),
)

/** The edits that put `literal` in place of a SQLite date/time call's 'now' time values, or insert it where an omitted time value means now. */
export function nowEdits(rule: Extract<Rule, { kind: 'clock-function' }>, use: Use, literal: string): Edit[] {
  const edits: Edit[] = []
  if (rule.nowWhenOmitted && use.args.length === rule.timeArgs[0] && use.open) {
    const after = use.args.length === 0 ? use.open.end : (use.args.at(-1)?.at(-1)?.end ?? use.open.end)
    edits.push({ start: after, end: after, text: use.args.length === 0 ? literal : `, ${literal}` })
  }
  for (const index of rule.timeArgs) {
    const time = soleToken(use.args[index])
    if (time?.type === 'string' && time.value.toLowerCase() === 'now') {
      edits.push({ start: time.start, end: time.end, text: literal })
    }
  }
  return edits
}

/** Reads the occurrence whose name is tokens[i]: a call with its arguments, or a bare name; undefined if its parentheses never close. */
export function readUse(sql: string, tokens: Token[], i: number): Use | undefined {
  const name = tokens[i]!
  const open = tokens[i + 1]
  if (!isPunct(open, '(')) return { name, args: [], end: name.end, text: name.text }
  const args: Token[][] = []
  let arg: Token[] = []
  let depth = 0
  for (let k = i + 2; k < tokens.length; k++) {
    const t = tokens[k]!
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

/** Reads RANDOMBLOB(n)'s or RANDOM_BYTES(n)'s length, which must be an integer literal from min to max. */
function lengthArgument(use: Use, min: number, max: number): number {
  const n = integerArgument(use)
  if (n === undefined)
    throw unsafe(
      `${use.text} has a length that is not a number literal, so its bytes cannot be written as a literal; use a number`,
    )
  if (n < min || n > max) throw unsafe(`${use.text} needs a length from ${min} to ${max} to be written as a literal`)
  return n
}

/** Reads SYSDATE(fsp)'s precision: 0 without an argument, else an integer literal from 0 to 6. */
export function precisionArgument(use: Use): number {
  if (use.args.length === 0) return 0
  const fsp = integerArgument(use)
  if (fsp === undefined || fsp > 6) throw unsafe(`${use.text} needs a precision from 0 to 6`)
  return fsp
}

/** The call's only argument if it is a plain integer literal. */
function integerArgument(use: Use): number | undefined {
  const [arg, ...rest] = use.args
  const n = soleToken(arg)
  if (rest.length > 0 || n?.type !== 'number' || !/^\d+$/.test(n.text)) return undefined
  return Number(n.text)
}

/** The one token of an argument that is a single token; undefined for an absent or longer argument. */
export function soleToken(arg: Token[] | undefined): Token | undefined {
  return arg?.length === 1 ? arg[0] : undefined
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
  bytes[6] = (bytes[6]! & 0x0f) | (version << 4)
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
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
export function utcDateTime(now: number, digits: number): string {
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
export function quote(text: string): string {
  return `'${text}'`
}

/** Returns the index of the `)` that closes the `(` at tokens[open], or the last token when none does. */
export function closing(tokens: Token[], open: number): number {
  let depth = 0
  for (let k = open; k < tokens.length; k++) {
    if (isPunct(tokens[k], '(')) depth++
    else if (isPunct(tokens[k], ')') && --depth === 0) return k
  }
  return tokens.length - 1
}

/** The DdbError that refuses a statement as not safe to replicate, for `reason`. */
export function unsafe(reason: string): DdbError {
  return new DdbError('UNSAFE_STATEMENT', `not safe to replicate: ${reason}`)
}
