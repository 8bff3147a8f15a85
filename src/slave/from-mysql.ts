/**
 * A SQLite slave of a MySQL master. It holds one of the master's databases, the one its
 * --replicate-db names, and replays the master's log as a SQLite master would have run
 * the same client statements: each through the MySQL-dialect translation
 * (sql/sqlite/dialect.ts), its non-constant column defaults written in, its clock pinned
 * to the entry's time (makeDeterministic), its AUTO_INCREMENT ids set to the master's.
 * A snapshot's schema is translated the same way; its rows, MySQL's text for every value,
 * go in as SQLite literals, which the columns' affinities store as a client's INSERT would.
 *
 * What SQLite cannot do the same (a type, a clause, a clock in another time zone) is
 * refused with the reason, and applying stops at that entry, as for any entry that fails.
 */
import { Database } from 'bun:sqlite'
import type { Entry, Param, Statement } from '../entry.ts'
import { DdbError } from '../errors.ts'
import type { SnapshotSchema } from '../snapshot.ts'
import { classifyTokens } from '../sql/classify.ts'
import { makeDeterministic } from '../sql/determinism.ts'
import { insertTarget } from '../sql/insert-id.ts'
import { isPunct, isWord, type Token, tokenize } from '../sql/lexer.ts'
import { writeDefaults } from '../sql/sqlite/defaults.ts'
import { cachedTables, type SqliteContext, type TableInfo, toSqlite } from '../sql/sqlite/dialect.ts'
import { ApplyError } from '../store/apply.ts'
import { databaseStatementTarget } from './filter.ts'

type CatalogQuery = (sql: string, params: string[]) => Record<string, unknown>[]
type TableLookup = (name: string) => TableInfo | undefined

/** A statement's translation, with the rows each part must affect as on the master (negative: not comparable). */
interface Translated {
  statements: Statement[]
  affected: number[]
}

const NOTHING: Translated = { statements: [], affected: [] }

/** Zones in which MySQL's clock reads as SQLite's (which is UTC). */
const UTC = /^([+-]0?0:00|UTC|GMT)$/i

/** The one MySQL database a SQLite slave holds: its --replicate-db, which must name exactly one. */
export function heldDatabase(replicateDb: string[]): string | null {
  return replicateDb.length === 1 ? replicateDb[0]! : null
}

/** A MySQL master's entries as SQLite statements, for the store whose catalog `catalog` reads. */
export class MysqlReplay {
  /** The master's database this store holds. */
  readonly database: string
  readonly #tables: () => TableLookup

  constructor(database: string, catalog: CatalogQuery) {
    this.database = database
    this.#tables = cachedTables(catalog)
  }

  /**
   * Entry `e` (already filtered) as this store replays it; throws ApplyError naming the
   * statement that cannot be replayed the same. Translate an entry only once the ones
   * before it are applied: the translation reads the tables they made.
   */
  entry(e: Entry): Entry {
    const statements: Statement[] = []
    const affected: number[] = []
    for (const [i, s] of e.statements.entries()) {
      try {
        const t = this.#statement(e, s, e.affected[i] ?? 0)
        statements.push(...t.statements)
        affected.push(...t.affected)
      } catch (err) {
        throw new ApplyError(e.offset, s.sql, err)
      }
    }
    return { ...e, db: null, timeZone: null, statements, affected }
  }

