import type { ChecksumForm, TableChecksum } from '../checksum.ts'
import type { Entry, Param, ReadResult, WriteResult } from '../entry.ts'
import type { RowCursor, SnapshotSchema } from '../snapshot.ts'

/** Bumped on any incompatible change to frames or messages. */
export const PROTOCOL_VERSION = 1

/** How long a query with minOffset waits for the node to reach it unless it says (waitMs), in milliseconds. */
export const DEFAULT_WAIT_MS = 5_000

/** Which kind of node answered. */
export type NodeRole = 'master' | 'slave'

/**
 * Every message on ddb's port. The server speaks first (greeting); the peer
 * answers hello; the server answers welcome or error, then the conversation
 * depends on hello.peer: a slave receives entries and heartbeats and sends acks;
 * a client sends query/status requests and receives result/error by id.
 */
export type Message =
  /** server → peer, first: who we are, and a nonce to prove the shared secret with. */
  | { type: 'greeting'; protocol: number; role: NodeRole; nonce: string }
  /** peer → server: auth = hex HMAC-SHA256(secret, nonce), or '' when no secret is set. */
  | {
      type: 'hello'
      protocol: number
      peer: 'slave'
      auth: string
      slaveId: string
      position: number
      logId: string | null
      /** Its log's hash of the entry at `position`: a master whose entry there differs holds another history (a fork). */
      hash?: string | null
      /** The highest master epoch it has seen: a master of a lower one is fenced (stops taking writes). */
      epoch?: number
      /** Its store holds entries the master never had (a rejoining old master): a snapshot first, whatever the position. */
      rebuild?: boolean
      /** It follows a master only (it was given several nodes): a slave refuses it rather than stream its log (a cascade). */
      masterOnly?: boolean
      listen: string | null
      /** The snapshot this slave was loading when its connection ended, to go on with where it stands. */
      snapshot?: SnapshotResume
      /** `ddb snapshot --out`: a snapshot only, whatever the position, and no place in the replica registry. */
      snapshotOnly?: boolean
    }
  | { type: 'hello'; protocol: number; peer: 'client'; auth: string }
  /** server → peer: accepted. To a slave: the master's log id and last offset. */
  | {
      type: 'welcome'
      role: NodeRole
      logId: string | null
      offset: number
      /** The SQL its store speaks, which its log's statements are written in; absent from older nodes. */
      dialect?: 'mysql' | 'sqlite'
      /** To a slave: writes wait for slaves' acks (--sync-replicas), so ack each batch at once. */
      sync?: boolean
      /** The node's epoch (a master's: each promotion starts a higher one); absent from older nodes (1). */
      epoch?: number
    }
  /**
   * master → slave, before any entries when the slave's position is before the log's
   * start: a snapshot of the master's data at `offset` follows (snapshot-rows, table by
   * table, then snapshot-end), then entries from offset + 1. `resume`: it goes on where
   * the slave's hello said its load stands; null: from the start (a load of another
   * snapshot is thrown away).
   */
  | {
      type: 'snapshot-begin'
      id: string
      offset: number
      logId: string
      schema: SnapshotSchema
      resume: SnapshotResume | null
      /** The SQL the master's store speaks: a store of another kind cannot take its data; absent from older masters. */
      dialect?: 'mysql' | 'sqlite'
      /** The hash of the master's entry at `offset` (the slave's log chains on from it) and the master's epoch. */
      hash?: string | null
      epoch?: number
    }
  /** master → slave: the next rows of schema.tables[table], in key order; next: where they continue (null: the table is done). */
  | { type: 'snapshot-rows'; id: string; table: number; rows: unknown[][]; next: RowCursor | null; checksum: number }
  | { type: 'snapshot-end'; id: string }
  /** master → slave: the next entries, in offset order, with no gaps. */
  | { type: 'entries'; entries: Entry[] }
  /** master → slave when idle: the master's last offset and clock, so lag is known. */
  | { type: 'heartbeat'; offset: number; ts: number }
  /** slave → master: the slave's applied offset, and why it stopped applying if it did. */
  | { type: 'ack'; applied: number; error: string | null }
  /**
   * client → server: run one statement (or several separated by ';').
   * db: run in this database for this query only (the session's own stays as it
   * was; ignored by a SQLite store, which has one database); absent or null: the
   * session's current database. minOffset: first wait until the node has applied
   * (slave) or published (master) at least this offset, for up to waitMs
   * milliseconds (default DEFAULT_WAIT_MS), else fail with STALE_READ.
   */
  | {
      type: 'query'
      id: number
      sql: string
      params: Param[]
      db?: string | null
      minOffset?: number
      waitMs?: number
      /** Its writes are answered once this many slaves applied them (instead of the master's --sync-replicas). */
      syncReplicas?: number
    }
  /** client → server (`ddb checksum`): a master opens a consistent read; a slave stops applying where it is. */
  | { type: 'checksum-open'; id: number }
  | { type: 'checksum-opened'; id: number; offset: number; token: string }
  /**
   * client → server: every table's checksum, from the master's read `token`, or on a slave at
   * `offset`, in each of `forms` (absent: raw only; neutral: for nodes whose stores differ in kind).
   */
  | { type: 'checksum'; id: number; token?: string; offset?: number; forms?: ChecksumForm[] }
  | ({ type: 'checksum-result'; id: number } & ChecksumResult)
  /** client → server: the node's status, as `ddb status --json` prints it. */
  | { type: 'status'; id: number }
  /** client → master: remove a slave that is not connected from the replica registry (`ddb replica forget`). */
  | { type: 'forget-replica'; id: number; replica: string }
  /** client → master: a master of `epoch` exists (`by` saw it): one of a lower epoch is fenced. */
  | { type: 'fence'; id: number; epoch: number; by: string }
  | { type: 'fenced'; id: number; epoch: number }
  /** client → master: its log's hashes of the entries at `offsets` (null: not held, or not published): a rejoining node finds where they forked. */
  | { type: 'log-hashes'; id: number; offsets: number[] }
  | { type: 'log-hashes-result'; id: number; hashes: Array<string | null> }
  /** client → slave (`ddb promote`): become the master, in place, at the next epoch. */
  | { type: 'promote'; id: number }
  /** slave → client: it is the master now, at `epoch`, its log ending at `offset`. */
  | { type: 'promoted'; id: number; epoch: number; offset: number }
  /** client → master: remove the log's entries before `before`, if no live slave or pin needs them (`ddb log prune`). */
  | { type: 'prune-log'; id: number; before: number }
  /** server → client: a query's or status request's answer. */
  | { type: 'result'; id: number; result: QueryAnswer }
  | { type: 'status-result'; id: number; status: NodeStatus }
  /** master → client: the replica is forgotten. */
  | { type: 'forgotten'; id: number; replica: string }
  /** master → client: the log now starts after `start`; `removed` entries went. */
  | { type: 'pruned'; id: number; start: number; removed: number }
  /** either way: a request failed (id), or the connection is refused (id null, then close). */
  | { type: 'error'; id: number | null; code: string; message: string; hint?: string }

