import type { ReadResult } from '../../entry.ts'
import type { Value } from '../../node/variables.ts'
import { type Token, tokenize } from '../../sql/lexer.ts'

/** What the listener knows about a connection, for the queries it answers itself. */
export interface LocalContext {
  connectionId: number
  user: string
  /** The session's current database. */
  db: string | null
  /** The offset of the session's last write (0 before any). */
  lastOffset: number
  /** The store's dialect: a variable ddb does not know goes to a MySQL store, and is NULL on SQLite. */
  dialect: 'mysql' | 'sqlite'
  /** The connection's autocommit setting. */
  autocommit: boolean
  /** A session system variable's value (undefined: ddb does not know it; a MySQL store may). */
  variable(name: string): Value | undefined
  /** A user variable's value (NULL when never set). */
  userVariable(name: string): Value
}

/** What a locally answered query returns; null when the statement must go to the Session. */
export type LocalAnswer =
  | ({ kind: 'read' } & ReadResult)
  /** autocommit: the SET changed it (the connection applies that); rest: the other assignments of the SET, for the session. */
  | { kind: 'ok'; autocommit?: boolean; rest?: string }
  | { kind: 'error'; errno: number; sqlState: string; message: string }

/**
 * Answers the queries drivers and the CLI send on connect, from the session's
 * variables, without the store: `SELECT @@var, @user, DATABASE(), USER(),
 * CONNECTION_ID(), VERSION(), ddb_offset() [LIMIT n]` (a variable ddb does not
 * know goes to a MySQL store, and is NULL on SQLite), and SET autocommit, which
 * the MySQL port emulates. Returns null for everything else. `lexed`: sql's tokens, when the caller has them.
 */
export function answerLocally(sql: string, ctx: LocalContext, lexed?: Token[]): LocalAnswer | null {
  let tokens: Token[]
  try {
    tokens = lexed ?? tokenize(sql)
  } catch {
    return null
  }
  const first = tokens[0]
  if (first?.type !== 'word') return null
  if (first.value === 'SELECT') return localSelect(tokens, ctx)
  if (first.value === 'SET') return localSet(tokens)
  return null
}

function localSelect(tokens: Token[], ctx: LocalContext): LocalAnswer | null {
  let i = 1
  const columns: string[] = []
  const row: unknown[] = []
  for (;;) {
    const t = tokens[i]
    if (!t) return null
    let name: string
    let value: unknown
    if (t.type === 'variable' && t.text.startsWith('@@')) {
      const variable = t.text
        .slice(2)
        .replace(/^(session|global|local)\./i, '')
        .toLowerCase()
      value = variable === 'autocommit' ? (ctx.autocommit ? 1 : 0) : ctx.variable(variable)
      // Unknown ones: a MySQL store knows them; SQLite has none, so they read as NULL.
      if (value === undefined) {
        if (ctx.dialect === 'mysql') return null
        value = null
      }
      name = t.text
      i++
    } else if (t.type === 'variable') {
      if (tokens[i + 1]?.text === ':=') return null
      value = ctx.userVariable(t.text.slice(1).replace(/^(['"`])(.*)\1$/s, '$2'))
      name = t.text
      i++
    } else if (t.type === 'word' && tokens[i + 1]?.text === '(' && tokens[i + 2]?.text === ')') {
      const fn = t.value
      if (fn === 'DATABASE' || fn === 'SCHEMA') value = ctx.db
      else if (fn === 'USER' || fn === 'CURRENT_USER' || fn === 'SESSION_USER' || fn === 'SYSTEM_USER')
        value = `${ctx.user}@localhost`
      else if (fn === 'CONNECTION_ID') value = ctx.connectionId
      else if (fn === 'VERSION') value = ctx.variable('version') ?? null
      else if (fn === 'DDB_OFFSET') value = ctx.lastOffset
      else return null
      name = `${t.text}()`
      i += 3
    } else {
      return null
    }
    if (tokens[i]?.value === 'AS' && tokens[i + 1]) {
      name = tokens[i + 1]!.type === 'word' ? tokens[i + 1]!.text : tokens[i + 1]!.value
      i += 2
    } else if (
      tokens[i] &&
      (tokens[i]!.type === 'identifier' || (tokens[i]!.type === 'word' && tokens[i]!.value !== 'LIMIT'))
    ) {
      name = tokens[i]!.type === 'word' ? tokens[i]!.text : tokens[i]!.value
      i++
    }
    columns.push(name)
    row.push(value)
    if (tokens[i]?.text === ',') {
      i++
      continue
    }
    break
  }
  let limit = 1
  if (tokens[i]?.value === 'LIMIT' && tokens[i + 1]?.type === 'number') {
    limit = Number(tokens[i + 1]!.value)
    i += 2
  }
  if (tokens[i]?.text === ';') i++
  if (i !== tokens.length) return null
  return { kind: 'read', columns, rows: limit > 0 ? [row] : [] }
}

/**
 * SET autocommit = …, which the MySQL port emulates; its other assignments, if
 * any, come back as `rest` for the session. Null for a SET without autocommit.
 */
function localSet(tokens: Token[]): LocalAnswer | null {
  let autocommit: boolean | undefined
  const rest: string[] = []
  let depth = 0
  let start = 1
  const parts: Token[][] = []
  for (let i = 1; i <= tokens.length; i++) {
    const t = tokens[i]
    if (t?.text === '(') depth++
    else if (t?.text === ')') depth--
    if (!t || (depth === 0 && (t.text === ',' || t.text === ';'))) {
      parts.push(tokens.slice(start, i))
      start = i + 1
    }
  }
  for (const part of parts) {
    let j = 0
    if (part[0]?.type === 'word' && (part[0].value === 'SESSION' || part[0].value === 'LOCAL')) j++
    const target = part[j]
    const name =
      target?.type === 'variable' && target.text.startsWith('@@')
        ? target.text.slice(2).replace(/^(session|local)\./i, '')
        : target?.type === 'word'
          ? target.text
          : ''
    if (name.toLowerCase() !== 'autocommit' || !['=', ':='].includes(part[j + 1]?.text ?? '')) {
      if (part.length > 0) rest.push(part.map((t) => t.text).join(' '))
      continue
    }
    const setting = (part[j + 2]?.value ?? '').toUpperCase()
    if (part.length !== j + 3) return null
    if (['1', 'ON', 'TRUE'].includes(setting)) autocommit = true
    else if (['0', 'OFF', 'FALSE'].includes(setting)) autocommit = false
    else
      return {
        kind: 'error',
        errno: 1231,
        sqlState: '42000',
        message: `Variable 'autocommit' can't be set to the value of '${part[j + 2]?.value ?? ''}'`,
      }
  }
  if (autocommit === undefined) return null
  return { kind: 'ok', autocommit, ...(rest.length > 0 ? { rest: `SET ${rest.join(', ')}` } : {}) }
}
