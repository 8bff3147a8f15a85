import { DdbError } from '../errors.ts'
import { type Token, tokenize } from '../sql/lexer.ts'
import { type LexedStatement, splitLexed } from '../sql/split.ts'

/** A statement of a script, with the line it starts on (1-based), as the mysql client reports errors. */
export interface ScriptStatement {
  sql: string
  line: number
}

const DELIMITER_LINE = /^\s*DELIMITER\s+(\S+)\s*$/i

/**
 * The statements of a SQL script read from a stream (a file, a pipe), each as
 * soon as its `;` arrives, so a script of any size runs in flat memory and a
 * pipe's statements run as they come. ddb's splitter decides what a `;` is
 * (not in a string, comment or trigger body). A `DELIMITER xx` line, as in
 * mysqldump output, makes `xx` at the end of a line end a statement instead.
 */
export async function* scriptStatements(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<ScriptStatement> {
  const decoder = new TextDecoder()
  let partial = '' // the line being read
  let pending = '' // complete lines not yet run
  let pendingLine = 1 // the line `pending` starts on
  let delimiter = ';'

  /** Takes the complete statements off `pending`; at the end of input, the last one too. */
  function* take(final: boolean): Generator<ScriptStatement> {
    let statements: LexedStatement[], tokens: Token[]
    try {
      statements = splitLexed(pending)
      tokens = tokenize(pending)
    } catch (err) {
      // A string or comment still open: wait for the lines that close it. At the end, the node says what is wrong.
      if (!final) return
      if (!(err instanceof DdbError)) throw err
      const sql = pending.trim()
      if (sql) yield { sql, line: pendingLine + newlines(pending, 0, pending.indexOf(sql)) }
      return
    }
    let t = 0 // tokens[t]: the next statement's first token, or the `;` after a statement
    let line = pendingLine
    let counted = 0 // the newlines of pending[0, counted) are counted in `line`
    // What stays for the next take: an unfinished statement, or what follows the last `;` (a comment may go on).
    let keep = 0
    for (const s of statements) {
      while (isSemicolon(tokens[t])) t++
      const start = tokens[t]!.start
      t += s.tokens.length
      line += newlines(pending, counted, start)
      counted = start
      if (!final && t >= tokens.length) {
        keep = start // no `;` after it yet: it goes on in the lines to come
        break
      }
      yield { sql: s.sql, line }
      keep = tokens[t]?.end ?? pending.length
    }
    if (final) keep = pending.length
    pendingLine = line + newlines(pending, counted, keep)
    pending = pending.slice(keep)
  }

  for await (const chunk of chunks) {
    partial += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })
    const end = partial.lastIndexOf('\n')
    if (end < 0) continue
    let ended = false // whether a new line may end a statement
    for (const line of partial.slice(0, end).split('\n')) {
      const d = DELIMITER_LINE.exec(line)
      if (d) delimiter = d[1]!
      const text = d
        ? ''
        : delimiter !== ';' && line.trimEnd().endsWith(delimiter)
          ? withSemicolon(line, delimiter)
          : line
      pending += `${text}\n`
      ended ||= text.includes(';')
    }
    partial = partial.slice(end + 1)
    if (ended) yield* take(false)
  }
  pending += partial + decoder.decode()
  yield* take(true)
}

/** The line with its trailing custom delimiter replaced by `;`. */
function withSemicolon(line: string, delimiter: string): string {
  const trimmed = line.trimEnd()
  return `${trimmed.slice(0, trimmed.length - delimiter.length)};`
}

function isSemicolon(t: Token | undefined): boolean {
  return t?.type === 'punct' && t.text === ';'
}

function newlines(text: string, from: number, to: number): number {
  let n = 0
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++
  return n
}