export type MessageType = Message['type']

/** A node's checksums: `tables` in the raw form (empty unless asked for), `neutral` when asked for (absent from older nodes). */
export interface ChecksumResult {
  offset: number
  tables: TableChecksum[]
  neutral?: TableChecksum[]
  /** A slave's filters: the master's tables in the databases they leave out are not compared. Absent from masters and older slaves. */
  filters?: ReplicationFilters
}

/** Where a slave's load of snapshot `id` stands: the table it loads and where in it (null: from its first row). */
export interface SnapshotResume {
  id: string
  table: number
  after: RowCursor | null
}

/** A message of a snapshot's stream (and of a snapshot file), in the order the master sends them. */
export type SnapshotMessage = Extract<Message, { type: 'snapshot-begin' | 'snapshot-rows' | 'snapshot-end' }>

export function isSnapshotMessage(m: Message): m is SnapshotMessage {
  return m.type === 'snapshot-begin' || m.type === 'snapshot-rows' || m.type === 'snapshot-end'
}

/** The hello a slave sends when it attaches. */
export type SlaveHello = Extract<Message, { type: 'hello'; peer: 'slave' }>

/** The welcome a server answers a valid hello with. */
export type Welcome = Extract<Message, { type: 'welcome' }>

/** What one query answered: rows for a read, an offset for a write; one per statement. */
export type QueryAnswer = Array<({ kind: 'read' } & ReadResult) | ({ kind: 'write' } & WriteResult) | { kind: 'ok' }>

