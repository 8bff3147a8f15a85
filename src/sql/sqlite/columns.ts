/**
 * One MySQL column definition as SQLite's: the type (types.ts), NOT NULL,
 * DEFAULT, the collation, generated columns, REFERENCES and CHECK, for CREATE
 * TABLE and ALTER TABLE … ADD COLUMN.
 */
import { isPunct, isWord, tokenize } from '../lexer.ts'
import { closeOf, nameOf, operandEnd, readTableName, refuse, splitList, sqlName, type TokenEdits } from './edits.ts'
import { collation } from './literals.ts'
import { writtenDefault } from './table-info.ts'
import { readType, type SqliteType } from './types.ts'

/** A column definition as read. */
export interface ColumnDef {
  name: string
  type: SqliteType
  notNull: boolean
  autoIncrement: boolean
  primary: boolean
  unique: boolean
  /** The rest of the definition as SQLite text: DEFAULT, COLLATE, generated, REFERENCES, CHECK. */
  clauses: string[]
  /** Whether its default is one ddb writes into each INSERT (table-info.ts). */
  writtenDefault?: boolean
  collate?: string
}

/** A constraint name as a double-quoted identifier; it is what SQLite's "CHECK constraint failed: …" shows. */
export function constraintName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** One column's SQLite definition: as the table's rowid, as part of its primary key, in a table whose text is binary. */
export function columnText(c: ColumnDef, at: { rowid: boolean; primary: boolean; binaryTable: boolean }): string {
  const name = sqlName(c.name)
  const checks = c.type.checks.map(([n, e]) => `CONSTRAINT ${constraintName(n)} CHECK (${e})`)
  if (at.rowid) {
    const type = c.type.declared.toLowerCase()
    return [`${name} INTEGER /*mysql ${name} ${type}*/ PRIMARY KEY AUTOINCREMENT`, ...c.clauses, ...checks].join(' ')
  }
  const marker = c.type.mysqlType ? ` /*mysql ${name} ${c.type.mysqlType}*/` : ''
  const notNull = c.notNull || at.primary ? ' NOT NULL' : ''
  const collation = c.collate ?? (c.type.binary || at.binaryTable ? 'BINARY' : 'NOCASE')
  // The catalog reports utf8mb4_bin for the text columns marked so (catalog.ts).
  const collate = !c.type.text ? '' : ` COLLATE ${collation}${collation === 'BINARY' ? ` /*mysql_bin ${name}*/` : ''}`
  return [`${name} ${c.type.declared}${marker}${notNull}${collate}`, ...c.clauses, ...checks].join(' ')
}

