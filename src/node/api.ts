/**
 * What the front ends (ddb's own port, the MySQL port, HTTP, the master's prompt)
 * need from the node they serve. The master and the slave satisfy these types
 * (structurally: the node layer sits above them and they never import it); the
 * front ends see nothing else of them.
 */
import type { ChecksumForm } from '../checksum.ts'
import type { Param, ReadResult, Statement, WriteOptions, WriteResult } from '../entry.ts'
import type { Classification } from '../sql/classify.ts'
import type { RelayedRead, StatementShape, Store } from '../store/store.ts'
import type { ChecksumResult, Message, NodeRole, NodeStatus, SlaveHello } from '../wire/messages.ts'
import type { Peer } from '../wire/peer.ts'

/** A statement to write, with the classification the session already made (each statement is lexed once). */
export interface WriteStatement {
  statement: Statement
  classification: Classification
  /**
   * Session settings the statement runs under on the master only (lock wait and
   * statement timeouts): they change how it runs, not what it writes, so they are
   * not logged, and a slave never replays with them.
   */
  runWith?: Record<string, Param>
}

/** A read for Transaction.relay: the database is the transaction's current one. */
export type TransactionRelayRead = Omit<RelayedRead, 'db'>

/**
 * A client's BEGIN … COMMIT on the master: its statements run as they come,
 * and COMMIT logs them as one entry (null: nothing was written, nothing logged).
 */
export interface Transaction {
  /** False once the transaction has ended, also by itself: the store rolled it back for a deadlock. */
  readonly open: boolean
  write(w: WriteStatement): Promise<WriteResult>
  /** Reads inside the transaction see its own writes. */
  read(sql: string, params: Param[], settings?: Record<string, Param>): Promise<ReadResult>
  /**
   * Optional (a master on a MySQL store): a MySQL client's plain read (its COM_QUERY
   * as sent) passed through on the transaction's store connection; false when nothing
   * was sent (read it instead). See ClientTransaction.relay.
   */
  relay?(read: TransactionRelayRead, send: (framed: Buffer) => void): Promise<boolean>
  /** USE inside the transaction: later statements run in `db`. */
  use(db: string): void
  savepoint(name: string): Promise<void>
  /** Undoes what ran after the savepoint (its statements leave the entry too); DdbError SAVEPOINT_UNKNOWN if there is none. */
  rollbackTo(name: string): Promise<void>
  release(name: string): Promise<void>
  commit(options?: WriteOptions): Promise<WriteResult | null>
  /** Safe to call twice, and after a failed commit. */
  rollback(): Promise<void>
}

/** Where a node's log stands, as a welcome tells a peer: its log id (null: none yet) and its last offset. */
export interface NodePosition {
  logId: string | null
  offset: number
  /** The node's epoch: a master's, or the highest a slave has seen. */
  epoch: number
}

export type { SlaveHello, StatementShape }

/** What receives an attached slave's messages and the end of its connection. */
export interface ReplicaHandler {
  onMessage(m: Message): void
  onClose(reason: string | null): void
  /** Called once the welcome is on its way: the stream may start. */
  start(): void
}

/**
 * What a session asks of a node's store directly: its server's VERSION() (null:
 * SQLite), the system variables of a fresh session (none on SQLite), what SET
 * SESSION would do (null: SQLite), a read's result columns before it runs, on
 * SQLite the catalog, read synchronously, which translating a MySQL client's SQL
 * needs, and on MySQL a table's columns, which insert ids need, and plain reads relayed as packets.
 */
export type StoreServices = Pick<
  Store,
  'version' | 'sessionDefaults' | 'checkSetting' | 'describe' | 'catalog' | 'columnsOf' | 'relayRead'
>

export interface NodeApi {
  readonly role: NodeRole
  /** The database a new session starts in. */
  readonly defaultDb: string | null
  /** The SQL dialect of the node's store, for the determinism rules. */
  readonly dialect: 'mysql' | 'sqlite'
  /** Commits statements as one entry (a slave refuses with NotMasterError, or forwards them). */
  write(db: string | null, statements: WriteStatement[], options?: WriteOptions): Promise<WriteResult>
  /** A read, with the session's settings (MySQL: time_zone, sql_mode … for what the store renders and compares). */
  read(db: string | null, sql: string, params: Param[], settings?: Record<string, Param>): Promise<ReadResult>
  /** The node's store, for what a session asks of it besides reads. */
  readonly store: StoreServices
  /**
   * Read-your-writes: resolves once the node holds entry `offset` (a slave: has
   * applied it; the master: has published it), or rejects with STALE_READ
   * (StaleReadError) after timeoutMs.
   */
  waitForOffset(offset: number, timeoutMs: number): Promise<void>
  /** Opens a client transaction (master only; a slave's sessions keep read-only transactions themselves). */
  beginTransaction?(db: string | null): Promise<Transaction>
  status(): NodeStatus
  position(): NodePosition
  /**
   * Master only: takes on a slave that said a valid hello and returns its
   * handler; throws a DdbError that refuses it (another log, ahead of the master).
   */
  attachReplica?(peer: Peer, hello: SlaveHello): ReplicaHandler
  /** Master only: true when writes wait for slaves to apply them (--sync-replicas), which then ack each batch at once. */
  readonly synchronous?: boolean
  /** Master only: removes a slave that is not connected from the replica registry (REPLICA_CONNECTED, REPLICA_UNKNOWN). */
  forgetReplica?(id: string): void
  /** Master only: removes the log's entries before `before`, or PRUNE_REFUSED when a live slave or a pin needs them. */
  pruneLog?(before: number): Promise<{ start: number; removed: number }>
  /** Master only: its log's hashes at `offsets`, for a rejoining node to find where their histories part. */
  logHashes?(offsets: number[]): Array<string | null>
  /** Master only: a master of `epoch` exists; if its own is lower, it stops taking writes (Master.fence). */
  fence?(epoch: number, by: string): void
  /** Slave only (`ddb promote`): becomes the master in place, at the next epoch; resolves with it and the log's offset. */
  promote?(): Promise<{ epoch: number; offset: number }>
  /**
   * `ddb checksum`, step 1: the master opens a consistent read at its offset (`token` names
   * it); a slave stops applying where it is (no token) until step 2.
   */
  checksumOpen(): Promise<{ offset: number; token: string }>
  /** Step 2: the tables' checksums in `forms`, from the master's read `token`, or on a slave at `offset` (its held offset or later). */
  checksum(at: { token?: string; offset?: number; forms?: ChecksumForm[] }): Promise<ChecksumResult>
}
