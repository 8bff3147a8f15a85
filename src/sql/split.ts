/**
 * Splits a client's multi-statement input into statements. The lexer decides
 * what is a string, quoted identifier or comment, so a `;` inside one never
 * splits. Neither does a `;` inside the BEGIN … END body of a trigger, stored
 * routine or event, where it ends a statement of the body, not the definition.
 */
import { classifyTokens } from './classify.ts'
import { type Token, tokenize } from './lexer.ts'

/** Definitions whose body may be a BEGIN … END block holding `;`. */
const HAS_BODY = new Set([
  'CREATE TRIGGER',
  'CREATE TEMPORARY TRIGGER',
  'CREATE PROCEDURE',
  'CREATE FUNCTION',
  'CREATE EVENT',
  'ALTER EVENT',
])

/** Words after END that close a block that did not open with BEGIN or CASE: END IF, END LOOP … */
const OTHER_BLOCK_ENDS = new Set(['IF', 'LOOP', 'WHILE', 'REPEAT'])

/** A statement of a split input: its trimmed source and its tokens, with offsets into that source. */
export interface LexedStatement {
  sql: string
  tokens: Token[]
}

/** Splits `text` on `;` outside strings, identifiers, comments and routine bodies; returns each statement's trimmed source, dropping empty ones. */
export function splitStatements(text: string): string[] {
  return splitLexed(text).map((s) => s.sql)
}

/** splitStatements, keeping each statement's tokens, so the input is lexed once. */
export function splitLexed(text: string): LexedStatement[] {
  const tokens = tokenize(text)
  const statements: LexedStatement[] = []
  let first = 0 // index of the current statement's first token
  let from = 0 // where the current statement's text begins
  let hasBody: boolean | undefined // whether the current statement defines a routine; decided at its first BEGIN
  let blocks = 0 // blocks open in the routine's body
  let depth = 0 // parentheses open in the current statement; blocks never open inside them
  /** Adds the current statement, which ends at `end` in the text and before tokens[stop], unless it has no tokens. */
  const add = (end: number, stop: number): void => {
    if (stop <= first) return
    const raw = text.slice(from, end)
    const sql = raw.trim()
    const start = from + raw.length - raw.trimStart().length // where sql begins in text
    const own = tokens.slice(first, stop)
    statements.push({
      sql,
      tokens: start === 0 ? own : own.map((t) => ({ ...t, start: t.start - start, end: t.end - start })),
    })
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    if (t.type === 'punct' && t.text === ';' && blocks === 0) {
      add(t.start, i)
      first = i + 1
      from = t.end
      hasBody = undefined
      depth = 0
    } else if (t.type === 'punct' && (t.text === '(' || t.text === ')')) {
      depth += t.text === '(' ? 1 : -1
    } else if (t.type === 'word' && depth === 0) {
      if (t.value === 'BEGIN') hasBody ??= HAS_BODY.has(classifyTokens(tokens.slice(first, i)).keyword)
      if (hasBody) blocks = Math.max(0, blocks + blockChange(tokens, i))
    }
  }
  add(text.length, tokens.length)
  return statements
}

/** How the word at tokens[i] changes the number of open blocks in a routine body: BEGIN and CASE open one, END closes one. */
function blockChange(tokens: Token[], i: number): number {
  const word = tokens[i]!.value
  const previous = tokens[i - 1]
  const next = tokens[i + 1]
  if (word === 'BEGIN') return 1
  if (word === 'CASE') return previous?.type === 'word' && previous.value === 'END' ? 0 : 1
  if (word === 'END') return next?.type === 'word' && OTHER_BLOCK_ENDS.has(next.value) ? 0 : -1
  return 0
}
