/**
 * CREATE TABLE in MySQL's dialect as SQLite statements: the table, then one
 * CREATE INDEX per index declared inside it, then, for AUTO_INCREMENT = n, the
 * row of sqlite_sequence that makes n the next id.
 *
 * - An AUTO_INCREMENT column that is the table's single-column primary key
 *   (inline, or PRIMARY KEY (id) apart; or, with no primary key, UNIQUE, which
 *   InnoDB then promotes) becomes `INTEGER PRIMARY KEY AUTOINCREMENT`: SQLite's
 *   rowid, never reused. Any other AUTO_INCREMENT is refused.
 * - Columns: see types.ts for types. Text columns get COLLATE NOCASE,
 *   as MySQL's default collations compare case-insensitively (ASCII letters
 *   only in SQLite), unless the column, its type or the table asks for a binary
 *   collation. Primary key columns get NOT NULL, as MySQL gives them. COMMENT,
 *   CHARACTER SET, VISIBLE, COLUMN_FORMAT, STORAGE are dropped; DEFAULT, CHECK,
 *   generated columns and REFERENCES are kept. ON UPDATE CURRENT_TIMESTAMP and
 *   INVISIBLE are refused.
 * - Table constraints: PRIMARY KEY, FOREIGN KEY (plus the index InnoDB adds on
 *   its columns) and CHECK are kept; KEY/INDEX/UNIQUE become CREATE INDEX;
 *   FULLTEXT and SPATIAL are refused; CHECK … NOT ENFORCED is dropped.
 * - Table options: ENGINE (InnoDB, MyISAM, Aria), CHARSET, COLLATE (a *_bin
 *   one makes text columns binary), COMMENT, ROW_FORMAT and the other storage
 *   options are dropped; AUTO_INCREMENT = n sets sqlite_sequence; PARTITION BY,
 *   other engines, LIKE and CREATE TABLE … SELECT are refused.
 */
import { isPunct, isWord, type Token } from '../lexer.ts'
import { type ColumnDef, columnText, readCheck, readColumn, readReference } from './columns.ts'
import {
  closeOf,
  nameOf,
  readTableName,
  refuse,
  type Span,
  splitList,
  sqlName,
  sqlString,
  type TokenEdits,
} from './edits.ts'
import { createIndex, defaultIndexName, type IndexDef, readIndex } from './indexes.ts'
import { collation } from './literals.ts'
import type { SqliteContext } from './table-info.ts'

/** Engines whose tables keep their rows across a restart, as SQLite's do. */
const DURABLE_ENGINES = new Set(['INNODB', 'MYISAM', 'ARIA', 'XTRADB'])

/** Table options dropped as storage details. */
const STORAGE_OPTIONS = new Set(
  'ROW_FORMAT KEY_BLOCK_SIZE AVG_ROW_LENGTH CHECKSUM TABLE_CHECKSUM DELAY_KEY_WRITE MAX_ROWS MIN_ROWS PACK_KEYS STATS_AUTO_RECALC STATS_PERSISTENT STATS_SAMPLE_PAGES INSERT_METHOD COMPRESSION ENCRYPTION ENCRYPTED ENCRYPTION_KEY_ID PAGE_CHECKSUM PAGE_COMPRESSED PAGE_COMPRESSION_LEVEL TRANSACTIONAL IETF_QUOTES AUTOEXTEND_SIZE SECONDARY_ENGINE ENGINE_ATTRIBUTE SECONDARY_ENGINE_ATTRIBUTE COMMENT CONNECTION PASSWORD TABLESPACE STORAGE'.split(
    ' ',
  ),
)

/** Words that start a table constraint rather than a column. */
const CONSTRAINT_WORDS = new Set([
  'CONSTRAINT',
  'PRIMARY',
  'UNIQUE',
  'KEY',
  'INDEX',
  'FULLTEXT',
  'SPATIAL',
  'FOREIGN',
  'CHECK',
  'PERIOD',
])

