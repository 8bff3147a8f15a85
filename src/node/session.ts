import type { Param, ReadResult, Statement, WriteOptions, WriteResult } from '../entry.ts'
import { DdbError, UsageError } from '../errors.ts'
import { beginsAsRead, type Classification, classifyTokens, isPlainSelect } from '../sql/classify.ts'
import { makeDeterministic } from '../sql/determinism.ts'
import { type IdSource, insertIdSource, insertTarget, reportedInsertId } from '../sql/insert-id.ts'
import { isWord, type Token, tokenize } from '../sql/lexer.ts'
import { splitLexed } from '../sql/split.ts'
import { hasSqlMode } from '../sql/sql-mode.ts'
import { writeDefaults } from '../sql/sqlite/defaults.ts'
import { toSqlite } from '../sql/sqlite/dialect.ts'
import { parseServerVersion, resolveVersionedComments, type ServerVersion } from '../sql/versioned-comments.ts'
import type { StatementShape } from '../store/store.ts'
import type { QueryAnswer } from '../wire/messages.ts'
import type { NodeApi, Transaction, WriteStatement } from './api.ts'
import { isLastInsertIdCall, runSet, SYNC_REPLICAS_VARIABLE, substituteVariables } from './settings.ts'
import { forgetTables, idTableOf, mysqlIdTable, sqliteTables, type TableLookup } from './tables.ts'
import { SessionVariables, type Settings, serverVersion, sessionDefaults, type Value } from './variables.ts'

/**
 * Session is one client's conversation with a node: its current database, its
 * open transaction, and the path each statement takes: reads to the store,
 * writes through the node (the master's writer; a slave refuses them), USE
 * kept here. Inside BEGIN … COMMIT, reads and writes go to the transaction.
 */
export class Session {
  readonly #node: NodeApi
  /** Whose rules the client expects where MySQL's and SQLite's differ (implicit commits). */
  readonly #dialect: 'mysql' | 'sqlite'
  /** The name a MySQL client selected for a SQLite store's one database ('main', SQLite's own, until it picks one). */
  #selected: string | null = 'main'
  /** The first id the session's last INSERT generated: LAST_INSERT_ID(). */
  #lastInsertId = 0
  /** True while LOCK TABLES … READ holds the transaction UNLOCK TABLES commits. */
  #lockedRead = false
  /** Its variables, once a statement needs them (MySQL clients only). */
  #variables: SessionVariables | null = null
  db: string | null
  /** The open transaction: a master's Transaction, or 'read-only' on a slave. */
  #txn: Transaction | 'read-only' | null = null
  /** The slaves the request being run asks its writes to wait for (ddb's protocol, HTTP), if it asks. */
  #requestSync: number | undefined

  /** `options.dialect`: the SQL the client speaks; default the store's (a MySQL-protocol client speaks MySQL's). */
  constructor(node: NodeApi, options: { dialect?: 'mysql' | 'sqlite' } = {}) {
    this.#node = node
    this.#dialect = options.dialect ?? node.dialect
    this.db = node.defaultDb
  }

