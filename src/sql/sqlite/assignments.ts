/**
 * The SET list of UPDATE and of INSERT … ON DUPLICATE KEY UPDATE, rewritten in
 * MySQL's own dialect before the rest of the translation, so the other rules
 * then apply to the result:
 *
 * - MySQL evaluates the assignments left to right, each seeing the ones before
 *   it (SET a = a + 1, b = a gives b the new a); SQLite evaluates them all on
 *   the old row. A reference to a column assigned earlier in the list becomes
 *   that column's new value: SET a = a + 1, b = (a + 1). A subquery after such
 *   an assignment is refused (its names may or may not be that column).
 * - SET t.a = … → SET a = …: SQLite's SET names bare columns.
 * - ON DUPLICATE KEY UPDATE's VALUES(c), and new.c after a row alias
 *   (… VALUES (…) AS new), become excluded.c, SQLite's name for the row that
 *   was to be inserted; the alias goes.
 */
import { isPunct, isWord, type Token } from '../lexer.ts'
import { closeOf, findTop, nameOf, refuse, type Span, splitList, sqlName, TokenEdits } from './edits.ts'

/** The statement with its SET list rewritten, in MySQL's dialect; undefined when nothing changed. */
export function rewriteAssignments(sql: string, tokens: Token[], keyword: string): string | undefined {
  const edits = new TokenEdits(sql, tokens)
  const end = isPunct(tokens.at(-1), ';') ? tokens.length - 1 : tokens.length
  if (keyword === 'UPDATE' && isWord(tokens[0], 'UPDATE')) {
    const set = findTop(tokens, 1, end, (t) => isWord(t, 'SET'))
    if (set < 0) return undefined
    const clause = findTop(
      tokens,
      set + 1,
      end,
      (t) => t.type === 'word' && ['WHERE', 'ORDER', 'LIMIT', 'RETURNING'].includes(t.value),
    )
    inOrder(edits, { from: set + 1, to: clause < 0 ? end : clause }, new Set())
  } else if (keyword === 'INSERT' && isWord(tokens[0], 'INSERT')) {
    const duplicate = findTop(tokens, 1, end, (t, j) => isWord(t, 'ON') && isWord(tokens[j + 1], 'DUPLICATE'))
    if (duplicate < 0) return undefined
    const aliases = new Set<string>()
    const alias = findTop(tokens, 1, duplicate, (t) => isWord(t, 'AS'))
    if (alias >= 0 && !startsQuery(tokens[alias + 1])) {
      if (isPunct(tokens[alias + 2], '('))
        throw refuse('a row alias with column names (AS new(a, b))', 'write new.column or VALUES(column)')
      aliases.add(nameOf(tokens[alias + 1])?.toLowerCase() ?? '')
      edits.remove(alias, duplicate)
    }
    const returning = findTop(tokens, duplicate, end, (t) => isWord(t, 'RETURNING'))
    inOrder(edits, { from: duplicate + 4, to: returning < 0 ? end : returning }, aliases)
  } else {
    return undefined
  }
  return edits.changed ? edits.text() : undefined
}

function startsQuery(t: Token | undefined): boolean {
  return isWord(t, 'SELECT') || isWord(t, 'WITH')
}

/** Rewrites the assignments in `span` (see the module comment); `aliases` name the row to be inserted. */
function inOrder(edits: TokenEdits, span: Span, aliases: Set<string>): void {
  const { tokens } = edits
  const assigned = new Map<string, Span>()
  for (const item of splitList(tokens, span.from, span.to)) {
    const eq = findTop(tokens, item.from, item.to, (t) => isPunct(t, '='))
    if (eq < 0) throw refuse(`SET ${edits.source(item.from, item.to)}`, 'cannot read the assignment')
    const value = { from: eq + 1, to: item.to }
    if (isPunct(tokens[eq - 2], '.')) edits.remove(eq - 3, eq - 1) // SET t.a = …: SQLite names no table there
    for (let j = value.from; j < value.to; j++) {
      const t = tokens[j]!
      const name = nameOf(t)?.toLowerCase()
      if (isWord(t, 'VALUES') && isPunct(tokens[j + 1], '(')) {
        const close = closeOf(tokens, j + 1)
        edits.replaceRange(j, close + 1, `excluded.${sqlName(nameOf(tokens[close - 1]) ?? '')}`)
        j = close
      } else if (name !== undefined && isPunct(tokens[j + 1], '.') && aliases.has(name)) {
        edits.replace(j, 'excluded')
        j += 2
      } else if (
        name !== undefined &&
        !isPunct(tokens[j + 1], '(') &&
        !isPunct(tokens[j + 1], '.') &&
        assigned.has(name)
      ) {
        if (tokens.slice(value.from, value.to).some((s) => isWord(s, 'SELECT')))
          throw refuse(
            'a subquery in an assignment after the column it may name was assigned',
            'MySQL would see the new value; compute it apart',
          )
        const earlier = assigned.get(name)!
        const qualified = isPunct(tokens[j - 1], '.')
        if (qualified) edits.remove(j - 2, j) // t.a: the table's a, assigned earlier
        edits.replace(j, `(${edits.text(earlier.from, earlier.to)})`)
      }
    }
    assigned.set((nameOf(tokens[eq - 1]) ?? '').toLowerCase(), value)
  }
}
