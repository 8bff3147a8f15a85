import {
  CATCH_UP_PAGE_ENTRIES,
  HEARTBEAT_MS,
  PEER_TIMEOUT_MS,
  SNAPSHOT_CHUNK_BYTES,
  SNAPSHOT_CHUNK_ROWS,
} from '../config.ts'
import type { Entry } from '../entry.ts'
import { DdbError, formatError } from '../errors.ts'
import type { ReplicationLog } from '../log/replication-log.ts'
import { LogThrottle } from '../log-throttle.ts'
import type { Logger } from '../logger.ts'
import type { OffsetWatch } from '../offset-watch.ts'
import type { StoreSnapshot } from '../snapshot.ts'
import { chunkChecksum } from '../snapshot.ts'
import { encodeFrame } from '../wire/frames.ts'
import type { Message, ReplicaStatus, SlaveHello, SnapshotResume } from '../wire/messages.ts'
import type { Peer } from '../wire/peer.ts'

/** Where a node's log grows: what may be streamed (a master's published offset, a slave's logged one). */
export interface LogFeed {
  readonly published: OffsetWatch
  /** The batch just published, if it starts right after `offset`: live slaves get it from memory. */
  publishedAfter(offset: number): Entry[] | null
}

/** A consistent read of the node's store, for a slave whose position is before the log's start. */
export interface OpenSnapshot {
  id: string
  snapshot: StoreSnapshot
  /** True when it is one a slave was loading before its connection ended (it goes on where it stopped). */
  resumed: boolean
  /** The SQL its store speaks. */
  dialect: 'mysql' | 'sqlite'
}

/** The master's snapshots (master/snapshots.ts), as a session sends one. */
export interface SnapshotSource {
  open(slave: string, resumeId: string | undefined): Promise<OpenSnapshot>
  /** Lets go of snapshot `id`; `done`: the slave took it over, so it need not be kept for a resume. */
  release(id: string, done: boolean): void
}

/** Chunks of a snapshot sent between two full garbage collections. */
const GC_EVERY_CHUNKS = 100

/** Stream failures logged per slave and reason once a minute: a slave retrying past a corrupt entry does not flood the log. */
const streamFailures = new LogThrottle()

/** What the node hears of a session: its connection ended; it acknowledged. */
export interface SessionHooks {
  closed?(session: ReplicaSession): void
  acked?(): void
}

/**
 * ReplicaSession streams the log to one attached slave: from the slave's
 * position, page by page from disk (catch-up), then each newly published entry
 * (live). Every send waits for the socket to drain when it is full, so however
 * far behind the slave is, the master holds at most one page for it.
 */
export class ReplicaSession {
  readonly id: string
  readonly address: string
  applied: number
  /** Why the slave stopped applying, as its last ack said. */
  error: string | null = null
  /** Why this master could not stream to it (a corrupt entry in the log), until it acks past that entry. */
  #streamError: { offset: number; message: string } | null = null
  #peer: Peer | null
  #lastHeard = Date.now()
  /** The last offset sent to the slave. */
  #sent = 0
  readonly #log: ReplicationLog
  readonly #feed: LogFeed
  readonly #logger: Logger
  /** Set when the slave's position is before the log's start: it gets a snapshot first. */
  readonly #snapshots: SnapshotSource | null
  /** Where the slave's load of a snapshot stood, as its hello said. */
  readonly #resume: SnapshotResume | null
  /** The snapshot being sent: its offset, and rows sent of about how many. */
  #snapshot: { offset: number; rowsSent: number; rowsEstimate: number } | null = null
  /** A snapshot sent whole, kept open until the slave acks that it took it over. */
  #sentSnapshot: { id: string; offset: number; snapshots: SnapshotSource } | null = null
  readonly #hooks: SessionHooks

