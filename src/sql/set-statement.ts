/**
 * The parts of a SET statement: `SET [SESSION|LOCAL] name = expr, @user := expr,
 * @@session.name = expr …`, `SET NAMES cs [COLLATE c]`, `SET CHARACTER SET cs`
 * and `SET [SESSION] TRANSACTION …`. Server-wide scopes (GLOBAL, PERSIST) are
 * refused by classify() before this is asked.
 */
import { DdbError } from '../errors.ts'
import { isPunct, isWord, type Token } from './lexer.ts'

/** One assignment: a user variable (@name) or a session system variable (lowercased), and its value's tokens. */
export interface Assignment {
  kind: 'user' | 'system'
  name: string
  value: Token[]
}

export type SetStatement =
  | { kind: 'assignments'; assignments: Assignment[] }
  /** SET NAMES cs [COLLATE c] and SET CHARACTER SET cs (collation null: the charset's default). */
  | { kind: 'names'; charset: string; collation: string | null; characterSet: boolean }
  /** SET [SESSION] TRANSACTION ISOLATION LEVEL … / READ ONLY | READ WRITE: the next transactions' characteristics. */
  | { kind: 'transaction'; text: string }

const syntax = (message: string) => new DdbError('SQL_SYNTAX', `SET: ${message}`)

/** Reads a SET statement's tokens (tokens[0] is SET). */
export function parseSet(tokens: Token[]): SetStatement {
  let i = 1
  if (isWord(tokens[i], 'SESSION') || isWord(tokens[i], 'LOCAL')) i++
  if (isWord(tokens[i], 'TRANSACTION')) {
    return {
      kind: 'transaction',
      text: tokens
        .slice(i + 1)
        .map((t) => t.text)
        .join(' '),
    }
  }
  if (isWord(tokens[1], 'NAMES')) return names(tokens, 2, false)
  if (isWord(tokens[1], 'CHARSET')) return names(tokens, 2, true)
  if (isWord(tokens[1], 'CHARACTER') && isWord(tokens[2], 'SET')) return names(tokens, 3, true)
  const assignments: Assignment[] = []
  for (const part of splitTopLevel(tokens.slice(1))) assignments.push(assignment(part))
  if (assignments.length === 0) throw syntax('nothing to set')
  return { kind: 'assignments', assignments }
}

function names(tokens: Token[], i: number, characterSet: boolean): SetStatement {
  const cs = tokens[i]
  if (!cs || cs.type === 'punct') throw syntax('a character set name is missing')
  const charset = cs.type === 'word' ? cs.text.toLowerCase() : cs.value.toLowerCase()
  let collation: string | null = null
  if (isWord(tokens[i + 1], 'COLLATE')) {
    const c = tokens[i + 2]
    if (!c || c.type === 'punct') throw syntax('a collation name is missing')
    collation = c.type === 'word' ? c.text.toLowerCase() : c.value.toLowerCase()
  }
  return { kind: 'names', charset, collation, characterSet }
}

/** Splits assignments at the commas outside parentheses. */
function splitTopLevel(tokens: Token[]): Token[][] {
  const parts: Token[][] = [[]]
  let depth = 0
  for (const t of tokens) {
    if (isPunct(t, ';')) break
    if (isPunct(t, '(')) depth++
    else if (isPunct(t, ')')) depth--
    if (depth === 0 && isPunct(t, ',')) parts.push([])
    else parts[parts.length - 1]!.push(t)
  }
  return parts.filter((p) => p.length > 0)
}

function assignment(part: Token[]): Assignment {
  let i = 0
  if (isWord(part[0], 'SESSION') || isWord(part[0], 'LOCAL')) i++
  const target = part[i]
  const op = part[i + 1]
  if (!target || !op || !(isPunct(op, '=') || isPunct(op, ':=')))
    throw syntax(`expected name = value near "${target?.text ?? ''}"`)
  const value = part.slice(i + 2)
  if (value.length === 0) throw syntax(`${target.text} has no value`)
  if (target.type === 'variable' && !target.text.startsWith('@@')) {
    return { kind: 'user', name: userVariableName(target), value }
  }
  if (target.type === 'variable') {
    // @@name, @@session.name, @@local.name
    const name = target.text.slice(2).replace(/^(session|local)\./i, '')
    return { kind: 'system', name: name.toLowerCase(), value }
  }
  if (target.type !== 'word' && target.type !== 'identifier') throw syntax(`cannot set ${target.text}`)
  return { kind: 'system', name: (target.type === 'word' ? target.text : target.value).toLowerCase(), value }
}

/** A user variable's name as MySQL keys it: without the @ and quotes, case-insensitively. */
export function userVariableName(t: Token): string {
  const raw = t.text.slice(1)
  const quoted = /^(['"`])(.*)\1$/s.exec(raw)
  return (quoted ? quoted[2]! : raw).toLowerCase()
}
