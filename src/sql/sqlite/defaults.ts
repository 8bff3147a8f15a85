/**
 * Written defaults (table-info.ts) on a SQLite store: a column default
 * that is not a constant (CURRENT_TIMESTAMP, NOW(3), (RAND()) …) is never left
 * to SQLite, which would evaluate it on each node as it inserts, so each node
 * would store its own clock. Instead, every INSERT and REPLACE that leaves such a
 * column out gets its expression written in, where makeDeterministic then pins
 * it to the master's clock (or a random literal):
 *
 * - INSERT … (a) VALUES (1), (2) → INSERT … (a, ts) VALUES (1, (CURRENT_TIMESTAMP)), (2, (CURRENT_TIMESTAMP));
 * - INSERT … (a) SELECT x FROM u … → INSERT … (a, ts) SELECT x, (CURRENT_TIMESTAMP) FROM u …
 *   (each SELECT of a UNION gets it: the value is the same constant in every row);
 * - INSERT … DEFAULT VALUES → INSERT … (ts) VALUES ((CURRENT_TIMESTAMP));
 * - an INSERT without a column list gives every column already, and DEFAULT in
 *   VALUES or SET became the expression in the translation (insert.ts).
 *
 * This works on SQLite's dialect, so it covers a MySQL client's translated
 * statements and the SQLite statements of ddb's own protocol alike; the session
 * runs it on every write to a SQLite store, before makeDeterministic.
 *
 * Refused: a trigger whose INSERT leaves such a column out (it fires later, on
 * each node, where no value can be pinned); an INSERT whose source ddb cannot
 * read. What gets past (a trigger created before the column was, an INSERT sent
 * while the table changed) meets the column's CHECK, which refuses the sentinel.
 */
import { classifyTokens } from '../classify.ts'
import { isPunct, isWord, type Token } from '../lexer.ts'
import { closeOf, findTop, nameOf, queryArms, refuse, splitList, sqlName, TokenEdits } from './edits.ts'
import type { ColumnInfo, TableInfo } from './table-info.ts'
import { triggerHead } from './table-info.ts'

/** Looks a table up in the store; undefined when there is none (or no catalog). */
export type TableLookup = (name: string) => TableInfo | undefined

/**
 * The SQLite statement `sql` (lexed as `tokens`) with the written defaults it
 * leaves out written in; undefined when it needs none. Throws DdbError
 * ('UNSUPPORTED') for a trigger or an INSERT that cannot be covered.
 */
export function writeDefaults(sql: string, tokens: Token[], table: TableLookup): string | undefined {
  const { keyword } = classifyTokens(tokens)
  if (keyword === 'CREATE TRIGGER') {
    checkTriggerBody(tokens, table)
    return undefined
  }
  if (keyword !== 'INSERT' && keyword !== 'REPLACE') return undefined
  const edits = new TokenEdits(sql, tokens)
  const end = isPunct(tokens.at(-1), ';') ? tokens.length - 1 : tokens.length
  const verb = findTop(tokens, 0, end, (t) => isWord(t, 'INSERT') || isWord(t, 'REPLACE'))
  if (verb < 0) return undefined
  return fillInsert(edits, verb, end, table) ? edits.text() : undefined
}

/** The written-default columns an INSERT leaves out, of its table. */
interface Missing {
  table: string
  columns: ColumnInfo[]
}

/** Writes the left-out written defaults into the INSERT or REPLACE at tokens[verb] (up to `end`); returns whether it changed anything. */
function fillInsert(edits: TokenEdits, verb: number, end: number, table: TableLookup): boolean {
  const found = readInsert(edits.tokens, verb, end, table)
  if (!found || found.missing.columns.length === 0) return false
  const { tokens } = edits
  const { columnsOpen, source, sourceEnd, missing } = found
  const names = missing.columns.map((c) => sqlName(c.name))
  const values = missing.columns.map((c) => `(${c.default})`)
  if (isWord(tokens[source], 'DEFAULT')) {
    edits.replaceRange(source, source + 2, `(${names.join(', ')}) VALUES (${values.join(', ')})`)
    return true
  }
  if (columnsOpen < 0) return false // every column is given
  const close = closeOf(tokens, columnsOpen)
  edits.before(close, `${close > columnsOpen + 1 ? ', ' : ''}${names.join(', ')}`)
  const arms = queryArms(tokens, source, sourceEnd)
  if (!arms)
    throw refuse(
      `this INSERT into ${missing.table}`,
      `ddb writes the default of ${names.join(', ')} into each INSERT, and cannot read where this one's rows come from`,
    )
  const added = values.join(', ')
  for (const arm of arms) {
    if (arm.kind === 'values')
      for (const row of arm.rows) edits.before(row.to, row.to > row.from ? `, ${added}` : added)
    else edits.after(arm.list.to - 1, `, ${added}`)
  }
  return true
}

