import { Database, type Statement } from 'bun:sqlite'
import type { ColumnType, Statement as LoggedStatement, Param, ReadResult } from '../entry.ts'
import { DdbError, StoreError } from '../errors.ts'
import { COLUMN_CHARSET, COLUMN_FLAG, COLUMN_TYPE } from '../mysql-protocol.ts'
import { classify } from '../sql/classify.ts'
import { isPunct, isWord, quoteIdentifier, type Token, tokenize } from '../sql/lexer.ts'
import type { RunResult, StatementShape, Store, StoreState, StoreStatement, StoreTxn } from './store.ts'
import { stateOf, toDriverValue, toJsonRow } from './values.ts'
import { WriterLock } from './writer-lock.ts'

/** PRAGMA synchronous for the writer: FULL fsyncs every commit (the default). */
export type SqliteSynchronous = 'FULL' | 'NORMAL' | 'OFF'

/** Options for openSqliteStore. */
export interface SqliteStoreOptions {
  /** Default 'FULL'. */
  synchronous?: SqliteSynchronous
}

/** How long a SQLite connection waits for another process's lock before failing, in milliseconds. */
export const BUSY_TIMEOUT_MS = 5_000

/**
 * A SQLite store's transaction modes (Store.transactionMode): foreign keys enforced
 * (PRAGMA foreign_keys = ON, the default), or not. SQLite changes PRAGMA foreign_keys
 * only between transactions, so it is set before each BEGIN.
 */
export const FK_ON = 'fk-on'
export const FK_OFF = 'fk-off'

/** What decides a statement's mode: its text and its session's settings. */
type ModeStatement = Pick<LoggedStatement, 'sql' | 'settings'>

const STATE_DDL =
  'CREATE TABLE IF NOT EXISTS ddb_state (id INTEGER PRIMARY KEY CHECK (id = 1), applied_offset INTEGER NOT NULL, log_id TEXT, pending_entries TEXT)'

/** Opens (creating if needed) the SQLite store in file `path`: WAL, one writer and one reader connection. */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  const displayUrl = `sqlite:${path}`
  let writer: Database | undefined
  try {
    writer = new Database(path, { create: true, safeIntegers: true })
    writer.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
    writer.run('PRAGMA journal_mode = WAL')
    writer.run(`PRAGMA synchronous = ${options.synchronous ?? 'FULL'}`)
    writer.run('PRAGMA foreign_keys = ON')
    writer.run(STATE_DDL)
    writer.run('INSERT OR IGNORE INTO ddb_state (id, applied_offset, log_id) VALUES (1, 0, NULL)')
    const reader = new Database(path, { readonly: true, safeIntegers: true })
    reader.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
    return new SqliteStore(displayUrl, writer, reader)
  } catch (err) {
    writer?.close()
    throw storeError(
      err,
      `open ${displayUrl}: `,
      'check that the directory exists and is writable, and that the file is a SQLite database',
    )
  }
}