/** Reads one column definition in tokens [from, to). */
export function readColumn(edits: TokenEdits, from: number, to: number): ColumnDef {
  const { tokens } = edits
  const name = nameOf(tokens[from])
  if (name === undefined) throw refuse(`column ${tokens[from]?.text}`, 'cannot read its name')
  const { type, end } = readType(tokens, from + 1, name)
  const column: ColumnDef = {
    name,
    type,
    notNull: false,
    autoIncrement: false,
    primary: false,
    unique: false,
    clauses: [],
  }
  let k = end
  while (k < to) {
    const t = tokens[k]!
    const next = tokens[k + 1]
    if (isWord(t, 'NOT') && isWord(next, 'NULL')) {
      column.notNull = true
      k += 2
    } else if (isWord(t, 'NULL') || isWord(t, 'VISIBLE')) {
      k++
    } else if (isWord(t, 'DEFAULT')) {
      const valueEnd = operandEnd(tokens, k + 1)
      const translated = edits.text(k + 1, valueEnd)
      const value = ({ TRUE: '1', FALSE: '0' } as Record<string, string>)[translated.toUpperCase()] ?? translated // as MySQL keeps them
      if (/^([-+]?[\d.]+(e[-+]?\d+)?|'[^']*(''[^']*)*'|X'[0-9a-f]*'|NULL)$/is.test(value)) {
        column.clauses.push(`DEFAULT ${value}`)
      } else {
        // Not a constant: SQLite would evaluate it on each node; ddb writes it into each INSERT instead.
        const sentinel = writtenDefault(unwrap(value), mysqlDefault(edits.source(k + 1, valueEnd)))
        const what = `${sqlName(name)}: DEFAULT ${edits.source(k + 1, valueEnd)}, which ddb writes into each INSERT, was left to SQLite here (a trigger's INSERT, or one sent as the table changed), which would give each node its own value`
        column.clauses.push(
          `DEFAULT ${sentinel}`,
          `CONSTRAINT ${constraintName(what)} CHECK (${sqlName(name)} IS NOT ${sentinel})`,
        )
        column.writtenDefault = true
      }
      k = valueEnd
    } else if (isWord(t, 'AUTO_INCREMENT')) {
      column.autoIncrement = true
      column.notNull = true
      k++
    } else if (isWord(t, 'UNIQUE')) {
      column.unique = true
      k += isWord(next, 'KEY') ? 2 : 1
    } else if (isWord(t, 'PRIMARY') || isWord(t, 'KEY')) {
      column.primary = true
      k += isWord(t, 'PRIMARY') && isWord(next, 'KEY') ? 2 : 1
    } else if (isWord(t, 'COMMENT') || isWord(t, 'COLUMN_FORMAT') || isWord(t, 'STORAGE')) {
      k += 2
    } else if (isWord(t, 'COLLATE')) {
      column.collate = collation(next?.type === 'word' ? next.text : (next?.value ?? ''))
      k += 2
    } else if (isWord(t, 'CHARACTER') || isWord(t, 'CHARSET')) {
      k += isWord(t, 'CHARACTER') ? 3 : 2
      if (tokens[k - 1]?.value.toUpperCase() === 'BINARY') column.collate = 'BINARY'
    } else if (isWord(t, 'ON') && isWord(next, 'UPDATE')) {
      throw refuse(
        `ON UPDATE ${edits.source(k + 2, operandEnd(tokens, k + 2))}`,
        'SQLite has no per-update default; set the column in each UPDATE, or use a MySQL store',
      )
    } else if (isWord(t, 'INVISIBLE')) {
      throw refuse('INVISIBLE columns', 'SQLite would return them from SELECT *')
    } else if (isWord(t, 'GENERATED') || isWord(t, 'AS')) {
      const open = isWord(t, 'GENERATED') ? k + 3 : k + 1
      const close = closeOf(tokens, open)
      let kind = 'VIRTUAL'
      k = close + 1
      if (isWord(tokens[k], 'STORED') || isWord(tokens[k], 'PERSISTENT') || isWord(tokens[k], 'VIRTUAL'))
        kind = tokens[k++]!.value === 'VIRTUAL' ? 'VIRTUAL' : 'STORED'
      column.clauses.push(`GENERATED ALWAYS AS (${edits.text(open + 1, close)}) ${kind}`)
    } else if (isWord(t, 'REFERENCES')) {
      const reference = readReference(edits, k)
      column.clauses.push(reference.text)
      k = reference.end
    } else if (isWord(t, 'CHECK') || isWord(t, 'CONSTRAINT')) {
      const named = isWord(t, 'CONSTRAINT')
      const check = readCheck(edits, named ? k + 2 : k, named ? nameOf(next) : undefined)
      if (check.text) column.clauses.push(check.text)
      k = check.end
    } else if (isWord(t, 'SERIAL')) {
      throw refuse('SERIAL DEFAULT VALUE', 'write AUTO_INCREMENT PRIMARY KEY')
    } else {
      throw refuse(`${edits.source(k, to)} in column ${name}`, 'not a column attribute SQLite can honour')
    }
  }
  if (isWord(tokens[from + 1], 'SERIAL')) Object.assign(column, { autoIncrement: true, notNull: true, unique: true })
  return column
}

/** An expression without the parentheses around all of it. */
function unwrap(expr: string): string {
  const tokens = tokenize(expr)
  return isPunct(tokens[0], '(') && closeOf(tokens, 0) === tokens.length - 1 ? unwrap(expr.slice(1, -1).trim()) : expr
}

/** MySQL's text of a default, as information_schema shows it: NOW() and its synonyms as CURRENT_TIMESTAMP[(fsp)], an expression without its parentheses. */
function mysqlDefault(source: string): string {
  const tokens = tokenize(source)
  const [first, open, fsp, close] = tokens
  if (first?.type === 'word' && CLOCK_SYNONYMS.has(first.value)) {
    if (tokens.length === 1 || (tokens.length === 3 && isPunct(open, '('))) return 'CURRENT_TIMESTAMP'
    if (tokens.length === 4 && isPunct(open, '(') && fsp?.type === 'number' && isPunct(close, ')'))
      return fsp.text === '0' ? 'CURRENT_TIMESTAMP' : `CURRENT_TIMESTAMP(${fsp.text})`
  }
  return unwrap(source)
}

/** What MySQL reports as CURRENT_TIMESTAMP in a default. */
const CLOCK_SYNONYMS = new Set(['CURRENT_TIMESTAMP', 'NOW', 'LOCALTIME', 'LOCALTIMESTAMP'])

/** Reads CHECK (expr) [[NOT] ENFORCED] at tokens[k]; no text (dropped) when NOT ENFORCED, as MySQL then never checks it. */
export function readCheck(edits: TokenEdits, k: number, symbol: string | undefined): { text?: string; end: number } {
  const { tokens } = edits
  if (!isWord(tokens[k], 'CHECK')) throw refuse(`CONSTRAINT ${symbol ?? ''} ${edits.source(k, k + 1)}`, 'not a CHECK')
  const close = closeOf(tokens, k + 1)
  const end = close + 1
  if (isWord(tokens[end], 'NOT') && isWord(tokens[end + 1], 'ENFORCED')) return { end: end + 2 }
  const named = symbol ? `CONSTRAINT ${sqlName(symbol)} ` : ''
  return { text: `${named}CHECK (${edits.text(k + 2, close)})`, end: isWord(tokens[end], 'ENFORCED') ? end + 1 : end }
}

/** Reads REFERENCES t (cols) [MATCH …] [ON DELETE …] [ON UPDATE …] at tokens[k]. */
export function readReference(edits: TokenEdits, k: number): { text: string; end: number } {
  const { tokens } = edits
  const { name, end } = readTableName(tokens, k + 1)
  let j = end
  let text = `REFERENCES ${sqlName(name)}`
  if (isPunct(tokens[j], '(')) {
    const close = closeOf(tokens, j)
    text += ` (${splitList(tokens, j + 1, close)
      .map((s) => sqlName(nameOf(tokens[s.from]) ?? ''))
      .join(', ')})`
    j = close + 1
  }
  for (;;) {
    if (isWord(tokens[j], 'MATCH')) {
      text += ` MATCH ${tokens[j + 1]?.value}`
      j += 2
    } else if (isWord(tokens[j], 'ON') && (isWord(tokens[j + 1], 'DELETE') || isWord(tokens[j + 1], 'UPDATE'))) {
      const two = isWord(tokens[j + 2], 'SET') || isWord(tokens[j + 2], 'NO')
      text += ` ON ${tokens[j + 1]!.value} ${tokens[j + 2]?.value}${two ? ` ${tokens[j + 3]?.value}` : ''}`
      j += two ? 4 : 3
    } else return { text, end: j }
  }
}