/** Translates CREATE TABLE; `edits` already holds the literal and function rewrites. */
export function translateCreateTable(edits: TokenEdits, ctx: SqliteContext): string[] {
  const { tokens } = edits
  const tableAt = tokens.findIndex((t) => isWord(t, 'TABLE'))
  const orReplace = tokens.slice(0, tableAt).some((t) => isWord(t, 'REPLACE'))
  let k = tableAt + 1
  const ifNotExists = isWord(tokens[k], 'IF')
  if (ifNotExists) k += 3
  const { name: table, end } = readTableName(tokens, k)
  k = end
  const existing = ctx.table?.(table)?.name
  if (existing !== undefined && existing !== table)
    throw refuse(
      `CREATE TABLE ${table} beside ${existing}`,
      `SQLite's table names ignore case, MySQL's do not: it would ${orReplace ? `drop ${existing}` : ifNotExists ? 'do nothing' : 'fail'} where MySQL creates a second table; choose another name`,
    )
  if (isWord(tokens[k], 'LIKE') || (isPunct(tokens[k], '(') && isWord(tokens[k + 1], 'LIKE')))
    throw refuse('CREATE TABLE … LIKE', 'SQLite cannot copy a definition; write the CREATE TABLE out')
  if (!isPunct(tokens[k], '('))
    throw refuse(
      'CREATE TABLE … SELECT',
      "SQLite's copy would lose the column types and collations; CREATE the table, then INSERT … SELECT",
    )
  const close = closeOf(tokens, k)
  const options = readTableOptions(tokens, close + 1)
  const builder = new TableBuilder(edits, table, options.binary)
  for (const item of splitList(tokens, k + 1, close)) builder.add(item)
  const statements = builder.statements(ifNotExists)
  if (options.withoutRowid) statements[0] += ' WITHOUT ROWID'
  if (orReplace) statements.unshift(`DROP TABLE IF EXISTS ${sqlName(table)}`)
  if (options.autoIncrement !== undefined && options.autoIncrement > 1n && builder.hasAutoIncrement) {
    const seq = String(options.autoIncrement - 1n)
    statements.push(
      `INSERT INTO sqlite_sequence (name, seq) SELECT ${sqlString(table)}, ${seq} WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ${sqlString(table)})`,
    )
  }
  return statements
}

/** Reads the table options after the definitions: AUTO_INCREMENT = n, whether text compares in binary, SQLite's WITHOUT ROWID. */
function readTableOptions(
  tokens: Token[],
  from: number,
): { autoIncrement?: bigint; binary: boolean; withoutRowid: boolean } {
  let autoIncrement: bigint | undefined
  let binary = false
  let withoutRowid = false
  let k = from
  const value = (): Token | undefined => {
    if (isPunct(tokens[k], '=')) k++
    return tokens[k++]
  }
  while (k < tokens.length && !isPunct(tokens[k], ';')) {
    const t = tokens[k]!
    k++
    if (isPunct(t, ',') || isWord(t, 'DEFAULT')) continue
    if (t.type !== 'word')
      throw refuse(`${t.text} after CREATE TABLE's definitions`, 'not a table option SQLite can honour')
    if (t.value === 'ENGINE' || t.value === 'TYPE') {
      const engine = value()?.value.toUpperCase() ?? ''
      if (!DURABLE_ENGINES.has(engine))
        throw refuse(`ENGINE=${engine}`, 'a SQLite table keeps its rows in the database file like InnoDB; use InnoDB')
    } else if (t.value === 'CHARSET' || t.value === 'CHARACTER' || t.value === 'COLLATE') {
      if (t.value === 'CHARACTER') k++ // SET
      const v = value()
      const name = v?.type === 'word' ? v.text : (v?.value ?? '')
      if (t.value === 'COLLATE') binary = collation(name) === 'BINARY'
      else if (name.toLowerCase() === 'binary') binary = true
    } else if (t.value === 'AUTO_INCREMENT') {
      const n = value()?.text ?? ''
      if (!/^\d+$/.test(n)) throw refuse(`AUTO_INCREMENT = ${n}`, 'the next id must be a number')
      autoIncrement = BigInt(n)
    } else if (t.value === 'DATA' || t.value === 'INDEX') {
      k++ // DIRECTORY
      value()
    } else if (t.value === 'UNION') {
      throw refuse('UNION=(…)', 'MERGE tables have no SQLite equivalent')
    } else if (STORAGE_OPTIONS.has(t.value)) {
      value()
    } else if (t.value === 'PARTITION') {
      throw refuse('PARTITION BY', 'SQLite has no partitioned tables')
    } else if (t.value === 'WITHOUT' && isWord(tokens[k], 'ROWID')) {
      k++
      withoutRowid = true // SQLite's own option, kept
    } else if (t.value === 'WITH') {
      throw refuse('WITH SYSTEM VERSIONING', 'SQLite keeps no row history')
    } else if (['SELECT', 'AS', 'IGNORE', 'REPLACE'].includes(t.value)) {
      throw refuse(
        `CREATE TABLE … ${t.text} SELECT`,
        "SQLite's copy would lose the column types and collations; CREATE the table, then INSERT … SELECT",
      )
    } else {
      throw refuse(`table option ${t.text}`, 'ddb does not know what it would mean on SQLite')
    }
  }
  return { autoIncrement, binary, withoutRowid }
}

