import { describe, expect, test } from 'bun:test'
import { DdbError } from '../../errors.ts'
import { queryText } from './query-text.ts'

const bytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))))

describe('queryText', () => {
  test('UTF-8 stays as it is', () => {
    expect(queryText(bytes("INSERT INTO t VALUES ('Ali', 'ünï', '😀')"))).toBe(
      "INSERT INTO t VALUES ('Ali', 'ünï', '😀')",
    )
  })

  test('a literal of raw bytes becomes a hex literal of the same bytes; the rest of the text is kept', () => {
    const sql = bytes("INSERT INTO t VALUES (1, 'a", [0xff, 0xfe], "b', 'ü')")
    expect(queryText(sql)).toBe("INSERT INTO t VALUES (1, X'61FFFE62', 'ü')")
  })

  test('escapes are unescaped first, as MySQL reads them: the hex holds the bytes MySQL would store', () => {
    const sql = bytes("INSERT INTO t VALUES ('\\0\\'\\\\", [0x80], '\\n\', "', [0xc3], '")')
    expect(queryText(sql)).toBe("INSERT INTO t VALUES (X'00275C800A', X'C3')")
  })

  test('an introducer stays in front of the hex literal', () => {
    expect(queryText(bytes('SELECT _binary', "'", [0x00, 0xff], "'"))).toBe("SELECT _binary X'00FF'")
  })

  test('all 256 byte values in one literal', () => {
    const all = Array.from({ length: 256 }, (_, i) => i)
    const escaped = all.flatMap((b) => (b === 0x27 || b === 0x5c ? [0x5c, b] : [b]))
    const sql = bytes('INSERT INTO t VALUES (', [0x27, ...escaped, 0x27], ')')
    expect(queryText(sql)).toBe(`INSERT INTO t VALUES (X'${Buffer.from(all).toString('hex').toUpperCase()}')`)
  })

  test('raw bytes outside a literal are refused, with the reason', () => {
    const err = (() => {
      try {
        queryText(bytes('SELECT 1 FROM t', [0xff]))
      } catch (e) {
        return e
      }
    })() as DdbError
    expect(err).toBeInstanceOf(DdbError)
    expect(err.message).toBe('the statement is not valid UTF-8 outside its string literals (in a name or a comment)')
  })
})