/** Reads the INSERT or REPLACE at tokens[verb]: its column list, its source, and the written defaults it leaves out. */
function readInsert(
  tokens: Token[],
  verb: number,
  end: number,
  table: TableLookup,
): { columnsOpen: number; source: number; sourceEnd: number; missing: Missing } | undefined {
  let k = verb + 1
  if (isWord(tokens[k], 'OR')) k += 2
  if (isWord(tokens[k], 'INTO')) k++
  let name = sqliteName(tokens[k])
  k++
  if (isPunct(tokens[k], '.')) {
    name = sqliteName(tokens[k + 1])
    k += 2
  }
  if (name === undefined) return undefined
  const info = table(name)
  const written = info?.columns.filter((c) => c.written && !c.generated) ?? []
  if (written.length === 0) return undefined
  if (isWord(tokens[k], 'AS')) k += 2
  let columnsOpen = -1
  let listed: string[] | undefined
  if (isPunct(tokens[k], '(') && !isWord(tokens[k + 1], 'SELECT') && !isWord(tokens[k + 1], 'WITH')) {
    columnsOpen = k
    const close = closeOf(tokens, k)
    listed = splitList(tokens, k + 1, close).map((s) => (sqliteName(tokens[s.from]) ?? '').toLowerCase())
    k = close + 1
  }
  const source = k
  const sourceEnd = [
    findTop(tokens, source, end, (t, j) => isWord(t, 'ON') && isWord(tokens[j + 1], 'CONFLICT')),
    findTop(tokens, source, end, (t) => isWord(t, 'RETURNING')),
    end,
  ].find((j) => j >= 0)!
  const defaultValues = isWord(tokens[source], 'DEFAULT') && isWord(tokens[source + 1], 'VALUES')
  const columns = defaultValues ? written : listed ? written.filter((c) => !listed.includes(c.name.toLowerCase())) : []
  return { columnsOpen, source, sourceEnd, missing: { table: info!.name, columns } }
}

/** The name a token stands for in SQLite's dialect, where "x" is a name too. */
function sqliteName(t: Token | undefined): string | undefined {
  return t?.type === 'string' && t.text.startsWith('"') ? t.value : nameOf(t)
}

/**
 * Refuses a CREATE TRIGGER whose body INSERTs into a table and leaves out a
 * written default: the trigger fires later, on each node, where no literal can
 * stand for the default.
 */
function checkTriggerBody(tokens: Token[], table: TableLookup): void {
  const { end: head } = triggerHead(tokens)
  const begin = tokens.findIndex((t, i) => i >= head && isWord(t, 'BEGIN'))
  if (begin < 0) return
  let last = tokens.length - 1
  if (isPunct(tokens[last], ';')) last--
  let from = begin + 1
  for (let k = from; k <= last; k++) {
    if (!isPunct(tokens[k], ';') && k !== last) continue // statements end at ';', the last one at END
    if (isWord(tokens[from], 'INSERT') || isWord(tokens[from], 'REPLACE')) {
      const found = readInsert(tokens, from, k, table)
      if (found && found.missing.columns.length > 0) {
        const columns = found.missing.columns.map((c) => sqlName(c.name)).join(', ')
        throw refuse(
          `a trigger that INSERTs into ${found.missing.table} without ${columns}`,
          `the column's default is not a constant, so ddb writes it into each INSERT; a trigger fires later, on each node, where it cannot be pinned, so give ${columns} a value in the trigger's INSERT`,
        )
      }
    }
    from = k + 1
  }
}
