/**
 * MySQL literals and operators whose SQLite spelling differs, rewritten token by
 * token in any statement:
 *
 * - strings with backslash escapes ('o\'neil', 'a\nb', '\0') and double-quoted
 *   strings ("text": a string in MySQL's default sql_mode, an identifier in
 *   SQLite) become standard single-quoted literals with the same characters;
 *   N'x' becomes 'x'; a charset introducer (_utf8mb4'x') is dropped, and
 *   _binary'x' becomes the blob X'78';
 * - hex literals 0x41 and X'41' become X'41', a BLOB: what MySQL gives in string
 *   context (binary columns, mysqldump --hex-blob); MySQL's numeric reading
 *   (0x41 + 0 = 65) is not kept;
 * - bit literals b'0101' and 0b0101 become the integer 5 (their numeric value);
 * - typed literals DATE '…', TIME '…', TIMESTAMP '…' become the string;
 * - COLLATE x_bin / binary → COLLATE BINARY, any other collation → NOCASE;
 * - `||` is OR and `&&` AND in MySQL (no PIPES_AS_CONCAT); `<=>` is SQLite's IS;
 * - `/` always divides exactly in MySQL (5/2 = 2.5), SQLite divides integers
 *   as integers: `a / b` becomes `a * 1.0 / b`, which groups the same way;
 * - LIKE escapes with a backslash by default in MySQL: ESCAPE '\' is added to a
 *   LIKE without an ESCAPE clause.
 *
 * Refused: `!` as NOT (write NOT), LIKE BINARY (SQLite's LIKE ignores case for
 * ASCII whatever the collation).
 */
import { isPunct, isWord } from '../lexer.ts'
import { operandEnd, refuse, sqlString, type TokenEdits } from './edits.ts'

/** Character sets MySQL accepts as a literal's introducer (_utf8mb4'x'). */
const CHARSETS = new Set(
  'armscii8 ascii big5 binary cp1250 cp1251 cp1256 cp1257 cp850 cp852 cp866 cp932 dec8 eucjpms euckr gb18030 gb2312 gbk geostd8 greek hebrew hp8 keybcs2 koi8r koi8u latin1 latin2 latin5 latin7 macce macroman sjis swe7 tis620 ucs2 ujis utf16 utf16le utf32 utf8 utf8mb3 utf8mb4'.split(
    ' ',
  ),
)

/** Words that, before a string, make it a typed literal. */
const TYPED_LITERALS = new Set(['DATE', 'TIME', 'TIMESTAMP'])

/** SQLite's own collations, kept as they are. */
const SQLITE_COLLATIONS = new Set(['BINARY', 'NOCASE', 'RTRIM'])

/** Rewrites the literals and operators of the whole statement (see the module comment). */
export function translateLiterals(edits: TokenEdits): void {
  const { tokens } = edits
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    const next = tokens[i + 1]
    if (t.type === 'string') {
      const text = stringLiteral(t.text, t.value)
      if (text !== t.text) edits.replace(i, text)
    } else if (t.type === 'number' && /^0[xX]/.test(t.text)) {
      edits.replace(i, blob(t.text.slice(2)))
    } else if (t.type === 'number' && /^0[bB]/.test(t.text)) {
      edits.replace(i, bits(t.text.slice(2)))
    } else if (t.type === 'word' && introduces(t.value, next)) {
      edits.remove(i)
      if (t.value === '_BINARY' && next?.type === 'string' && /^['"]/.test(next.text))
        edits.replace(++i, blob(Buffer.from(next.value, 'utf8').toString('hex')))
      else if (t.value !== '_BINARY' && next && /^(0x|x')/i.test(next.text))
        edits.replace(++i, `CAST(${blob(hexDigits(next))} AS TEXT)`)
    } else if (
      t.type === 'word' &&
      TYPED_LITERALS.has(t.value) &&
      next?.type === 'string' &&
      !isPunct(tokens[i - 1], '.')
    ) {
      edits.remove(i)
    } else if (isWord(t, 'COLLATE') && next && next.type !== 'punct') {
      edits.replace(i + 1, collation(next.type === 'word' ? next.text : next.value))
    } else if (t.type === 'punct') {
      operator(edits, i)
    } else if (isWord(t, 'LIKE')) {
      like(edits, i)
    }
  }
}

/** The SQLite collation for a MySQL one: BINARY for binary and *_bin collations, NOCASE for the case-insensitive rest. */
export function collation(name: string): string {
  const upper = name.toUpperCase()
  if (SQLITE_COLLATIONS.has(upper)) return upper
  return upper === 'BINARY' || upper.endsWith('_BIN') ? 'BINARY' : 'NOCASE'
}

/** A string token's SQLite text: unchanged when it means the same there, else rebuilt from its value. */
function stringLiteral(text: string, value: string): string {
  const quote = text[0]!
  if (quote === "'") return text.includes('\\') || value.includes('\0') ? sqlString(value) : text
  if (quote === '"' || quote === 'n' || quote === 'N') return sqlString(value)
  if (quote === 'b' || quote === 'B') return bits(value)
  return text // X'…' means the same in SQLite
}

/** Whether the word `value` is a charset introducer for the literal `next`. */
function introduces(value: string, next: { type: string; text: string } | undefined): boolean {
  return (
    value.startsWith('_') &&
    CHARSETS.has(value.slice(1).toLowerCase()) &&
    next !== undefined &&
    (next.type === 'string' || /^0x/i.test(next.text))
  )
}

/** The hex digits of X'…' or 0x…. */
function hexDigits(t: { text: string; value: string }): string {
  return t.text.startsWith('0') ? t.text.slice(2) : t.value
}

/** A blob literal of hex `digits`; an odd count gets a leading 0, as MySQL reads 0x123. */
function blob(digits: string): string {
  return `X'${(digits.length % 2 ? `0${digits}` : digits).toUpperCase()}'`
}

/** The integer a bit literal's digits stand for; b'' is the empty blob. */
function bits(digits: string): string {
  return digits === '' ? "X''" : BigInt(`0b${digits}`).toString()
}

/** Rewrites the MySQL-only operator at tokens[i], if it is one. */
function operator(edits: TokenEdits, i: number): void {
  switch (edits.tokens[i]!.text) {
    case '||':
      return edits.replace(i, ' OR ')
    case '&&':
      return edits.replace(i, ' AND ')
    case '<=>':
      return edits.replace(i, ' IS ')
    case '/':
      return edits.before(i, '* 1.0 ')
    case '!':
      throw refuse('the ! operator', 'write NOT, which SQLite knows')
  }
}

/**
 * MySQL's default LIKE escape, a backslash, as SQLite's ESCAPE clause: written
 * char(92), since ddb's lexer reads the translation again, and in MySQL's
 * dialect '\' is an unterminated string.
 */
export const LIKE_ESCAPE = 'ESCAPE char(92)'

/** Adds ESCAPE '\' to the LIKE at tokens[i] unless it has an ESCAPE clause: MySQL's patterns escape with a backslash. */
function like(edits: TokenEdits, i: number): void {
  const { tokens } = edits
  if (isWord(tokens[i + 1], 'BINARY'))
    throw refuse(
      'LIKE BINARY',
      "SQLite's LIKE ignores the case of ASCII letters whatever the collation; compare with GLOB or = instead",
    )
  const end = operandEnd(tokens, i + 1)
  if (end <= i + 1 || isWord(tokens[end], 'ESCAPE')) return
  edits.after(end - 1, ` ${LIKE_ESCAPE}`)
}
