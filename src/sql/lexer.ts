/**
 * A MySQL-dialect SQL lexer, also good enough for SQLite. It scans character by
 * character; comments are skipped, except MySQL's executable comments
 * (`/*! … *\/`, `/*!50001 … *\/`, MariaDB's `/*M! … *\/`), whose content MySQL runs
 * and so is lexed as ordinary code.
 */
import { DdbError } from '../errors.ts'

/** One lexical token, with its place in the source. */
export interface Token {
  type: 'word' | 'identifier' | 'string' | 'number' | 'variable' | 'param' | 'punct'
  /** The raw source text. */
  text: string
  /** Words: uppercased. Quoted identifiers and strings: unquoted and unescaped. Others: the raw text. */
  value: string
  /** Offset of the first character in the source. */
  start: number
  /** Offset just past the last character. */
  end: number
}

/** Whether `t` is the (uppercased) word `value`. */
export function isWord(t: Token | undefined, value: string): boolean {
  return t?.type === 'word' && t.value === value
}

/** Whether `t` is the punctuation `text`. */
export function isPunct(t: Token | undefined, text: string): boolean {
  return t?.type === 'punct' && t.text === text
}

/** Punctuation longer than one character; a longer one comes before its prefixes. */
const LONG_PUNCT = ['<=>', '->>', '<=', '>=', '<>', '!=', ':=', '||', '&&', '<<', '>>', '->', '==']

/** The digits of 0x… and 0b… literals. */
const RADIX_DIGITS: Record<string, (c: string | undefined) => boolean> = { x: isHexDigit, b: isBinaryDigit }

/** What a backslash followed by the key means inside a MySQL string; any other character stands for itself. */
const ESCAPES: Record<string, string> = {
  '0': '\0',
  b: '\b',
  n: '\n',
  r: '\r',
  t: '\t',
  Z: '\x1a',
  '%': '\\%',
  _: '\\_',
}

/** Splits `sql` into tokens; throws DdbError('SQL_SYNTAX') on an unterminated string, quoted identifier or comment. */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = []
  /** Adds a token and returns its end, where scanning resumes. */
  const push = (type: Token['type'], start: number, end: number, value?: string): number => {
    const text = sql.slice(start, end)
    tokens.push({ type, text, value: value ?? text, start, end })
    return end
  }
  const pushWord = (start: number, end: number): number => {
    const text = sql.slice(start, end)
    tokens.push({ type: 'word', text, value: text.toUpperCase(), start, end })
    return end
  }
  let openVersionComment = -1 // where the executable comment we are inside began, or -1
  let pos = 0
  while (pos < sql.length) {
    const code = sql.charCodeAt(pos)
    // Spaces and plain words first: most of any statement (by character codes, which are cheaper than one-character strings).
    if (code === 32 || (code >= 9 && code <= 13)) {
      pos++
      continue
    }
    if (isWordStart(code) && !(INTRODUCERS.includes(code) && sql.charCodeAt(pos + 1) === QUOTE)) {
      pos = pushWord(pos, wordEnd(sql, pos))
      continue
    }
    const c = sql[pos]!
    const next = sql[pos + 1]
    if (c === '#' || (c === '-' && next === '-' && (pos + 2 === sql.length || sql.charCodeAt(pos + 2) <= 32))) {
      const newline = sql.indexOf('\n', pos)
      pos = newline < 0 ? sql.length : newline + 1
    } else if (c === '/' && next === '*') {
      const body = versionCommentBody(sql, pos)
      if (body > 0) {
        openVersionComment = pos
        pos = body
      } else {
        const close = sql.indexOf('*/', pos + 2)
        if (close < 0) throw unterminated('comment', pos)
        pos = close + 2
      }
    } else if (c === '*' && next === '/' && openVersionComment >= 0) {
      openVersionComment = -1
      pos += 2
    } else if (c === "'" || c === '"') {
      const s = readQuoted(sql, pos, c)
      pos = push('string', pos, s.end, s.value)
    } else if (c === '`' || c === '[') {
      const s = readQuoted(sql, pos, c === '`' ? '`' : ']')
      pos = push('identifier', pos, s.end, s.value)
    } else if (INTRODUCERS.includes(code) && next === "'") {
      const s = readQuoted(sql, pos + 1, "'")
      pos = push('string', pos, s.end, s.value)
    } else if (isDigit(c) || (c === '.' && isDigit(next))) {
      const end = numberEnd(sql, pos)
      // MySQL identifiers may begin with digits: 1st_half is a word, not 1 then st_half.
      if (isDigit(c) && isWordChar(sql[end])) pos = pushWord(pos, wordEnd(sql, end))
      else pos = push('number', pos, end)
    } else if (c === '@') {
      const end = variableEnd(sql, pos)
      pos = end > 0 ? push('variable', pos, end) : push('punct', pos, pos + 1)
    } else if (c === '?') {
      pos = push('param', pos, pos + 1)
    } else {
      const punct = LONG_PUNCT_STARTS.includes(c) ? (LONG_PUNCT.find((p) => sql.startsWith(p, pos)) ?? c) : c
      pos = push('punct', pos, pos + punct.length)
    }
  }
  if (openVersionComment >= 0) throw unterminated('comment', openVersionComment)
  return tokens
}

