import type { ColumnType, Param, ReadResult, Statement } from '../entry.ts'
import type { StoreError } from '../errors.ts'
import type { Staging, StagingProgress, StoreSnapshot } from '../snapshot.ts'
import type { IdTable } from '../sql/insert-id.ts'

/** What the store remembers about replication, in the same transaction as the data. */
export interface StoreState {
  /** The offset of the last entry this store committed (0: none yet). */
  offset: number
  /** The id of the replication log those entries came from (null: none yet). */
  logId: string | null
  /**
   * The master's last committed batch, as JSON Entry[]: committed in the same
   * transaction as the data, so recovery can put entries the log lacks back into
   * it (the master commits store and log concurrently). Null elsewhere.
   */
  pending?: string | null
  /**
   * When writing: the offset the state row must hold now (the entry before the first
   * one this write commits). If it holds another, the write fails with
   * StoreBehindError and commits nothing, so a store that lost commits is never
   * written past the hole. Absent: not checked.
   */
  previous?: number
}

/** What a statement returns, known before it runs: what a MySQL client's COM_STMT_PREPARE is told. */
export interface StatementShape {
  /** The result's columns (none for a statement that returns no rows), with the store's type where it knows one. */
  columns: Array<{ name: string; type: ColumnType | null }>
  /** How many `?` placeholders it has. */
  params: number
}

/** What one write statement did. */
export interface RunResult {
  affectedRows: number
  insertId: number
}

/** A statement to run in a database (null: the store's default). */
export interface StoreStatement {
  db: string | null
  sql: string
  params: Param[]
  /** The entry's time (ms since the epoch): what NOW() and friends return (MySQL: SET TIMESTAMP). */
  ts?: number
  /** The AUTO_INCREMENT value to generate (MySQL: SET INSERT_ID), as the master did. */
  insertId?: number
  /** The time zone to run in (MySQL: SET time_zone), as the master's session was; absent: the store's own. */
  timeZone?: string | null
  /** Session settings to run with (MySQL: SET SESSION name = value), where they differ from a fresh session's. */
  settings?: Record<string, Param>
}

/**
 * One store transaction on the store's single writer connection. Every method
 * runs inside it; nothing is visible to readers until commit().
 */
export interface StoreTxn {
  /** Runs one statement in database `db` (ignored by SQLite; null: the URL's database). */
  run(db: string | null, sql: string, params: Param[]): Promise<RunResult>
  /**
   * Runs statements in order and then, if given, writes the replication state,
   * in as few round trips as the store allows (MySQL: one packet). Resolves with
   * each statement's result. If one fails it rejects with that failure, and which
   * earlier statements took effect is unknown: the caller must roll back.
   */
  runMany(statements: StoreStatement[], state?: StoreState): Promise<RunResult[]>
  /**
   * Optional (stores where a round trip costs): runMany, then the state and
   * COMMIT at once, but only if each statement affected the rows `expected` of
   * it (null: not checked); otherwise, or on any error, it rejects and nothing
   * is committed: roll back.
   */
  runManyAndCommit?(
    statements: StoreStatement[],
    expected: Array<number | null>,
    state: StoreState,
  ): Promise<RunResult[]>
  /** Runs a statement that returns rows inside the transaction: it sees the transaction's own writes. */
  read(db: string | null, sql: string, params: Param[], settings?: Record<string, Param>): Promise<ReadResult>
  /**
   * MySQL only: a client's plain read (its COM_QUERY as sent) inside the transaction,
   * on its own connection, the server's answer handed to `send` as the packets it
   * sent, never decoded (it sees the transaction's writes). Nothing sent: run it with
   * read() instead (`error`, if any, is why this one could not run). Sent: `error` is
   * the store's error the client was just told. Rejects once part of an answer went
   * out and the rest could not.
   */
  relay?(read: RelayedRead, send: (framed: Buffer) => void): Promise<TxnRelayAnswer>
  savepoint(name: string): Promise<void>
  rollbackTo(name: string): Promise<void>
  release(name: string): Promise<void>
  /** Writes the replication state row; commits or rolls back with the data (MySQL: sent with the next packet). */
  setState(state: StoreState): Promise<void>
  commit(): Promise<void>
  /** Safe to call after a failed commit or on a broken connection. */
  rollback(): Promise<void>
}