  #statement(e: Entry, s: Statement, affected: number): Translated {
    const tokens = tokenize(s.sql)
    const { keyword } = classifyTokens(tokens)
    if (/ (DATABASE|SCHEMA)$/.test(keyword)) return this.#databaseStatement(keyword, s)
    const settings = s.settings ?? {}
    const zone = typeof settings.time_zone === 'string' ? settings.time_zone : (e.timeZone ?? '+00:00')
    checkIncrement(settings)
    const table = this.#tables()
    const context: SqliteContext = {
      database: this.database,
      onlyDatabase: this.database,
      table,
      ...(typeof settings.sql_mode === 'string' ? { sqlMode: settings.sql_mode } : {}),
    }
    const texts = toSqlite(s.sql, tokens, context)
    if (s.params.length > 0 && texts.length > 1)
      throw new DdbError('UNSUPPORTED', 'a statement with parameters that SQLite runs as several')
    const ts = s.ts ?? e.ts
    const own: Pick<Statement, 'ts' | 'settings'> = {
      ts,
      ...('foreign_key_checks' in settings ? { settings: { foreign_key_checks: settings.foreign_key_checks! } } : {}),
    }
    const ids = s.insertId ? nextIdStatements(tokens, table, s.insertId, affected) : []
    const statements = texts.map((text) => ({ sql: pinned(text, table, ts, zone), params: s.params, ...own }))
    const counted = texts.length === 1 && countsAlike(keyword, tokens)
    return {
      statements: [...ids.map((sql) => ({ sql, params: [], ...own })), ...statements],
      affected: [...ids.map(() => -1), ...statements.map(() => (counted ? affected : -1))],
    }
  }

  /** CREATE, ALTER and DROP DATABASE: the one this store holds is there already, and dropping it is refused. */
  #databaseStatement(keyword: string, s: Statement): Translated {
    const target = databaseStatementTarget(s)
    if (keyword.startsWith('DROP') && target === this.database)
      throw new DdbError(
        'UNSUPPORTED',
        `the master dropped database ${target}, which this SQLite store holds: give the slave a new store to copy it again`,
      )
    return NOTHING
  }
}

/** Ids a MySQL session generates by another step than 1 SQLite's AUTOINCREMENT cannot follow. */
function checkIncrement(settings: Record<string, Param>): void {
  for (const name of ['auto_increment_increment', 'auto_increment_offset'])
    if (name in settings && Number(settings[name]) !== 1)
      throw new DdbError('UNSUPPORTED', `${name} = ${settings[name]}: SQLite generates ids one by one`)
}

/**
 * Sets the table's AUTOINCREMENT counter so its next id is the master's: MySQL's counter
 * may be past every row (rows deleted, an insert rolled back), SQLite's would not.
 */
function nextIdStatements(tokens: Token[], table: TableLookup, insertId: number, affected: number): string[] {
  const target = insertTarget(tokens)
  const info = target && table(target.name)
  if (!info?.autoIncrement) return []
  checkNoIdGaps(tokens, tokens.slice(0, target!.end), affected)
  const name = `'${info.name.replaceAll("'", "''")}'`
  return [
    `DELETE FROM sqlite_sequence WHERE name = ${name}`,
    `INSERT INTO sqlite_sequence (name, seq) VALUES (${name}, ${insertId - 1})`,
  ]
}

/**
 * InnoDB gives every row of a multi-row INSERT an id before it knows which rows IGNORE
 * skips or ON DUPLICATE KEY UPDATE updates, so those leave gaps among the ids of the rows
 * it inserts; SQLite would number them without. Only the first id is logged, so where
 * gaps may be, the statement is refused rather than replayed with other ids.
 */
function checkNoIdGaps(tokens: Token[], head: Token[], affected: number): void {
  const ignore = head.some((t) => isWord(t, 'IGNORE'))
  const upsert = tokens.some((t) => isWord(t, 'DUPLICATE'))
  if (!ignore && !upsert) return
  const rows = insertedRows(tokens)
  // IGNORE that skipped none is whole; an upsert's count cannot tell inserted rows from unchanged ones.
  if (rows === 1 || (!upsert && affected === rows)) return
  throw new DdbError(
    'UNSUPPORTED',
    'a multi-row INSERT IGNORE or ON DUPLICATE KEY UPDATE that generated ids: MySQL leaves gaps among them where it skips or updates a row, which SQLite would not leave',
  )
}

/** Rows an INSERT's VALUES list has (Infinity for INSERT … SELECT: unknown). */
function insertedRows(tokens: Token[]): number {
  let depth = 0
  let rows = 0
  let values = false
  for (const t of tokens) {
    if (isPunct(t, '(')) {
      if (depth === 0 && values) rows++
      depth++
    } else if (isPunct(t, ')')) depth--
    else if (depth === 0 && (isWord(t, 'VALUES') || isWord(t, 'VALUE'))) values = true
    else if (depth === 0 && isWord(t, 'SET') && !values) return 1
    else if (depth === 0 && values && t.type === 'word') break // ON DUPLICATE KEY UPDATE, AS alias
  }
  return values ? rows : Number.POSITIVE_INFINITY
}

