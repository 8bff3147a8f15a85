/**
 * Finds clock defaults in CREATE/ALTER TABLE: DEFAULT or ON UPDATE clauses whose
 * value reads the clock (CURRENT_TIMESTAMP, NOW(), datetime('now') …). Each server
 * evaluates such a value whenever it writes a row, and SQLite has nothing that pins
 * it to the master's clock, so SQLite DDL that declares one is refused.
 */
import { classifyTokens } from './classify.ts'
import { closing, nowEdits, RULES, readUse, unsafe } from './determinism-rules.ts'
import { isPunct, isWord, type Token, tokenize } from './lexer.ts'

/** Clock words that make a column default or ON UPDATE clause a time default, in either dialect. */
const CLOCK_WORDS = new Set([
  'CURRENT_TIMESTAMP',
  'CURRENT_DATE',
  'CURRENT_TIME',
  'NOW',
  'LOCALTIME',
  'LOCALTIMESTAMP',
  'CURDATE',
  'CURTIME',
  'UTC_TIMESTAMP',
  'UTC_DATE',
  'UTC_TIME',
  'UNIX_TIMESTAMP',
  'SYSDATE',
])

/** Statements whose column definitions may hold defaults. */
export const TABLE_DDL = new Set(['CREATE TABLE', 'ALTER TABLE'])

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

/** Throws UNSAFE_STATEMENT when the CREATE/ALTER TABLE lexed as `tokens` declares a clock default. */
export function refuseTimeDefaults(sql: string, tokens: Token[]): void {
  const found = timeDefault(sql, tokens)
  if (!found) return
  const text = sql.slice(tokens[found.from]!.start, tokens[found.to - 1]!.end)
  throw unsafe(
    `${text}: SQLite evaluates a column default at insert time on each node, so slaves would store their own clock; insert the value explicitly instead`,
  )
}

/** Finds the first DEFAULT or ON UPDATE clause whose value reads the clock; returns its tokens [from, to). */
function timeDefault(sql: string, tokens: Token[]): { from: number; to: number } | undefined {
  for (let k = 0; k < tokens.length; k++) {
    const value = isWord(tokens[k], 'DEFAULT')
      ? k + 1
      : isWord(tokens[k], 'ON') && isWord(tokens[k + 1], 'UPDATE')
        ? k + 2
        : -1
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
    const t = tokens[k]!
    if (t.type !== 'word') continue
    if (CLOCK_WORDS.has(t.value)) return true
    const rule = RULES.get(t.value)?.sqlite
    if (rule?.kind !== 'clock-function') continue
    const use = readUse(sql, tokens, k)
    if (use && nowEdits(rule, use, '').length > 0) return true
  }
  return false
}
