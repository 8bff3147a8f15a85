/**
 * Token-level editing of one lexed statement, shared by the MySQL → SQLite
 * translators (dialect.ts): each translator replaces, removes or adds
 * text around tokens, and the statement is rendered once at the end, so edits
 * made by different translators to different tokens compose. Also the small
 * helpers they share: quoting, finding a closing parenthesis, splitting a list.
 */
import { DdbError } from '../../errors.ts'
import { isPunct, isWord, quoteIdentifier, type Token } from '../lexer.ts'

/** A range of a statement's tokens. */
export interface Span {
  /** Index of the first token. */
  from: number
  /** Index just past the last token. */
  to: number
}

/** The edits made to one statement's tokens; render with text(). */
export class TokenEdits {
  readonly sql: string
  readonly tokens: Token[]
  readonly #replace = new Map<number, string>()
  readonly #before = new Map<number, string>()
  readonly #after = new Map<number, string>()

  constructor(sql: string, tokens: Token[]) {
    this.sql = sql
    this.tokens = tokens
  }

  /** Whether any edit was made, or a comment between tokens must go (`#` comments, MySQL's executable comments). */
  get changed(): boolean {
    if (this.#replace.size > 0 || this.#before.size > 0 || this.#after.size > 0) return true
    for (let i = 0; i <= this.tokens.length; i++) if (needsRewrite(this.#gap(i))) return true
    return false
  }

  /** Writes `text` in place of tokens[i]. */
  replace(i: number, text: string): void {
    this.#replace.set(i, text)
  }

  /** Removes tokens [from, to). */
  remove(from: number, to = from + 1): void {
    for (let i = from; i < to; i++) this.#replace.set(i, '')
  }

  /** Writes `text` in place of tokens [from, to), dropping the edits inside (the caller rendered them into `text`). */
  replaceRange(from: number, to: number, text: string): void {
    for (let i = from; i < to; i++) {
      this.#replace.set(i, i === from ? text : '')
      if (i > from) this.#before.delete(i)
      if (i < to - 1) this.#after.delete(i)
    }
  }

  /** Writes `text` just before tokens[i] (after any text already put there). */
  before(i: number, text: string): void {
    this.#before.set(i, (this.#before.get(i) ?? '') + text)
  }

  /** Writes `text` just after tokens[i] (after any text already put there). */
  after(i: number, text: string): void {
    this.#after.set(i, (this.#after.get(i) ?? '') + text)
  }

  /**
   * The text of tokens [from, to) with the edits. The space between tokens is
   * kept (a removed token's, for the next token shown); comments become a space.
   */
  text(from = 0, to = this.tokens.length): string {
    let out = ''
    let removed: string | undefined // the space before the first of a run of removed tokens
    for (let i = from; i < to; i++) {
      const own =
        (this.#before.get(i) ?? '') + (this.#replace.get(i) ?? this.tokens[i]!.text) + (this.#after.get(i) ?? '')
      const raw = i > from ? this.#gap(i) : ''
      const gap = raw === '' || /^\s+$/.test(raw) ? raw : ' '
      if (own === '') {
        removed ??= gap
        continue
      }
      out += (removed || gap) + own
      removed = undefined
    }
    return out
  }

  /** The source text of tokens [from, to) as written, for messages. */
  source(from: number, to: number): string {
    const last = Math.min(to, this.tokens.length) - 1
    return last < from ? '' : this.sql.slice(this.tokens[from]!.start, this.tokens[last]!.end)
  }

  /** The source between tokens[i - 1] and tokens[i] (before the first, after the last at i = length). */
  #gap(i: number): string {
    const start = i === 0 ? 0 : this.tokens[i - 1]!.end
    const end = i === this.tokens.length ? this.sql.length : this.tokens[i]!.start
    return this.sql.slice(start, end)
  }
}

/** Whether text between tokens holds what SQLite would misread: a `#` comment, or an executable comment's `/*!` or closing `*\/`. */
function needsRewrite(gap: string): boolean {
  if (gap.includes('#') || gap.includes('/*!') || gap.includes('/*M!')) return true
  return (gap.match(/\*\//g)?.length ?? 0) > (gap.match(/\/\*/g)?.length ?? 0)
}

/** The DdbError that refuses a statement a SQLite store cannot run as MySQL would: `what`, then why and what to do instead. */
export function refuse(what: string, why: string): DdbError {
  return new DdbError('UNSUPPORTED', `not supported on a SQLite store: ${what} (${why})`)
}

/**
 * `text` as a standard SQL string literal with the same characters. As a cast
 * blob: a NUL, which SQLite's parser stops at, and a backslash before a quote or
 * at the end, which ddb's (MySQL's) lexer, reading the translation again, would
 * take for an escaped quote, so that it would see other tokens than SQLite.
 */
export function sqlString(text: string): string {
  if (text.includes('\0') || /\\('|$)/.test(text))
    return `CAST(X'${Buffer.from(text, 'utf8').toString('hex').toUpperCase()}' AS TEXT)`
  return `'${text.replaceAll("'", "''")}'`
}

/** `name` as an identifier: backtick-quoted, which MySQL and SQLite both read. */
export function sqlName(name: string): string {
  return quoteIdentifier(name)
}

/** The unquoted name a word or quoted identifier token stands for; undefined for other tokens. */
export function nameOf(t: Token | undefined): string | undefined {
  if (t?.type === 'word') return t.text
  if (t?.type === 'identifier') return t.value
  return undefined
}

/** Index of the `)` closing the `(` at tokens[open]; tokens.length when it never closes. */
export function closeOf(tokens: Token[], open: number): number {
  let depth = 0
  for (let k = open; k < tokens.length; k++) {
    if (isPunct(tokens[k], '(')) depth++
    else if (isPunct(tokens[k], ')') && --depth === 0) return k
  }
  return tokens.length
}

/** Splits tokens [from, to) at the commas outside parentheses; an empty range gives no items. */
export function splitList(tokens: Token[], from: number, to: number): Span[] {
  if (from >= to) return []
  const items: Span[] = []
  let depth = 0
  let start = from
  for (let k = from; k < to; k++) {
    const t = tokens[k]
    if (isPunct(t, '(')) depth++
    else if (isPunct(t, ')')) depth--
    else if (depth === 0 && isPunct(t, ',')) {
      items.push({ from: start, to: k })
      start = k + 1
    }
  }
  items.push({ from: start, to })
  return items
}

/** Index of the first token in [from, to) outside parentheses opened there that passes `test`; -1 if none. */
export function findTop(tokens: Token[], from: number, to: number, test: (t: Token, k: number) => boolean): number {
  let depth = 0
  for (let k = from; k < to; k++) {
    const t = tokens[k]!
    if (isPunct(t, '(')) depth++
    else if (isPunct(t, ')')) depth--
    else if (depth === 0 && test(t, k)) return k
  }
  return -1
}

/**
 * Where the operand that starts at tokens[i] ends (one past it): signs, then a
 * literal, a name (a.b.c), a call name(…), CASE … END, or a parenthesised
 * expression. Used to find a LIKE pattern's end.
 */
export function operandEnd(tokens: Token[], i: number): number {
  let k = i
  while (isPunct(tokens[k], '-') || isPunct(tokens[k], '+') || isPunct(tokens[k], '~')) k++
  const t = tokens[k]
  if (!t) return k
  if (isPunct(t, '(')) return Math.min(tokens.length, closeOf(tokens, k) + 1)
  if (t.type === 'word' && t.value === 'CASE') {
    let depth = 0
    for (let j = k; j < tokens.length; j++) {
      const w = tokens[j]!
      if (w.type === 'word' && w.value === 'CASE') depth++
      else if (w.type === 'word' && w.value === 'END' && --depth === 0) return j + 1
    }
    return tokens.length
  }
  k++
  while (isPunct(tokens[k], '.') && tokens[k + 1]) k += 2
  if (isPunct(tokens[k], '(') && (t.type === 'word' || t.type === 'identifier'))
    return Math.min(tokens.length, closeOf(tokens, k) + 1)
  return k
}

/** Reads a table name at tokens[k], dropping a database qualifier (db.t): every database name selects the store's one database. */
export function readTableName(tokens: Token[], k: number): { name: string; end: number } {
  let name = nameOf(tokens[k])
  let end = k + 1
  if (isPunct(tokens[end], '.') && nameOf(tokens[end + 1]) !== undefined) {
    name = nameOf(tokens[end + 1])
    end += 2
  }
  if (name === undefined) throw refuse(`a table name written ${tokens[k]?.text ?? 'nowhere'}`, 'cannot read it')
  return { name, end }
}

/** One query of a compound query: a SELECT's result list, or a VALUES list's rows (inside their parentheses). */
export type QueryArm = { kind: 'select'; list: Span } | { kind: 'values'; rows: Span[] }

/** Words that end a SELECT's result list at its own level. */
const AFTER_RESULT_LIST = new Set([
  'FROM',
  'WHERE',
  'GROUP',
  'HAVING',
  'WINDOW',
  'ORDER',
  'LIMIT',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'ON',
  'RETURNING',
  'FOR',
  'LOCK',
  'INTO',
])

/** Words after SELECT that come before its result list (ALL, DISTINCT, MySQL's modifiers). */
const SELECT_MODIFIERS = new Set([
  'ALL',
  'DISTINCT',
  'DISTINCTROW',
  'HIGH_PRIORITY',
  'STRAIGHT_JOIN',
  'SQL_SMALL_RESULT',
  'SQL_BIG_RESULT',
  'SQL_BUFFER_RESULT',
  'SQL_CACHE',
  'SQL_NO_CACHE',
  'SQL_CALC_FOUND_ROWS',
])

/**
 * The arms of the query in tokens [from, to) (an INSERT's source): after a
 * leading WITH clause, each SELECT or VALUES joined by UNION [ALL], EXCEPT or
 * INTERSECT at the query's own level. Undefined when it is not such a query.
 */
export function queryArms(tokens: Token[], from: number, to: number): QueryArm[] | undefined {
  let k = from
  if (isWord(tokens[k], 'WITH')) {
    k++
    if (isWord(tokens[k], 'RECURSIVE')) k++
    for (;;) {
      k++ // the name
      if (isPunct(tokens[k], '(')) k = closeOf(tokens, k) + 1
      if (!isWord(tokens[k], 'AS')) return undefined
      k++
      while (tokens[k]?.type === 'word' && !isPunct(tokens[k], '(')) k++ // [NOT] MATERIALIZED
      if (!isPunct(tokens[k], '(')) return undefined
      k = closeOf(tokens, k) + 1
      if (!isPunct(tokens[k], ',')) break
      k++
    }
  }
  const arms: QueryArm[] = []
  while (k < to) {
    if (isWord(tokens[k], 'SELECT')) {
      let start = k + 1
      while (tokens[start]?.type === 'word' && SELECT_MODIFIERS.has(tokens[start]!.value)) start++
      const end = findTop(tokens, start, to, (t) => t.type === 'word' && AFTER_RESULT_LIST.has(t.value))
      arms.push({ kind: 'select', list: { from: start, to: end < 0 ? to : end } })
      k = end < 0 ? to : end
    } else if (isWord(tokens[k], 'VALUES')) {
      const end = findTop(tokens, k + 1, to, (t) => t.type === 'word')
      const rows = splitList(tokens, k + 1, end < 0 ? to : end).map((r) => ({ from: r.from + 1, to: r.to - 1 }))
      if (rows.some((r) => !isPunct(tokens[r.from - 1], '(') || !isPunct(tokens[r.to], ')'))) return undefined
      arms.push({ kind: 'values', rows })
      k = end < 0 ? to : end
    } else return undefined
    const next = findTop(tokens, k, to, (t) => isWord(t, 'UNION') || isWord(t, 'EXCEPT') || isWord(t, 'INTERSECT'))
    if (next < 0) break
    k = next + 1
    if (isWord(tokens[k], 'ALL') || isWord(tokens[k], 'DISTINCT')) k++
  }
  return arms.length > 0 ? arms : undefined
}