/** The master logs every random value it used, so a translation that needs another is refused. */
function unloggedRandom(): number {
  throw new DdbError('UNSUPPORTED', 'a random value the master did not log')
}

/** A translated statement with its written defaults in and its clock pinned to `ts`. */
function pinned(text: string, table: TableLookup, ts: number, zone: string): string {
  const tokens = tokenize(text)
  const filled = writeDefaults(text, tokens, table)
  const source = filled ?? text
  const prepared = makeDeterministic(
    source,
    { dialect: 'sqlite', now: ts, random: unloggedRandom },
    filled ? tokenize(filled) : tokens,
  )
  if (prepared.rewritten && !UTC.test(zone))
    throw new DdbError(
      'UNSUPPORTED',
      `the master's clock runs in time zone ${zone}, and a SQLite store's reads UTC: run the master in UTC to replicate it to SQLite`,
    )
  return prepared.rewritten ? prepared.sql : source
}

/**
 * Whether MySQL counts the statement's rows as SQLite does: REPLACE and ON DUPLICATE KEY
 * UPDATE count a replaced row twice on MySQL, once on SQLite.
 */
function countsAlike(keyword: string, tokens: Token[]): boolean {
  if (keyword === 'UPDATE' || keyword === 'DELETE') return true
  return keyword === 'INSERT' && !tokens.some((t) => isWord(t, 'DUPLICATE'))
}

/**
 * A MySQL snapshot's schema as a SQLite store creates it: the held database's tables
 * (others are skipped, their numbering kept), each CREATE TABLE translated with its
 * indexes created after the rows, then its views and triggers. Translated objects are
 * created in a scratch database as they come, so each later one sees the tables it reads.
 */
export function sqliteSchemaOf(schema: SnapshotSchema, database: string): SnapshotSchema {
  const scratch = new Database(':memory:')
  try {
    const tables = cachedTables((sql, params) => scratch.query(sql).all(...params) as Record<string, unknown>[])
    const translate = (sql: string, what: string): string[] => {
      try {
        const texts = toSqlite(sql, tokenize(sql), { database, onlyDatabase: database, table: tables() })
        for (const text of texts) scratch.run(text)
        return texts
      } catch (err) {
        throw new DdbError('UNSUPPORTED', `${what} of database ${database}: ${(err as Error).message}`)
      }
    }
    const indexes: string[] = []
    const translated = schema.tables.map((t) => {
      if (t.skip || t.db !== database) return { ...t, skip: true }
      const [create, ...rest] = translate(t.create, `table ${t.name}`)
      indexes.push(...rest)
      return { ...t, db: null, create: create! }
    })
    const after = indexes.map((sql) => ({ db: null, sql }))
    for (const o of schema.after)
      if (o.db === database) after.push(...translate(o.sql, objectName(o.sql)).map((sql) => ({ db: null, sql })))
    return { databases: [], tables: translated, after }
  } finally {
    scratch.close()
  }
}

/** What a view's or trigger's CREATE makes, for messages: `view v`, `trigger t`. */
function objectName(sql: string): string {
  const tokens = tokenize(sql)
  const at = tokens.findIndex((t) => isWord(t, 'VIEW') || isWord(t, 'TRIGGER'))
  const name = isPunct(tokens[at + 2], '.') ? tokens[at + 3] : tokens[at + 1] // db.name or name
  return `${tokens[at]?.value.toLowerCase() ?? 'object'} ${name?.value ?? ''}`.trim()
}

/** A MySQL snapshot's row (the server's text, null, {"$bytes"}) as the SQLite literals a SQLite staging loads. */
export function sqliteLiterals(row: unknown[]): string[] {
  return row.map((v) => {
    if (v === null) return 'NULL'
    if (typeof v === 'object' && '$bytes' in v) return `X'${Buffer.from(String(v.$bytes), 'base64').toString('hex')}'`
    return `'${String(v).replaceAll("'", "''")}'`
  })
}
