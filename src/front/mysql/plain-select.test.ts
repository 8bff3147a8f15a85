import { describe, expect, test } from 'bun:test'
import { prng, TEST_SEED } from '../../../test/support/random.ts'
import { isLastInsertIdCall } from '../../node/settings.ts'
import { classifyTokens, isPlainSelect } from '../../sql/classify.ts'
import { splitLexed } from '../../sql/split.ts'
import { answerLocally } from './local.ts'

// A plain SELECT is relayed without being lexed (Session.relayable). That is only
// right if lexing it would have found what relaying needs: one statement, a read,
// no variable, no LAST_INSERT_ID(), nothing the port answers itself.

/** Pieces statements are made of, the tricky ones among them: quotes, comments, variables, INTO. */
const PIECES = [
  'SELECT ',
  'SELECT',
  'c',
  'id',
  ' FROM ',
  't',
  ' WHERE ',
  ' = ',
  '1',
  '2.5e3',
  ',',
  ' * ',
  '.',
  '<',
  '>',
  '!',
  '+',
  ' AND ',
  ' INTO ',
  ' into@v',
  'x',
  "'a;b'",
  "'@v'",
  "'it''s'",
  "'back\\\\'",
  "'",
  '`we ird`',
  '`',
  '"s"',
  '@v',
  '@@version',
  '?',
  '(',
  ')',
  'LAST_INSERT_ID()',
  'DATABASE()',
  ' -- c',
  '-',
  '/* c */',
  '/*!1 x*/',
  '#',
  ';',
  '; SELECT 1',
  '\n',
  '\t',
  ' LIMIT 1',
  ' FOR UPDATE',
]

const LOCAL = {
  connectionId: 1,
  user: 'root',
  db: 'app',
  lastOffset: 0,
  dialect: 'mysql' as const,
  autocommit: true,
  variable: () => 'x',
  userVariable: () => 'x',
}

/** What lexing says of `sql`: would it be relayed as it is? */
function lexedVerdict(sql: string): boolean {
  let statements: ReturnType<typeof splitLexed>
  try {
    statements = splitLexed(sql)
  } catch {
    return false
  }
  if (statements.length !== 1) return false
  const { tokens } = statements[0]!
  if (classifyTokens(tokens).kind !== 'read') return false
  if (tokens.some((t, i) => t.type === 'variable' || t.type === 'param' || isLastInsertIdCall(tokens, i))) return false
  return answerLocally(sql, LOCAL, tokens) === null
}

describe('isPlainSelect', () => {
  test('point selects, ranges and plain strings are plain; anything that needs a closer look is not', () => {
    for (const sql of [
      'SELECT c FROM sbtest1 WHERE id = 4711',
      'select c from t where id between 5 and 14 order by c;',
      "SELECT `a b`, t.c FROM db.t WHERE s = 'x;y' AND n <> 2 LIMIT 10",
    ])
      expect(isPlainSelect(sql)).toBe(true)
    for (const sql of [
      'SELECT @v',
      'SELECT LAST_INSERT_ID()',
      'SELECT c FROM t WHERE id = ?',
      'SELECT 1 INTO @x',
      'SELECT c FROM t; DELETE FROM t',
      'SELECT c FROM t -- comment',
      "SELECT 'a\\'; DROP TABLE t; -- '",
      'SELECT /*!50000 @v */ 1',
      'INSERT INTO t VALUES (1)',
    ])
      expect(isPlainSelect(sql)).toBe(false)
  })

  test(`every plain SELECT is one the lexer would relay (seed ${TEST_SEED}, DDB_SEED replays it)`, () => {
    const random = prng(TEST_SEED)
    let plain = 0
    for (let n = 0; n < 20_000; n++) {
      let sql = random() < 0.8 ? 'SELECT ' : ''
      const length = 1 + Math.floor(random() * 8)
      for (let k = 0; k < length; k++) sql += PIECES[Math.floor(random() * PIECES.length)]
      if (!isPlainSelect(sql)) continue
      plain++
      if (!lexedVerdict(sql)) throw new Error(`plain but not relayable when lexed: ${JSON.stringify(sql)}`)
    }
    expect(plain).toBeGreaterThan(1_000) // the generator reaches plain statements, not only refused ones
  })
})
