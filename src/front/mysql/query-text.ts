/**
 * The text of a statement a MySQL client sent (COM_QUERY, COM_STMT_PREPARE), byte
 * for byte. Clients send UTF-8, except inside string literals, where dump files and
 * drivers write BLOB bytes raw ('\0…\xff', _binary'…'). Such a literal becomes a hex
 * literal of the same bytes (X'00…FF'), which MySQL stores, compares and refuses
 * exactly as it would the raw one, and which the log, the wire and every slave
 * carry as plain text. Nothing is ever decoded lossily.
 */
import { DdbError } from '../../errors.ts'
import { tokenize } from '../../sql/lexer.ts'

const utf8 = new TextDecoder('utf-8', { fatal: true })

function isUtf8(bytes: Buffer): boolean {
  try {
    utf8.decode(bytes)
    return true
  } catch {
    return false
  }
}

/** The statement as text: its UTF-8, with each string literal that is not UTF-8 turned into a hex literal of its bytes. */
export function queryText(bytes: Buffer): string {
  try {
    return utf8.decode(bytes)
  } catch {
    // Not UTF-8: find the literals that hold raw bytes.
  }
  const text = bytes.toString('latin1') // one character per byte, so the lexer's offsets are byte offsets
  let out = ''
  let from = 0
  for (const t of tokenize(text)) {
    if (t.type !== 'string' || isUtf8(Buffer.from(t.text, 'latin1'))) continue
    // An introducer written against the quote (_binary'…') needs a space before the X'…'.
    const space = /[\w$]/.test(text[t.start - 1] ?? '') ? ' ' : ''
    out += `${text.slice(from, t.start)}${space}X'${Buffer.from(t.value, 'latin1').toString('hex').toUpperCase()}'`
    from = t.end
  }
  const rewritten = Buffer.from(out + text.slice(from), 'latin1')
  try {
    return utf8.decode(rewritten)
  } catch {
    throw new DdbError(
      'SQL_SYNTAX',
      'the statement is not valid UTF-8 outside its string literals (in a name or a comment)',
      { hint: 'send names in UTF-8; raw bytes belong in string literals or bound parameters' },
    )
  }
}