/** Runs the moment a snapshot's read view is taken, with every commit held off. */
export type SnapshotHold = (takeView: () => Promise<void>) => Promise<void>

/** A client's read for relayRead: where it runs, with which settings, and its COM_QUERY payload. */
export interface RelayedRead {
  /** null: the store's database. */
  db: string | null
  /** The session's settings (MySQL clients' SETs), as read() takes them. */
  settings: Record<string, Param> | undefined
  command: Buffer
  /** The client speaks CLIENT_DEPRECATE_EOF: result sets must end as it expects. */
  deprecateEof: boolean
  /** The collation the client logged in with: the answer is in its character set, as the server would send it. */
  collation: number
  /** Who asks (any object the client keeps, such as its session): its reads go to the connection it used last when that one is free. */
  client?: object
}

/** What StoreTxn.relay did: whether any of the answer went to the client, and the store's error, if there was one. */
export interface TxnRelayAnswer {
  sent: boolean
  error: StoreError | null
}

/**
 * Store is the database a node serves: the master's, or a slave's copy.
 * Only src/store knows which database it talks to.
 *
 * Contract:
 * - begin() serializes: at most one StoreTxn is open at a time (one writer).
 * - read() never sees uncommitted writes and never blocks on the writer's transaction.
 * - readState() returns what the last committed transaction wrote with setState.
 * - State lives outside the user's tables (MySQL: table `ddb.stores`, a row per database; SQLite: table `ddb_state`).
 * - Opened with a NodeClaim, it belongs to this process alone until closed (SQLite: flock on
 *   the file; MySQL: GET_LOCK), and records the node's role and owner.
 */
export interface Store {
  readonly kind: 'sqlite' | 'mysql'
  /** The URL with any password masked, for logs and messages. */
  readonly displayUrl: string
  /**
   * How the store's own commits reach its disk, as the operator would set it
   * (SQLite: `synchronous=NORMAL`; MySQL: `innodb_flush_log_at_trx_commit=N`), for the
   * start-up log line. Any of them loses nothing acknowledged: the log is the durable record.
   */
  readonly durability: string
  /** The database a session starts in (MySQL: the URL's path; SQLite: null). */
  readonly defaultDb: string | null
  /**
   * The time zone the writer's statements run in (MySQL: the session's, a SYSTEM
   * zone resolved to its current offset; SQLite: null, it only knows UTC).
   */
  readonly timeZone: string | null
  /** True when DDL commits implicitly (MySQL), so it cannot share a transaction. */
  readonly ddlCommitsImplicitly: boolean
  /**
   * True when COMMIT itself can refuse a transaction (SQLite: a DEFERRABLE INITIALLY
   * DEFERRED foreign key still violated; the transaction stays open, to roll back). The
   * writer then hears the store's COMMIT before it logs the batch.
   */
  readonly commitCanRefuse: boolean