const QUOTE = 0x27
/** The letters that, right before a quote, make a string literal of it: x'…', b'…', N'…'. */
const INTRODUCERS = [...'xXbBnN'].map((c) => c.charCodeAt(0))
/** The first characters of LONG_PUNCT. */
const LONG_PUNCT_STARTS = [...new Set(LONG_PUNCT.map((p) => p[0]!))].join('')

/** A character code a word starts with: a letter, `_`, `$` or anything past ASCII. */
function isWordStart(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || code === 95 || code === 36 || code >= 0x80
}

/** A character code inside a word: what starts one, or a digit. */
function isWordCode(code: number): boolean {
  return isWordStart(code) || (code >= 48 && code <= 57)
}

/** If a comment starting at `pos` is executable (`/*!`, `/*!50001`, `/*M!`), returns where its code begins; else -1. */
function versionCommentBody(sql: string, pos: number): number {
  let i = pos + 2
  if (sql[i] === 'M' && sql[i + 1] === '!') i++
  if (sql[i] !== '!') return -1
  i++
  while (isDigit(sql[i])) i++
  return i
}

/**
 * Reads a quoted string or identifier whose opening quote is at `start` and which
 * ends at `close`. A doubled closing quote stands for one; in strings a backslash
 * escapes the next character. Returns the end offset and the unquoted value.
 */
export function readQuoted(sql: string, start: number, close: string): { end: number; value: string } {
  const backslash = close === "'" || close === '"'
  let value = ''
  let from = start + 1
  for (let i = start + 1; i < sql.length; i++) {
    const c = sql[i]
    if (c === '\\' && backslash && i + 1 < sql.length) {
      const escaped = sql[i + 1]!
      value += sql.slice(from, i) + (ESCAPES[escaped] ?? escaped)
      i++
      from = i + 1
    } else if (c === close) {
      value += sql.slice(from, i)
      if (sql[i + 1] !== close) return { end: i + 1, value }
      value += close
      i++
      from = i + 1
    }
  }
  throw unterminated(backslash ? 'string' : 'quoted identifier', start)
}

/** Returns the end of the number at `pos`: an integer, decimal, exponent form, or 0x/0b literal. */
function numberEnd(sql: string, pos: number): number {
  let i = pos
  const prefix = sql[i] === '0' ? sql[i + 1] : undefined
  const radixDigit = prefix === undefined ? undefined : RADIX_DIGITS[prefix]
  if (radixDigit?.(sql[i + 2])) {
    i += 2
    while (radixDigit(sql[i])) i++
    return i
  }
  while (isDigit(sql[i])) i++
  if (sql[i] === '.') {
    i++
    while (isDigit(sql[i])) i++
  }
  if (sql[i] === 'e' || sql[i] === 'E') {
    const sign = sql[i + 1] === '+' || sql[i + 1] === '-' ? 1 : 0
    if (isDigit(sql[i + 1 + sign])) {
      i += 1 + sign
      while (isDigit(sql[i])) i++
    }
  }
  return i
}

/** Returns the end of the `@name`, `@@name`, `@@global.name` or `@'quoted'` variable at `pos`, or -1 if no name follows the `@`. */
function variableEnd(sql: string, pos: number): number {
  const name = sql[pos + 1] === '@' ? pos + 2 : pos + 1
  const quote = sql[name]
  if (quote === "'" || quote === '"' || quote === '`') return readQuoted(sql, name, quote).end
  let end = name
  while (isWordChar(sql[end]) || sql[end] === '.') end++
  return end > name ? end : -1
}

function wordEnd(sql: string, pos: number): number {
  let i = pos
  while (isWordCode(sql.charCodeAt(i))) i++
  return i
}

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && isWordCode(c.charCodeAt(0))
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9'
}

function isHexDigit(c: string | undefined): boolean {
  return isDigit(c) || (c !== undefined && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
}

function isBinaryDigit(c: string | undefined): boolean {
  return c === '0' || c === '1'
}

function unterminated(what: string, start: number): DdbError {
  return new DdbError('SQL_SYNTAX', `unterminated ${what} starting at position ${start}`)
}

/** `name` as a backtick-quoted identifier, which the lexer (and MySQL, and SQLite) read back as `name`. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``
}