export interface ReplicaStatus {
  id: string
  address: string
  applied: number
  connected: boolean
  /** Null (unknown) while the slave is disconnected. */
  lagEntries: number | null
  lagSeconds: number | null
  /** Why the slave stopped applying, or why the master cannot stream to it; null while all is well. */
  error: string | null
  /** True when the slave has stopped applying (diverged, or an entry failed) until it is restarted; absent from older masters. */
  stopped?: boolean
  /** The snapshot being sent to it (its position was before the log's start), or null; absent from older masters. */
  snapshot?: { offset: number; rowsSent: number; rowsEstimate: number } | null
  /** When the master last heard from the slave, in ms since the epoch (kept across master restarts); absent from older masters. */
  lastSeen?: number
}

/** A slave's replication filters (ddb slave --replicate-db / --ignore-db); both empty: everything applies. */
export interface ReplicationFilters {
  /** When not empty, only entries in one of these databases apply. */
  replicateDb: string[]
  /** Entries in one of these databases are skipped (unless replicateDb names them). */
  ignoreDb: string[]
}

/** A master's synchronous replication, as `ddb status` shows it. */
export interface SyncStatus {
  /** --sync-replicas: slaves that must have applied a write before it is answered (0: asynchronous). */
  replicas: number
  timeoutMs: number
  fallback: 'async' | 'block'
  /** async: not configured; sync: writes wait; fallen-back: a timeout made writes asynchronous until enough slaves are at the head. */
  state: 'async' | 'sync' | 'fallen-back'
  /** Times it fell back since the master started. */
  fallbacks: number
  /** Writes waiting for slaves now. */
  waiting: number
}

export type NodeStatus =
  | {
      role: 'master'
      offset: number
      logId: string
      store: string
      /** The SQL its store speaks (ddb checksum compares other kinds in the neutral form); absent from older masters. */
      dialect?: 'mysql' | 'sqlite'
      /** Why the master refuses writes for now (its log cannot be written: disk full …), or null; absent from older masters. */
      readOnly?: string | null
      /** Its epoch: each promotion starts a higher one; absent from older masters. */
      epoch?: number
      /** The log starts after this offset (0: it holds every entry; more once pruned); absent from older masters. */
      logStart?: number
      /** Every registered slave, connected or not (older masters: those attached since they started). */
      replicas: ReplicaStatus[]
      /** Synchronous replication (--sync-replicas); absent from older masters. */
      sync?: SyncStatus
    }
  | {
      role: 'slave'
      master: string
      applied: number
      connected: boolean
      /** Null (unknown) while disconnected or stopped. */
      lagEntries: number | null
      lagSeconds: number | null
      store: string
      /** The SQL its store speaks; absent from older slaves. */
      dialect?: 'mysql' | 'sqlite'
      /** Why it stopped applying, or why the link to the master does not work (unreachable, refused …); null while all is well. */
      error: string | null
      /** True when it has stopped applying (diverged, or an entry failed) until restarted; absent from older slaves. */
      stopped?: boolean
      /** Absent from slaves that predate filters. */
      filters?: ReplicationFilters
      /** The master's snapshot being loaded (its position was before the log's start), or null; absent from older slaves. */
      snapshot?: SnapshotLoadStatus | null
      /** The slave's own log (its copy of the master's): its file, id, start and newest offset; absent from older slaves. */
      log?: { path: string; id: string; start: number; offset: number }
      /** The highest master epoch it has followed; absent from older slaves. */
      epoch?: number
      /** The slaves that follow this one (a cascade); absent from older slaves. */
      replicas?: ReplicaStatus[]
    }

/** Where a slave's load of a snapshot stands. */
export interface SnapshotLoadStatus {
  id: string
  offset: number
  rows: number
  rowsEstimate: number
  bytes: number
  percent: number
  rowsPerSecond: number
}