  readState(): Promise<StoreState>
  /**
   * The kind of store transaction one entry's statements need, as a key: entries
   * whose modes differ cannot share a store transaction, so the writer ends a batch,
   * and applyEntries a transaction, where the mode changes; begin(mode) opens one of
   * that kind. SQLite: 'fk-off' (PRAGMA foreign_keys = OFF, which SQLite changes only
   * between transactions) when a statement's settings turn foreign_key_checks off or
   * a statement is DROP TABLE, else 'fk-on'. MySQL: always '' (it applies settings
   * per statement).
   */
  transactionMode(statements: readonly Pick<Statement, 'sql' | 'settings'>[]): string
  /** Opens the writer's transaction, of the kind `mode` (from transactionMode; default: a statement without settings). */
  begin(mode?: string): Promise<StoreTxn>
  /**
   * A client's own transaction (BEGIN … COMMIT), open while the client works.
   * MySQL: on a connection of its own (finished ones' are reused), so other writes go on beside it as far as
   * row locks allow. SQLite: on the single writer, so other writes wait for it
   * (SQLite locks the whole database for a write transaction anyway); it begins at its
   * first statement, in the mode that statement needs, and refuses a later statement
   * that needs another (DdbError 'UNSUPPORTED').
   */
  beginClientTransaction(): Promise<StoreTxn>
  /** Runs one statement outside any transaction (MySQL DDL). */
  runAutocommit(statement: StoreStatement): Promise<RunResult>
  /**
   * True when a DDL statement's error says its effect is already there ("table
   * exists", "unknown table" on DROP …): a logged DDL that ran before a crash, run
   * again. Only stores whose DDL commits implicitly can meet this.
   */
  ddlAlreadyApplied(err: unknown): boolean
  /**
   * True when the database rolled a whole transaction back for this error, not
   * just the statement: MySQL's deadlock (1213), and its lock wait timeout (1205)
   * under innodb_rollback_on_timeout. The transaction is then over, as in MySQL.
   */
  endsTransaction(err: unknown): boolean
  /** Writes the replication state outside any transaction (after MySQL DDL). */
  writeState(state: StoreState): Promise<void>
  /** Runs a statement that returns rows, on a connection other than the writer's, with the session's settings (MySQL). */
  read(db: string | null, sql: string, params: Param[], settings?: Record<string, Param>): Promise<ReadResult>
  /**
   * MySQL only: runs a client's plain read (its COM_QUERY as sent) on a server
   * connection of its own and hands `send` the server's answer as the framed packets
   * it sent, never decoded (mysql-relay.ts). False when it sent nothing (run the read
   * with read() instead); rejects once part of the answer went out.
   */
  relayRead?(read: RelayedRead, send: (framed: Buffer) => void): Promise<boolean>
  /** The database server's version (MySQL: VERSION()); null for SQLite. */
  readonly version: string | null
  /** These system variables as a fresh session sees them (MySQL: SHOW SESSION VARIABLES); SQLite has none. */
  sessionDefaults(names: string[]): Promise<Record<string, Param>>
  /**
   * What `SET SESSION name = value` would do: the value the database then reports, or
   * its error (an unknown variable, a bad value); null where there are no such variables (SQLite).
   */
  checkSetting(name: string, value: Param): Promise<Param | null>
  /** SQLite only: a synchronous read of its catalog (sqlite_schema, pragma tables), for translating MySQL's SQL. */
  catalog?(sql: string, params: string[]): Record<string, unknown>[]
  /** MySQL only: table `name` of database `db`, from information_schema; undefined when there is none. */
  columnsOf?(db: string, name: string): Promise<IdTable | undefined>
  /**
   * MySQL only: the database of a master's store, of log `logId`, on this store's own
   * server (other than this store's database), or null. A slave on its master's server
   * would replay the master's entries into the master's databases.
   */
  masterOnSameServer?(logId: string): Promise<string | null>
  /**
   * A consistent read of the replicated data and its offset (snapshot.ts). The read view
   * is taken inside `hold`, while nothing commits (the master holds its writer for just
   * that); the schema is read after it (MySQL's SHOW CREATE is outside the view: the
   * master checks that no DDL committed meanwhile).
   */
  openSnapshot(hold: SnapshotHold): Promise<StoreSnapshot>
  /** The snapshot load in progress on this store (a slave's), or null. */
  staging(): Promise<Staging | null>
  /** Starts loading snapshot `id` at `offset`, throwing away any other load in progress. */
  beginStaging(progress: Pick<StagingProgress, 'id' | 'offset' | 'logId'>): Promise<Staging>
  /** Prepares a statement without running it, to learn its result columns; rejects as running it would (syntax, missing table). */
  describe(db: string | null, sql: string): Promise<StatementShape>
  close(): Promise<void>
}