/** Collects a table's columns, keys and constraints, then writes its SQLite statements. */
class TableBuilder {
  readonly #edits: TokenEdits
  readonly #table: string
  readonly #binary: boolean
  readonly #columns: ColumnDef[] = []
  readonly #constraints: string[] = []
  readonly #indexes: { name: string; index: IndexDef }[] = []
  readonly #foreignKeys: { name?: string; columns: string[] }[] = []
  #primary: string[] | undefined

  constructor(edits: TokenEdits, table: string, binary: boolean) {
    this.#edits = edits
    this.#table = table
    this.#binary = binary
  }

  get hasAutoIncrement(): boolean {
    return this.#columns.some((c) => c.autoIncrement)
  }

  /** Adds one item of the definition list: a column or a table constraint. */
  add({ from, to }: Span): void {
    const first = this.#edits.tokens[from]
    if (first?.type === 'word' && CONSTRAINT_WORDS.has(first.value)) this.#constraint(from, to)
    else this.#columns.push(readColumn(this.#edits, from, to))
  }

  /** The CREATE TABLE and CREATE INDEX statements. */
  statements(ifNotExists: boolean): string[] {
    const columns = this.#columns
    const inline = columns.filter((c) => c.primary).map((c) => c.name)
    if (inline.length > 0 && this.#primary) throw refuse('two primary keys', 'MySQL refuses them too')
    let primary = this.#primary ?? (inline.length > 0 ? inline : undefined)
    for (const c of columns)
      if (c.unique) this.#addIndex(undefined, { unique: true, parts: [{ column: c.name, text: sqlName(c.name) }] })
    const auto = columns.find((c) => c.autoIncrement)
    let rowid: ColumnDef | undefined
    if (auto) {
      const uniqueOnIt = this.#indexes.findIndex(
        (i) => i.index.unique && i.index.parts.length === 1 && i.index.parts[0]!.column === auto.name,
      )
      if (primary?.length === 1 && primary[0] === auto.name) rowid = auto
      else if (!primary && uniqueOnIt >= 0) {
        rowid = auto
        primary = [auto.name]
        this.#indexes.splice(uniqueOnIt, 1)
      } else
        throw refuse(
          `AUTO_INCREMENT on ${auto.name}`,
          "SQLite generates ids only for a table's single-column integer primary key; make it the PRIMARY KEY",
        )
      if (!auto.type.integer)
        throw refuse(`AUTO_INCREMENT on a ${auto.type.label} column`, 'SQLite generates integer ids only')
    }
    for (const fk of this.#foreignKeys) {
      const covered = [primary ?? [], ...this.#indexes.map((i) => i.index.parts.map((p) => p.column))].some((cols) =>
        fk.columns.every((c, n) => cols[n] === c),
      )
      if (!covered)
        this.#addIndex(fk.name, { unique: false, parts: fk.columns.map((c) => ({ column: c, text: sqlName(c) })) })
    }
    const defs = columns.map((c) =>
      columnText(c, { rowid: c === rowid, primary: primary?.includes(c.name) ?? false, binaryTable: this.#binary }),
    )
    if (primary && !rowid) defs.push(`PRIMARY KEY (${primary.map(sqlName).join(', ')})`)
    defs.push(...this.#constraints)
    const create = `CREATE TABLE ${ifNotExists ? 'IF NOT EXISTS ' : ''}${sqlName(this.#table)} (${defs.join(', ')})`
    return [create, ...this.#indexes.map((i) => createIndex(this.#table, i.name, i.index, ifNotExists))]
  }

  #addIndex(name: string | undefined, index: IndexDef): void {
    const taken = new Set(this.#indexes.map((i) => i.name.toLowerCase()))
    const chosen = name ?? defaultIndexName(index.parts, taken)
    if (taken.has(chosen.toLowerCase()))
      throw refuse(`two indexes named ${chosen}`, 'MySQL refuses a duplicate key name too')
    this.#indexes.push({ name: chosen, index })
  }

  /** Reads one table constraint. */
  #constraint(from: number, to: number): void {
    const edits = this.#edits
    const { tokens } = edits
    let k = from
    let symbol: string | undefined
    if (isWord(tokens[k], 'CONSTRAINT')) {
      k++
      if (tokens[k]?.type === 'identifier' || (tokens[k]?.type === 'word' && !CONSTRAINT_WORDS.has(tokens[k]!.value)))
        symbol = nameOf(tokens[k++])
    }
    const word = tokens[k]?.value
    const rest = (): string => edits.source(k, to)
    switch (word) {
      case 'PRIMARY': {
        const { index } = readIndex(edits, k + 2, true, 'PRIMARY KEY')
        if (index.parts.some((p) => p.column === undefined))
          throw refuse('a PRIMARY KEY on an expression', 'SQLite keys on columns')
        this.#primary = index.parts.map((p) => p.column!)
        return
      }
      case 'UNIQUE':
      case 'KEY':
      case 'INDEX': {
        const unique = word === 'UNIQUE'
        if (unique && (isWord(tokens[k + 1], 'KEY') || isWord(tokens[k + 1], 'INDEX'))) k++
        const { index } = readIndex(edits, k + 1, unique, unique ? 'UNIQUE KEY' : 'KEY')
        this.#addIndex(index.name ?? (unique ? symbol : undefined), index)
        return
      }
      case 'FULLTEXT':
      case 'SPATIAL':
        throw refuse(`${word} indexes`, `SQLite has no ${word.toLowerCase()} index; drop it or use a MySQL store`)
      case 'FOREIGN': {
        k += 2
        const indexName = isPunct(tokens[k], '(') ? undefined : nameOf(tokens[k++])
        const close = closeOf(tokens, k)
        const columns = splitList(tokens, k + 1, close).map((s) => nameOf(tokens[s.from]) ?? '')
        const reference = readReference(edits, close + 1)
        this.#foreignKeys.push({ name: symbol ?? indexName, columns })
        const named = symbol ? `CONSTRAINT ${sqlName(symbol)} ` : ''
        this.#constraints.push(`${named}FOREIGN KEY (${columns.map(sqlName).join(', ')}) ${reference.text}`)
        return
      }
      case 'CHECK': {
        const check = readCheck(edits, k, symbol)
        if (check.text) this.#constraints.push(check.text)
        return
      }
    }
    throw refuse(`table constraint ${rest()}`, 'SQLite has no equivalent')
  }
}