/** The bun:sqlite Store: writes on one connection, serialized by a lock; reads on another. */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const
  readonly defaultDb = null
  readonly ddlCommitsImplicitly = false
  /** A DEFERRABLE INITIALLY DEFERRED foreign key is checked at COMMIT, which then fails and leaves the transaction open. */
  readonly commitCanRefuse = true

  /** SQLite's clock functions only know UTC (the master rewrites them into literals). */
  readonly timeZone = null

  /** SQLite DDL is transactional: a crash never leaves it half-recorded. */
  ddlAlreadyApplied(): boolean {
    return false
  }

  /** A failed SQLite statement undoes only itself. */
  endsTransaction(): boolean {
    return false
  }

  /** SQLite has no server, no version and no session variables. */
  readonly version = null

  async sessionDefaults(): Promise<Record<string, Param>> {
    return {}
  }

  async checkSetting(): Promise<Param | null> {
    return null
  }
  readonly displayUrl: string
  readonly #writer: Database
  readonly #statements: StatementCache
  readonly #reader: Database
  readonly #lock = new WriterLock()
  /** The writer connection's PRAGMA foreign_keys, as a mode. */
  #foreignKeys = FK_ON
  #closed = false

  constructor(displayUrl: string, writer: Database, reader: Database) {
    this.displayUrl = displayUrl
    this.#writer = writer
    this.#statements = new StatementCache(writer)
    this.#reader = reader
  }

  async readState(): Promise<StoreState> {
    const { rows } = await this.read(
      null,
      'SELECT applied_offset, log_id, pending_entries FROM ddb_state WHERE id = 1',
      [],
    )
    const row = rows[0]
    if (!row) throw new StoreError(`read state ${this.displayUrl}: the ddb_state row is missing`)
    return stateOf(row)
  }

  /**
   * 'fk-off' when a statement's session turned foreign_key_checks off (no checks and no
   * cascades, as in MySQL), or when it is a DROP TABLE: with foreign keys on, SQLite's
   * DROP TABLE first deletes every row, which cascades to (or is refused by) the rows
   * that reference them, and the table rebuild the MySQL translation does for ALTER
   * TABLE … ADD FOREIGN KEY drops and renames the table (SQLite's own documentation has
   * it run with foreign keys off). Else 'fk-on'.
   */
  transactionMode(statements: readonly ModeStatement[]): string {
    return statements.some(needsForeignKeysOff) ? FK_OFF : FK_ON
  }

  async begin(mode: string = FK_ON): Promise<StoreTxn> {
    const release = await this.#acquire()
    try {
      this.#beginIn(mode)
    } catch (err) {
      release()
      throw storeError(err)
    }
    return new SqliteTxn(this.#writer, this.#statements, release, { mode })
  }

  /**
   * SQLite has one writer: a client's transaction holds it, as SQLite's own lock would.
   * Its BEGIN waits for its first statement, which says the mode it needs.
   */
  async beginClientTransaction(): Promise<StoreTxn> {
    const release = await this.#acquire()
    return new SqliteTxn(this.#writer, this.#statements, release, { begin: (mode) => this.#beginIn(mode) })
  }

  async runAutocommit(statement: StoreStatement): Promise<RunResult> {
    const release = await this.#acquire()
    try {
      this.#setForeignKeys(this.transactionMode([statement]))
      return runOn(this.#statements, statement.sql, statement.params)
    } finally {
      release()
    }
  }

  async writeState(state: StoreState): Promise<void> {
    const release = await this.#acquire()
    try {
      writeStateOn(this.#statements, state)
    } finally {
      release()
    }
  }

  async read(_db: string | null, sql: string, params: Param[]): Promise<ReadResult> {
    this.#checkOpen()
    return readOn(this.#reader, sql, params)
  }

  catalog(sql: string, params: string[]): Record<string, unknown>[] {
    this.#checkOpen()
    return this.#reader.query(sql).all(...params) as Record<string, unknown>[]
  }

  /** Prepares the statement on the reader connection: its column names and declared types, without running it. */
  async describe(_db: string | null, sql: string): Promise<StatementShape> {
    this.#checkOpen()
    try {
      const stmt = this.#reader.prepare(sql)
      try {
        const types = stmt.declaredTypes
        return {
          columns: stmt.columnNames.map((name, i) => ({ name, type: sqliteColumnType(types[i]) })),
          params: stmt.paramsCount,
        }
      } finally {
        stmt.finalize()
      }
    } catch (err) {
      throw storeError(err)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#statements.clear()
    this.#reader.close()
    this.#writer.close()
  }

  /** BEGIN IMMEDIATE in `mode`, on the writer (whose lock the caller holds). */
  #beginIn(mode: string): void {
    this.#setForeignKeys(mode)
    this.#writer.run('BEGIN IMMEDIATE')
  }

  /** PRAGMA foreign_keys for `mode`: outside a transaction, where SQLite does not ignore it. */
  #setForeignKeys(mode: string): void {
    if (mode !== FK_ON && mode !== FK_OFF)
      throw new StoreError(`${this.displayUrl}: unknown transaction mode '${mode}'`)
    if (mode === this.#foreignKeys) return
    if (this.#writer.inTransaction) throw new StoreError(`${this.displayUrl}: PRAGMA foreign_keys inside a transaction`)
    this.#writer.run(`PRAGMA foreign_keys = ${mode === FK_ON ? 'ON' : 'OFF'}`)
    this.#foreignKeys = mode
  }

  async #acquire(): Promise<() => void> {
    this.#checkOpen()
    const release = await this.#lock.acquire()
    if (this.#closed) {
      release()
      this.#checkOpen()
    }
    return release
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreError(`${this.displayUrl}: store is closed`)
  }
}

/**
 * One BEGIN IMMEDIATE … COMMIT on the writer; holds the writer lock until it ends.
 * A writer's transaction is begun in its mode before it is handed out. A client's
 * begins at its first statement (PRAGMA foreign_keys must be set before BEGIN, and
 * only a statement says which it needs: its settings); a later statement that needs
 * the other mode is refused, and savepoints asked for before are made right after BEGIN.
 */
class SqliteTxn implements StoreTxn {
  readonly #db: Database
  readonly #statements: StatementCache
  #release: (() => void) | null
  /** The mode it runs in; null while a client's transaction has not begun. */
  #mode: string | null
  /** A client's transaction: begins it (at its first statement). */
  readonly #begin: ((mode: string) => void) | null
  /** A client's transaction: savepoints asked for before it began, in order. */
  #early: string[] = []
  /** A client's transaction that began with DROP TABLE (for the reason a later statement is refused). */
  #beganWithDrop = false

  constructor(
    db: Database,
    statements: StatementCache,
    release: () => void,
    how: { mode: string } | { begin: (mode: string) => void },
  ) {
    this.#db = db
    this.#statements = statements
    this.#release = release
    this.#mode = 'mode' in how ? how.mode : null
    this.#begin = 'begin' in how ? how.begin : null
  }

  async run(_db: string | null, sql: string, params: Param[]): Promise<RunResult> {
    this.#enter([{ sql }])
    return runOn(this.#statements, sql, params)
  }

  async read(_db: string | null, sql: string, params: Param[], settings?: Record<string, Param>): Promise<ReadResult> {
    this.#enter([{ sql, settings }])
    return readOn(this.#db, sql, params)
  }

  async runMany(statements: StoreStatement[], state?: StoreState): Promise<RunResult[]> {
    this.#enter(statements)
    const results = statements.map((s) => runOn(this.#statements, s.sql, s.params))
    if (state) writeStateOn(this.#statements, state)
    return results
  }

  async savepoint(name: string): Promise<void> {
    this.#checkOpen()
    if (this.#mode === null) return void this.#early.push(name)
    this.#exec(`SAVEPOINT ${quoteIdentifier(name)}`)
  }

  async rollbackTo(name: string): Promise<void> {
    this.#checkOpen()
    if (this.#mode === null) return void this.#early.splice(this.#earlySavepoint(name) + 1) // nothing ran yet to undo
    this.#exec(`ROLLBACK TO SAVEPOINT ${quoteIdentifier(name)}`)
  }

  async release(name: string): Promise<void> {
    this.#checkOpen()
    if (this.#mode === null) return void this.#early.splice(this.#earlySavepoint(name))
    this.#exec(`RELEASE SAVEPOINT ${quoteIdentifier(name)}`)
  }

  async setState(state: StoreState): Promise<void> {
    this.#enter([])
    if (this.#mode === null) this.#start(FK_ON)
    writeStateOn(this.#statements, state)
  }

  async commit(): Promise<void> {
    this.#checkOpen()
    if (this.#mode !== null) this.#exec('COMMIT')
    this.#end()
  }

  async rollback(): Promise<void> {
    if (!this.#release) return
    try {
      if (this.#mode !== null && this.#db.inTransaction) this.#db.run('ROLLBACK')
    } catch {
      // The store was closed, or SQLite already rolled back: nothing left to undo.
    }
    this.#end()
  }

  /**
   * Before statements run: a client's transaction begins in the mode its first one
   * needs, and refuses one that needs the other (SQLite ignores PRAGMA foreign_keys
   * inside a transaction, and the entry must replay in the mode it ran in).
   */
  #enter(statements: readonly ModeStatement[]): void {
    this.#checkOpen()
    if (!this.#begin) return
    for (const s of statements) {
      const mode = needsForeignKeysOff(s) ? FK_OFF : FK_ON
      if (this.#mode === null) {
        this.#start(mode)
        this.#beganWithDrop = dropsTable(s.sql)
      } else if (mode !== this.#mode) {
        throw modeConflict(dropsTable(s.sql) || this.#beganWithDrop)
      }
    }
  }

  /** BEGIN (a client's transaction), then the savepoints asked for before it. */
  #start(mode: string): void {
    try {
      this.#begin!(mode)
    } catch (err) {
      throw storeError(err)
    }
    this.#mode = mode
    for (const name of this.#early.splice(0)) this.#exec(`SAVEPOINT ${quoteIdentifier(name)}`)
  }

  /** The newest savepoint of this name asked for before BEGIN (SQLite matches names case-insensitively). */
  #earlySavepoint(name: string): number {
    const i = this.#early.findLastIndex((n) => n.toLowerCase() === name.toLowerCase())
    if (i < 0) throw new StoreError(`no such savepoint: ${name}`, { rejectedByServer: true })
    return i
  }

  #exec(sql: string): void {
    this.#checkOpen()
    try {
      this.#db.run(sql)
    } catch (err) {
      throw storeError(err)
    }
  }

  #end(): void {
    this.#release?.()
    this.#release = null
  }

  #checkOpen(): void {
    if (!this.#release) throw new StoreError('transaction is finished')
  }
}

/** Most prepared statements kept for reuse (a replayed log repeats the same parameterized texts). */
const STATEMENT_CACHE_SIZE = 256

/**
 * Prepared statements of one connection by SQL text, the least recently used
 * finalized past STATEMENT_CACHE_SIZE (bun's own query() cache never forgets,
 * and replayed statements with literals are mostly unique).
 */
class StatementCache {
  readonly db: Database
  readonly #statements = new Map<string, Statement>()

  constructor(db: Database) {
    this.db = db
  }

  get(sql: string): Statement {
    let stmt = this.#statements.get(sql)
    if (stmt) {
      this.#statements.delete(sql)
    } else {
      stmt = this.db.prepare(sql)
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        const [oldest, old] = this.#statements.entries().next().value!
        old.finalize()
        this.#statements.delete(oldest)
      }
    }
    this.#statements.set(sql, stmt)
    return stmt
  }

  clear(): void {
    for (const stmt of this.#statements.values()) stmt.finalize()
    this.#statements.clear()
  }
}

/** Runs a statement that returns rows on connection `db`. */
function readOn(db: Database, sql: string, params: Param[]): ReadResult {
  try {
    const stmt = db.prepare(sql)
    try {
      const rows = stmt.values(...params.map(toDriverValue)) as unknown[][]
      return {
        columns: stmt.columnNames,
        rows: rows.map(toJsonRow),
        columnTypes: stmt.declaredTypes.map(sqliteColumnType),
      }
    } finally {
      stmt.finalize()
    }
  } catch (err) {
    throw storeError(err)
  }
}

/** MySQL's longest length, for TEXT and BLOB columns SQLite does not bound. */
const UNBOUNDED_LENGTH = 0xffff_ffff

/**
 * A column's MySQL type from its declared SQLite type, by SQLite's affinity
 * rules (INT → BIGINT, CHAR/CLOB/TEXT → VARCHAR, BLOB → BLOB, REAL/FLOA/DOUB →
 * DOUBLE); of the NUMERIC-affinity names, DECIMAL/NUMERIC, BOOL(EAN), DATE,
 * DATETIME, TIMESTAMP and TIME keep their MySQL meaning. null (the caller
 * infers from the values) for an expression, a column declared without a type,
 * or another NUMERIC name.
 */
export function sqliteColumnType(declared: string | null | undefined): ColumnType | null {
  if (!declared) return null
  const d = declared.toUpperCase()
  const size = /\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)/.exec(d)
  const n = size ? Number(size[1]) : undefined
  const binary = { charset: COLUMN_CHARSET.BINARY, decimals: 0 }
  const num = { ...binary, flags: COLUMN_FLAG.NUM }
  if (d.includes('INT')) return { ...num, type: COLUMN_TYPE.LONGLONG, length: 20 }
  if (/CHAR|CLOB|TEXT/.test(d)) {
    const length = n !== undefined && /CHAR/.test(d) ? n * 4 : UNBOUNDED_LENGTH
    return { type: COLUMN_TYPE.VAR_STRING, length, decimals: 0, flags: 0, charset: COLUMN_CHARSET.UTF8MB4 }
  }
  if (d.includes('BLOB'))
    return { ...binary, type: COLUMN_TYPE.BLOB, length: UNBOUNDED_LENGTH, flags: COLUMN_FLAG.BLOB | COLUMN_FLAG.BINARY }
  if (/REAL|FLOA|DOUB/.test(d)) return { ...num, type: COLUMN_TYPE.DOUBLE, length: 22, decimals: 0x1f }
  const base = d.replace(/\(.*$/s, '').trim()
  const fsp = n !== undefined ? Math.min(n, 6) : 0
  switch (base) {
    case 'DECIMAL':
    case 'DEC':
    case 'NUMERIC': {
      const precision = n ?? 10
      const scale = size?.[2] !== undefined ? Number(size[2]) : 0
      return { ...num, type: COLUMN_TYPE.NEWDECIMAL, length: precision + (scale > 0 ? 2 : 1), decimals: scale }
    }
    case 'BOOL':
    case 'BOOLEAN':
      return { ...num, type: COLUMN_TYPE.TINY, length: 1 }
    case 'DATE':
      return { ...binary, type: COLUMN_TYPE.DATE, length: 10, flags: COLUMN_FLAG.BINARY }
    case 'DATETIME':
    case 'TIMESTAMP':
      return {
        ...binary,
        type: base === 'DATETIME' ? COLUMN_TYPE.DATETIME : COLUMN_TYPE.TIMESTAMP,
        length: 19 + (fsp ? fsp + 1 : 0),
        decimals: fsp,
        flags: COLUMN_FLAG.BINARY,
      }
    case 'TIME':
      return {
        ...binary,
        type: COLUMN_TYPE.TIME,
        length: 10 + (fsp ? fsp + 1 : 0),
        decimals: fsp,
        flags: COLUMN_FLAG.BINARY,
      }
    default:
      return null
  }
}

function runOn(cache: StatementCache, sql: string, params: Param[]): RunResult {
  try {
    const { changes, lastInsertRowid } = cache.get(sql).run(...params.map(toDriverValue))
    return { affectedRows: changes, insertId: Number(lastInsertRowid) }
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code === FOREIGN_KEY_FAILED) throw foreignKeyError(err, cache.db, sql)
    throw storeError(err)
  }
}

/** True when the statement must run with foreign keys off (see SqliteStore.transactionMode). */
function needsForeignKeysOff(s: ModeStatement): boolean {
  return foreignKeyChecksOff(s.settings?.foreign_key_checks) || dropsTable(s.sql)
}

/** foreign_key_checks = 0 as a session's settings carry it (1/0; OFF, FALSE from elsewhere). */
function foreignKeyChecksOff(v: Param | undefined): boolean {
  if (typeof v === 'string') return ['0', 'OFF', 'FALSE'].includes(v.toUpperCase())
  return v === 0 || v === false
}

/** Statements that plainly are not DROP TABLE, recognised without lexing: a slave replays thousands a second. */
const NOT_DROP = /^\s*(INSERT|UPDATE|DELETE|REPLACE|SELECT|CREATE)\b/i

function dropsTable(sql: string): boolean {
  if (NOT_DROP.test(sql)) return false
  try {
    return classify(sql).keyword === 'DROP TABLE'
  } catch {
    return false // a lexer error: SQLite will refuse the statement itself
  }
}

/** A client transaction's statement that needs the other foreign-key mode than the one it began in. */
function modeConflict(drop: boolean): DdbError {
  return new DdbError(
    'UNSUPPORTED',
    drop
      ? 'DROP TABLE inside a transaction on a SQLite store: ddb drops tables with foreign-key enforcement off (so that SQLite neither deletes nor refuses the rows that reference them), which SQLite can change only between transactions; drop it in a transaction of its own'
      : 'SET foreign_key_checks inside a transaction: SQLite can change foreign-key enforcement only between transactions; set it before BEGIN',
  )
}

const FOREIGN_KEY_FAILED = 'SQLITE_CONSTRAINT_FOREIGNKEY'

/** Statement verbs, for which side of a foreign key a refused statement broke. */
const VERBS = new Set(['INSERT', 'REPLACE', 'UPDATE', 'DELETE', 'DROP'])

/**
 * SQLite's foreign-key error, which says nothing more, as MySQL words it: "Cannot
 * add or update a child row" (MySQL 1452) or "Cannot delete or update a parent row"
 * (1451). The code stays SQLite's.
 */
function foreignKeyError(err: unknown, db: Database, sql: string): StoreError {
  const what =
    foreignKeySide(db, sql) === 'parent'
      ? 'Cannot delete or update a parent row: a foreign key constraint fails'
      : 'Cannot add or update a child row: a foreign key constraint fails'
  return new StoreError(`${what} (${err instanceof Error ? err.message : String(err)})`, {
    cause: err,
    storeCode: FOREIGN_KEY_FAILED,
    rejectedByServer: true,
  })
}

/**
 * Which side of a foreign key a statement broke: DELETE (and DROP TABLE) a parent
 * row's, a plain INSERT a child row's; an UPDATE, REPLACE or upsert either, told
 * by the table it writes: a parent's if other tables reference it and it references
 * none, else a child's.
 */
function foreignKeySide(db: Database, sql: string): 'parent' | 'child' {
  let tokens: Token[]
  try {
    tokens = tokenize(sql)
  } catch {
    return 'child'
  }
  let depth = 0
  let i = 0
  for (; i < tokens.length; i++) {
    const t = tokens[i]!
    if (isPunct(t, '(')) depth++
    else if (isPunct(t, ')')) depth--
    else if (depth === 0 && t.type === 'word' && VERBS.has(t.value)) break
  }
  const verb = tokens[i]?.value
  if (verb === 'DELETE' || verb === 'DROP') return 'parent'
  let k = i + 1
  const orReplace = isWord(tokens[k], 'OR') && isWord(tokens[k + 1], 'REPLACE')
  if (isWord(tokens[k], 'OR')) k += 2
  if (isWord(tokens[k], 'INTO')) k++
  const upsert = tokens.some((t, j) => isWord(t, 'DO') && isWord(tokens[j + 1], 'UPDATE'))
  if (verb === 'INSERT' && !orReplace && !upsert) return 'child'
  let name = tokens[k]
  if (isPunct(tokens[k + 1], '.')) name = tokens[k + 2] // schema.table
  if (name?.type !== 'word' && name?.type !== 'identifier') return 'child'
  const table = name.type === 'word' ? name.text : name.value
  try {
    const referenced = db
      .query(
        `SELECT 1 FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS f WHERE m.type = 'table' AND f."table" = ?1 COLLATE NOCASE LIMIT 1`,
      )
      .get(table)
    const references = db.query('SELECT 1 FROM pragma_foreign_key_list(?1) LIMIT 1').get(table)
    return referenced && !references ? 'parent' : 'child'
  } catch {
    return 'child'
  }
}

function writeStateOn(cache: StatementCache, state: StoreState): void {
  runOn(cache, 'UPDATE ddb_state SET applied_offset = ?, log_id = ?, pending_entries = ? WHERE id = 1', [
    state.offset,
    state.logId,
    state.pending ?? null,
  ])
}

/** SQLite result codes after which the database file's state is in doubt (not a refused statement). */
const IO_FAILURE = /^SQLITE_(IOERR|CORRUPT|FULL|CANTOPEN|NOTADB|NOMEM)/

/** Wraps a bun:sqlite error: SQLite's message and code; rejectedByServer unless the file itself failed. */
function storeError(err: unknown, prefix = '', hint?: string): StoreError {
  const message = err instanceof Error ? err.message : String(err)
  const code = (err as { code?: unknown } | null)?.code
  const storeCode = typeof code === 'string' ? code : undefined
  return new StoreError(prefix + message, {
    cause: err,
    storeCode,
    hint,
    rejectedByServer: !IO_FAILURE.test(storeCode ?? ''),
  })
}