  constructor(
    peer: Peer,
    hello: SlaveHello,
    log: ReplicationLog,
    feed: LogFeed,
    logger: Logger,
    hooks: SessionHooks = {},
    snapshots: SnapshotSource | null = null,
  ) {
    this.#peer = peer
    this.id = hello.slaveId
    this.address = hello.listen ?? peer.remoteAddress
    this.applied = hello.position
    this.#log = log
    this.#feed = feed
    this.#logger = logger.child({ slave: this.id })
    this.#snapshots = snapshots
    this.#resume = hello.snapshot ?? null
    this.#hooks = hooks
  }

  get connected(): boolean {
    return this.#peer !== null
  }

  /** When the master last heard from the slave (its hello, an ack), ms since the epoch. */
  get lastSeen(): number {
    return this.#lastHeard
  }

  /** Starts streaming, once the slave's welcome is on its way. */
  start(): void {
    this.#stream().catch((err) => this.#streamFailed(err))
  }

  /** Says why in the log (once a minute) and to the slave, which shows it in its status and backs off. */
  #streamFailed(err: unknown): void {
    const peer = this.#peer
    if (!peer || peer.closed) return // the connection ended: nothing went wrong with the stream
    const message = formatError(err)
    this.#streamError = { offset: this.#sent + 1, message }
    const held = streamFailures.pass(`${this.id}|${message}`)
    if (held !== null) {
      this.#logger.error('cannot stream to slave', { error: message, ...(held > 0 ? { timesSinceLast: held } : {}) })
    }
    const code = err instanceof DdbError ? err.code : 'INTERNAL'
    const hint = err instanceof DdbError ? err.hint : undefined
    peer.send({ type: 'error', id: null, code, message: (err as Error).message, hint }).catch(() => {})
    peer.close(null) // closed for the reason just logged (throttled), not again by the handshake's close log
  }

  /** Sends entries after the slave's position until the connection ends. */
  async #stream(): Promise<void> {
    const peer = this.#peer
    this.#sent = this.applied
    if (peer && this.#snapshots) {
      const offset = await this.#sendSnapshot(peer, this.#snapshots)
      if (offset === null) return
      this.#sent = offset
    }
    while (peer && !peer.closed) {
      const sent = this.#sent
      const published = this.#feed.published.current
      if (sent < published) {
        const entries =
          this.#feed.publishedAfter(sent) ??
          this.#log.readAfter(sent, Math.min(CATCH_UP_PAGE_ENTRIES, published - sent))
        await peer.sendFrame(entriesFrame(entries))
        this.#sent = entries[entries.length - 1]!.offset
        continue
      }
      const waited = await this.#feed.published.wait(sent + 1, HEARTBEAT_MS)
      if (waited === 'closed') return peer.close('master shutting down')
      if (waited === 'reached' || peer.closed) continue
      if (Date.now() - this.#lastHeard > PEER_TIMEOUT_MS) return peer.close(`slave silent for ${PEER_TIMEOUT_MS} ms`)
      await peer.send({ type: 'heartbeat', offset: published, ts: Date.now() })
    }
  }

  /**
   * Sends a snapshot (the one the slave was loading, if it is still open): its schema,
   * every table's rows in key order, chunk by chunk, each with its checksum. Each send
   * waits for the socket to drain, so the master holds one chunk at a time. Resolves with
   * the snapshot's offset (entries follow from the next one), or null if the connection ended.
   */
  async #sendSnapshot(peer: Peer, snapshots: SnapshotSource): Promise<number | null> {
    const { id, snapshot, resumed, dialect } = await snapshots.open(this.id, this.#resume?.id)
    const resume = resumed ? this.#resume : null
    const tables = snapshot.schema.tables
    this.#snapshot = {
      offset: snapshot.offset,
      rowsSent: 0,
      rowsEstimate: tables.reduce((n, t) => n + t.rowsEstimate, 0),
    }
    try {
      await peer.send({
        type: 'snapshot-begin',
        id,
        offset: snapshot.offset,
        logId: this.#log.id,
        schema: snapshot.schema,
        resume,
        dialect,
        hash: this.#log.hashAt(snapshot.offset),
        epoch: this.#log.epoch,
      })
      let chunks = 0
      for (let table = resume?.table ?? 0; table < tables.length; table++) {
        let after = table === resume?.table ? resume.after : null
        do {
          if (peer.closed) return null
          const chunk = await snapshot.rows(table, after, SNAPSHOT_CHUNK_ROWS, SNAPSHOT_CHUNK_BYTES)
          const checksum = chunkChecksum(chunk.rows)
          await peer.send({ type: 'snapshot-rows', id, table, rows: chunk.rows, next: chunk.next, checksum })
          this.#snapshot.rowsSent += chunk.rows.length
          after = chunk.next
          // A send that the socket takes at once does not yield: let the master's clients in between chunks.
          await new Promise((resolve) => setImmediate(resolve))
          // Every chunk is garbage once sent, but Bun lets the heap grow first: a full collection every
          // 100 chunks kept a master at 108–121 MB over a 1,000,000-row snapshot (148–155 MB without).
          if (++chunks % GC_EVERY_CHUNKS === 0) Bun.gc(true)
        } while (after !== null)
      }
      await peer.send({ type: 'snapshot-end', id })
      if (peer.closed) return null
      this.#logger.info('snapshot sent', { id, offset: snapshot.offset, rows: this.#snapshot.rowsSent })
      // Sent is not loaded (the chunks may wait in the sockets' buffers): the snapshot stays open, for a
      // slave killed before it took the data over, until the slave acks its offset.
      this.#sentSnapshot = { id, offset: snapshot.offset, snapshots }
      return snapshot.offset
    } finally {
      snapshots.release(id, false)
      this.#snapshot = null
    }
  }

  onMessage(m: Message): void {
    this.#lastHeard = Date.now()
    if (m.type !== 'ack') return this.#peer?.close(`unexpected ${m.type} message from a slave`)
    if (m.error && m.error !== this.error)
      this.#logger.error('slave stopped applying', { applied: m.applied, error: m.error })
    this.applied = m.applied
    this.error = m.error
    this.#hooks.acked?.()
    if (this.#sentSnapshot && m.applied >= this.#sentSnapshot.offset) {
      this.#sentSnapshot.snapshots.release(this.#sentSnapshot.id, true)
      this.#sentSnapshot = null
    }
    if (this.#streamError && m.applied >= this.#streamError.offset) this.#streamError = null
  }

  onClose(reason: string | null): void {
    this.#peer = null
    this.#hooks.closed?.(this)
    if (this.#streamError) return // said when the stream failed
    this.#logger.info('slave disconnected', { applied: this.applied, reason: reason ?? 'closed' })
  }

  /** Ends the connection (a newer connection from the same slave replaces it). */
  close(reason: string): void {
    this.#peer?.close(reason)
  }

  /** Lag is null (unknown) while the slave is disconnected. */
  status(): ReplicaStatus {
    const published = this.#feed.published.current
    const connected = this.connected
    return {
      id: this.id,
      address: this.address,
      applied: this.applied,
      connected,
      lagEntries: connected ? Math.max(0, published - this.applied) : null,
      lagSeconds: connected ? this.#lagSeconds(published) : null,
      error: this.error ?? this.#streamError?.message ?? null,
      stopped: this.error !== null,
      snapshot: this.#snapshot ? { ...this.#snapshot } : null,
      lastSeen: this.#lastHeard,
    }
  }

  /** How long ago the oldest entry the slave lacks ran; null if that entry cannot be read (a corrupt log). */
  #lagSeconds(published: number): number | null {
    if (this.applied >= published) return 0
    try {
      const next = this.#log.get(this.applied + 1)
      return next ? Math.max(0, (Date.now() - next.ts) / 1000) : 0
    } catch {
      return null
    }
  }
}

/** Entry pages already encoded, by page: the last published batch goes to every live slave, encoded once. */
const encodedPages = new WeakMap<Entry[], Uint8Array>()

function entriesFrame(entries: Entry[]): Uint8Array {
  let frame = encodedPages.get(entries)
  if (!frame) {
    frame = encodeFrame({ type: 'entries', entries })
    encodedPages.set(entries, frame)
  }
  return frame
}