  /** The server the client talks to, as executable comments see it: the MySQL store's, or the MySQL ddb speaks for SQLite. */
  get server(): ServerVersion {
    return parseServerVersion(serverVersion(this.#node))
  }

  /** The database the client selected, as DATABASE() names it (on SQLite, whatever name it chose for the one). */
  get database(): string | null {
    return this.db ?? this.#selected
  }

  /** True while a transaction is open (BEGIN … COMMIT): what a MySQL server reports as SERVER_STATUS_IN_TRANS. */
  get inTransaction(): boolean {
    return this.#txn !== null
  }

  /**
   * Runs one statement, or several separated by ';', in order; stops at the first error.
   * options.db (a slave's forwarded write carries its session's database): run in that
   * database for this query only; the session's own comes back after. Ignored on SQLite.
   * options.syncReplicas: its writes (and a COMMIT) wait for that many slaves to apply them,
   * instead of the session's `ddb_sync_replicas` or the master's --sync-replicas.
   */
  async execute(
    sql: string,
    params: Param[] = [],
    options: { db?: string | null; syncReplicas?: number } = {},
  ): Promise<QueryAnswer> {
    // A MySQL client's executable comments (/*!40101 … */) run as the server it talks to would run them.
    const text = this.#dialect === 'mysql' ? resolveVersionedComments(sql, this.server) : sql
    const statements = splitLexed(text) // lexed once: splitting, classification and the determinism rules share the tokens
    if (statements.length === 0) throw new UsageError('no statement given')
    if (params.length > 0 && statements.length > 1) throw new UsageError('parameters need exactly one statement')
    const answers: QueryAnswer = []
    const own = this.db
    const switched = options.db != null && this.#node.defaultDb !== null
    if (switched) this.db = options.db!
    this.#requestSync = options.syncReplicas
    try {
      for (const s of statements) answers.push(await this.#executeOne(s.sql, s.tokens, params))
    } finally {
      if (switched) this.db = own
      this.#requestSync = undefined
    }
    return answers
  }

  /**
   * What one statement would return, without running it (a MySQL client's
   * COM_STMT_PREPARE): a read's columns as the store reports them, none for
   * anything else; `params` is its number of placeholders.
   */
  async describe(sql: string, params: number): Promise<StatementShape> {
    const [statement, more] = splitLexed(sql)
    if (!statement || more) throw new UsageError('a prepared statement must be exactly one statement')
    if (classifyTokens(statement.tokens).kind !== 'read') return { columns: [], params }
    const [read] = this.#translates
      ? await this.#toSqlite(statement.sql, statement.tokens, sqliteTables(this.#node))
      : [statement]
    if (!read) return { columns: [], params }
    return { ...(await this.#node.store.describe(this.db, read.sql)), params }
  }

  /**
   * Where a MySQL client's statement would run if it is a plain read the store can
   * answer as it is (relayRead, or relayInTransaction inside one): one read, on a MySQL store,
   * with nothing for the session to write in (variables, LAST_INSERT_ID(),
   * executable comments). Null for anything else, which execute() runs. `tokens`: its tokens,
   * or null for a plain SELECT (isPlainSelect), which was not lexed.
   */
  relayable(sql: string): { db: string | null; settings: Settings | undefined; tokens: Token[] | null } | null {
    if (this.#dialect !== 'mysql' || this.#node.dialect !== 'mysql') return null
    if (isPlainSelect(sql)) return { db: this.db, settings: this.#settings(), tokens: null }
    // Writes never lex twice: only what begins as a read is looked at closer.
    if (!beginsAsRead(sql) || sql.includes('/*!')) return null
    let statements: ReturnType<typeof splitLexed>
    try {
      statements = splitLexed(sql)
    } catch {
      return null // the session reports the syntax error
    }
    const [statement, more] = statements
    if (!statement || more) return null
    const { tokens } = statement
    if (classifyTokens(tokens).kind !== 'read') return null
    if (tokens.some((t, i) => t.type === 'variable' || isLastInsertIdCall(tokens, i))) return null
    return { db: this.db, settings: this.#settings(), tokens }
  }

  /** True while a transaction is open that can relay reads (a master's on a MySQL store). */
  get relaysInTransaction(): boolean {
    const txn = this.#txn
    return txn !== null && txn !== 'read-only' && txn.relay !== undefined
  }

  /**
   * A relayable read inside the open transaction, passed through on its own store
   * connection (Transaction.relay); false when it was not (relaysInTransaction false, a
   * client that wants CLIENT_DEPRECATE_EOF answers): execute() it.
   */
  relayInTransaction(
    command: Buffer,
    client: { deprecateEof: boolean; collation: number },
    send: (framed: Buffer) => void,
  ): Promise<boolean> {
    const txn = this.#txn
    if (!txn || txn === 'read-only' || !txn.relay) return Promise.resolve(false)
    const read = { settings: this.#settings(), command, ...client }
    return this.#inTransaction(txn, () => txn.relay!(read, send))
  }

  /** Ends the session: an open transaction rolls back, as when a MySQL client disconnects. */
  async close(): Promise<void> {
    const txn = this.#txn
    this.#txn = null
    if (txn && txn !== 'read-only') await txn.rollback().catch(() => {})
  }

  /** The session's variables once variables() has loaded them, else null: for callers that must not wait. */
  get loadedVariables(): SessionVariables | null {
    return this.#variables
  }

  /** The session's variables (MySQL clients): SET changes them, statements read them, writes carry their settings. */
  async variables(): Promise<SessionVariables> {
    this.#variables ??= new SessionVariables(await sessionDefaults(this.#node))
    return this.#variables
  }

  async #executeOne(sql: string, tokens: Token[], params: Param[]): Promise<QueryAnswer[number]> {
    const c = classifyTokens(tokens)
    switch (c.kind) {
      case 'read':
      case 'write': {
        const text = await this.#withVariables(sql, tokens)
        return this.#readOrWrite(text.sql, text.tokens, c, params, sql)
      }
      case 'ddl':
        // Variables in DDL (a trigger's body) are read when it fires, on each server: the determinism rules refuse them.
        return this.#readOrWrite(sql, tokens, c, params, sql)
      case 'session':
        if (c.keyword === 'USE') return this.#use(c.database ?? '')
        return this.#set(sql, tokens)
      case 'transaction':
        return this.#transactionControl(c.keyword, tokens)
      case 'unsupported':
        throw new DdbError('UNSUPPORTED', c.reason ?? `not supported: ${c.keyword}`)
    }
  }

  /**
   * A read or a write, after its variables were written in. A MySQL client's
   * statement on a SQLite store runs as the SQLite statements that do the same
   * (sql/sqlite/dialect.ts): several make one entry; the log keeps what the client sent beside them.
   */
  async #readOrWrite(
    sql: string,
    tokens: Token[],
    c: Classification,
    params: Param[],
    sent: string,
  ): Promise<QueryAnswer[number]> {
    // A SQLite store's tables, looked up once for the statement's translation, written defaults and insert id.
    const tables = this.#translates || c.kind !== 'read' ? sqliteTables(this.#node) : undefined
    let statements = [{ sql, tokens, c }]
    if (this.#translates && (this.#node.role === 'master' || c.kind === 'read'))
      statements = await this.#toSqlite(sql, tokens, tables)
    if (statements.length === 0) return { kind: 'ok' } // CREATE DATABASE IF NOT EXISTS: the one database is there
    if (params.length > 0 && statements.length > 1) throw new UsageError('parameters need exactly one statement')
    if (statements.every((s) => s.c.kind === 'read')) {
      let answer: ReadResult | null = null
      for (const s of statements) answer = await this.#read(s.sql, params)
      return { kind: 'read', ...answer! }
    }
    const idSource = await this.#insertIdSource(tokens, params, tables)
    const result = await this.#write(statements, params, sent, tables)
    if (c.kind === 'ddl') forgetTables(this.#node)
    const reported = idSource
      ? reportedInsertId(idSource, result, this.#node.dialect)
      : { insertId: result.insertId, generated: true }
    if (reported.generated && reported.insertId > 0) this.#lastInsertId = reported.insertId
    return { kind: 'write', ...result, insertId: reported.insertId }
  }

  /** A MySQL client's INSERT on the master: where its ids come from, for the id MySQL would report and LAST_INSERT_ID(). */
  async #insertIdSource(
    tokens: Token[],
    params: Param[],
    tables: TableLookup | undefined,
  ): Promise<IdSource | undefined> {
    if (this.#dialect !== 'mysql' || this.#node.role !== 'master') return undefined
    const target = insertTarget(tokens)
    if (!target) return undefined
    const table = tables
      ? idTableOf(tables(target.name))
      : await mysqlIdTable(this.#node, target.db ?? this.db, target.name)
    if (!table) return undefined
    const sqlMode = (await this.variables()).system('sql_mode')
    const zeroIsId = hasSqlMode(typeof sqlMode === 'string' ? sqlMode : undefined, 'NO_AUTO_VALUE_ON_ZERO')
    return insertIdSource(tokens, params, table, zeroIsId)
  }

  /** True when statements are translated: a MySQL client on a SQLite store. */
  get #translates(): boolean {
    return this.#dialect === 'mysql' && this.#node.dialect === 'sqlite'
  }

  /** The SQLite statements that do what the MySQL statement does, classified (UNSUPPORTED when none can). */
  async #toSqlite(
    sql: string,
    tokens: Token[],
    table: TableLookup | undefined,
  ): Promise<Array<{ sql: string; tokens: Token[]; c: Classification }>> {
    const sqlMode = (await this.variables()).system('sql_mode')
    const translated = toSqlite(sql, tokens, {
      database: this.database,
      ...(table ? { table } : {}),
      ...(typeof sqlMode === 'string' ? { sqlMode } : {}),
    })
    return translated.map((text) => {
      const lexed = text === sql ? tokens : tokenize(text)
      return { sql: text, tokens: lexed, c: classifyTokens(lexed) }
    })
  }

  /** SET (MySQL clients): variables in the session, settings that later writes carry. */
  async #set(sql: string, tokens: Token[]): Promise<QueryAnswer[number]> {
    if (this.#dialect !== 'mysql') {
      if (tokens[1]?.value === 'NAMES') return { kind: 'ok' } // ddb always speaks UTF-8
      throw new DdbError(
        'UNSUPPORTED',
        'SET: SQLite has no session variables (a MySQL client on the MySQL port has them)',
      )
    }
    const variables = await this.variables()
    await runSet(sql, tokens, {
      variables,
      lastInsertId: this.#lastInsertId,
      dialect: this.#node.dialect,
      inTransaction: this.#txn !== null && this.#txn !== 'read-only',
      evaluate: async (expression) => {
        const { rows } = await this.#read(`SELECT ${expression}`, [])
        const v = rows[0]?.[0] ?? null
        return typeof v === 'boolean' ? Number(v) : (v as Value)
      },
      check: (name, value) => this.#node.store.checkSetting(name, value),
    })
    return { kind: 'ok' }
  }

  /** A MySQL client's statement with the @user and @@session variables and the LAST_INSERT_ID() it reads written in as literals. */
  async #withVariables(sql: string, tokens: Token[]): Promise<{ sql: string; tokens: Token[] }> {
    if (this.#dialect !== 'mysql') return { sql, tokens }
    if (!tokens.some((t, i) => t.type === 'variable' || isLastInsertIdCall(tokens, i))) return { sql, tokens }
    const text = substituteVariables(sql, tokens, await this.variables(), this.#lastInsertId)
    return text === sql ? { sql, tokens } : { sql: text, tokens: tokenize(text) }
  }

  /** The settings this session's reads run with (MySQL clients' SETs), or undefined. */
  #settings(): Settings | undefined {
    const v = this.#variables
    const [replicated, runOnly] = [v?.settings(), v?.runOnlySettings()]
    return runOnly ? { ...replicated, ...runOnly } : replicated
  }

  /** A read: inside a transaction it sees the transaction's writes. */
  #read(sql: string, params: Param[]): Promise<ReadResult> {
    const txn = this.#txn
    const settings = this.#settings()
    if (txn && txn !== 'read-only') return this.#inTransaction(txn, () => txn.read(sql, params, settings))
    return this.#node.read(this.db, sql, params, settings)
  }

  /**
   * A write of one or more statements (one entry); `sent` is the statement as
   * the client sent it, kept beside a rewritten one for auditing.
   */
  async #write(
    statements: Array<{ sql: string; tokens: Token[]; c: Classification }>,
    params: Param[],
    sent: string,
    tables: TableLookup | undefined,
  ): Promise<WriteResult> {
    const [first] = statements
    // A slave refuses, or forwards the statement as sent to its master (which makes it deterministic); never from inside a transaction.
    if (this.#node.role !== 'master') {
      return this.#node.write(
        this.db,
        this.#txn ? [] : [{ statement: { sql: sent, params }, classification: first!.c }],
      )
    }
    const writes = statements.map((s, i) =>
      this.#prepareWrite(s.sql, params, s.c, s.tokens, i === 0 ? sent : s.sql, tables),
    )
    const txn = this.#txn
    // DDL commits an open transaction first in MySQL: two entries, in order (SQLite's DDL is transactional).
    if (txn && this.#dialect === 'mysql' && statements.some((s) => s.c.kind === 'ddl')) await this.#commit()
    else if (txn && txn !== 'read-only') {
      let result: WriteResult = { offset: 0, affectedRows: 0, insertId: 0 }
      for (const w of writes) {
        const r = await this.#inTransaction(txn, () => txn.write(w))
        result = {
          offset: 0,
          affectedRows: result.affectedRows + r.affectedRows,
          insertId: r.insertId || result.insertId,
        }
      }
      return result
    }
    return this.#node.write(this.db, writes, this.#writeOptions())
  }

  /** How this session's writes are acknowledged: the request's slaves, else its `ddb_sync_replicas`, else the master's. */
  #writeOptions(): WriteOptions {
    const set = this.#variables?.system(SYNC_REPLICAS_VARIABLE)
    const replicas = this.#requestSync ?? (typeof set === 'number' ? set : undefined)
    return replicas === undefined ? {} : { syncReplicas: replicas }
  }

  /** Runs a statement of the open transaction; one the store answered by ending the transaction (a deadlock) ends it here too. */
  async #inTransaction<T>(txn: Transaction, statement: () => Promise<T>): Promise<T> {
    try {
      return await statement()
    } finally {
      if (!txn.open && this.#txn === txn) this.#txn = null
    }
  }

  /**
   * Rewrites a write so it replays the same on every node, or refuses it; it
   * carries the session's settings, and its clock when SET TIMESTAMP pinned it.
   */
  #prepareWrite(
    sql: string,
    params: Param[],
    classification: Classification,
    tokens: Token[],
    sent: string,
    tables: TableLookup | undefined,
  ): WriteStatement {
    const pinned = this.#variables?.system('timestamp')
    const ts = typeof pinned === 'number' ? Math.round(pinned * 1000) : undefined
    // On SQLite, a column default that is not a constant is written into each INSERT, then pinned like the rest.
    const filled = tables ? writeDefaults(sql, tokens, tables) : undefined
    const source = filled ?? sql
    const prepared = makeDeterministic(
      source,
      { dialect: this.#node.dialect, now: ts ?? Date.now(), random: Math.random },
      filled === undefined ? tokens : tokenize(filled),
    )
    const text = prepared.rewritten ? prepared.sql : source
    const settings = this.#variables?.settings()
    const runWith = this.#variables?.runOnlySettings()
    const statement: Statement = {
      sql: text,
      params,
      ...(text !== sent ? { original: sent } : {}),
      ...(ts !== undefined ? { ts } : {}),
      ...(settings ? { settings } : {}),
    }
    return { statement, classification, ...(runWith ? { runWith } : {}) }
  }

  /** BEGIN / START TRANSACTION, COMMIT (or SQLite's END), ROLLBACK, and savepoints. */
  async #transactionControl(keyword: string, tokens: Token[]): Promise<QueryAnswer[number]> {
    const txn = this.#txn
    switch (keyword) {
      case 'BEGIN':
      case 'START TRANSACTION': {
        if (txn && this.#dialect !== 'mysql') {
          throw new DdbError('TRANSACTION_OPEN', 'a transaction is already open: COMMIT or ROLLBACK it first')
        }
        // MySQL commits an open transaction before it begins the next.
        const committed = txn ? await this.#commit() : null
        this.#txn = this.#node.beginTransaction ? await this.#node.beginTransaction(this.db) : 'read-only'
        return committed ? { kind: 'write', ...committed } : { kind: 'ok' }
      }
      case 'COMMIT':
      case 'END': {
        const result = await this.#commit()
        return result ? { kind: 'write', ...result } : { kind: 'ok' }
      }
      case 'ROLLBACK':
        this.#txn = null
        if (txn && txn !== 'read-only') await txn.rollback()
        return { kind: 'ok' }
      case 'SAVEPOINT':
      case 'ROLLBACK TO SAVEPOINT':
      case 'RELEASE SAVEPOINT':
        return this.#savepoint(keyword, savepointName(tokens))
      case 'LOCK TABLES':
        return this.#lockTables(tokens)
      case 'UNLOCK TABLES': {
        const committed = this.#lockedRead ? await this.#commit() : null
        this.#lockedRead = false
        return committed ? { kind: 'write', ...committed } : { kind: 'ok' }
      }
      default:
        throw new DdbError('UNSUPPORTED', `${keyword} is not supported: a transaction replicates whole or not at all`)
    }
  }

  /**
   * LOCK TABLES, as dump tools send it. ddb takes no table locks (they would not
   * replicate); what they guarantee, it gives otherwise: like MySQL, it first
   * commits an open transaction; READ locks (a dump being taken) open a
   * transaction, so every table is read from one consistent snapshot, until
   * UNLOCK TABLES; WRITE locks (a dump being loaded) need nothing, as each
   * statement under them replicates in order.
   */
  async #lockTables(tokens: Token[]): Promise<QueryAnswer[number]> {
    const committed = await this.#commit()
    this.#lockedRead = false
    if (!tokens.some((t) => isWord(t, 'WRITE'))) {
      this.#txn = this.#node.beginTransaction ? await this.#node.beginTransaction(this.db) : 'read-only'
      this.#lockedRead = true
    }
    return committed ? { kind: 'write', ...committed } : { kind: 'ok' }
  }

  /** Commits the open transaction, if any: its result when it wrote (one entry), else null. */
  async #commit(): Promise<WriteResult | null> {
    const txn = this.#txn
    this.#txn = null
    if (!txn || txn === 'read-only') return null
    return txn.commit(this.#writeOptions()).catch(async (err) => {
      await txn.rollback().catch(() => {})
      throw err
    })
  }

  /** SAVEPOINT outside a transaction does nothing, as in MySQL's autocommit; the others need the savepoint to exist. */
  async #savepoint(keyword: string, name: string): Promise<QueryAnswer[number]> {
    const txn = this.#txn
    if (!txn) {
      if (keyword === 'SAVEPOINT') return { kind: 'ok' }
      throw new DdbError('SAVEPOINT_UNKNOWN', `SAVEPOINT ${name} does not exist`)
    }
    if (txn === 'read-only') return { kind: 'ok' } // nothing to undo on a slave
    await this.#inTransaction(txn, () =>
      keyword === 'SAVEPOINT'
        ? txn.savepoint(name)
        : keyword === 'RELEASE SAVEPOINT'
          ? txn.release(name)
          : txn.rollbackTo(name),
    )
    return { kind: 'ok' }
  }

  /** USE: later statements run in `database`, inside an open transaction too. */
  async #use(database: string): Promise<QueryAnswer[number]> {
    if (this.#node.defaultDb === null) {
      // One database, which a MySQL client may call by any name (DATABASE() then says it).
      if (this.#dialect !== 'mysql') throw new DdbError('UNSUPPORTED', 'USE: a SQLite store has a single database')
      this.#selected = database
      return { kind: 'ok' }
    }
    const found = await this.#node.read(
      null,
      'SELECT schema_name FROM information_schema.schemata WHERE schema_name = ?',
      [database],
    )
    if (found.rows.length === 0) throw new DdbError('UNKNOWN_DATABASE', `USE: unknown database '${database}'`)
    this.db = database
    if (this.#txn && this.#txn !== 'read-only') this.#txn.use(database)
    return { kind: 'ok' }
  }
}

/** The savepoint a SAVEPOINT, ROLLBACK [WORK] TO [SAVEPOINT] or RELEASE SAVEPOINT statement names. */
function savepointName(tokens: Token[]): string {
  const name = tokens.at(-1)?.type === 'punct' ? tokens.at(-2) : tokens.at(-1)
  if (!name || name.type === 'punct' || ['SAVEPOINT', 'TO', 'RELEASE'].includes(name.value)) {
    throw new DdbError('SQL_SYNTAX', 'a savepoint needs a name')
  }
  return name.type === 'word' ? name.text : name.value
}
