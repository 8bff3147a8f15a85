import { SNAPSHOT_LINGER_MS } from '../config.ts'
import { DdbError } from '../errors.ts'
import type { ReplicationLog } from '../log/replication-log.ts'
import type { Logger } from '../logger.ts'
import type { StoreSnapshot } from '../snapshot.ts'
import { hasDdl } from '../store/apply.ts'
import type { Store } from '../store/store.ts'
import type { OpenSnapshot } from '../stream/replica-session.ts'
import type { Writer } from './writer.ts'

/** Tries at opening a snapshot whose schema a DDL changed while it was read (MySQL), before giving up. */
const OPEN_ATTEMPTS = 5

interface Held {
  snapshot: StoreSnapshot
  /** Closes it once the slave has been gone SNAPSHOT_LINGER_MS. */
  linger: ReturnType<typeof setTimeout> | null
  /** Sessions sending it now (a slave that reconnects may resume it before its old connection is found dead). */
  users: number
  releasePin: () => void
}

/**
 * Snapshots keeps the consistent reads the master sends to slaves whose position is
 * before the log's start. Opening one holds the writer only while the store's read
 * view is taken (Writer.hold), so writes pause for that moment only; the snapshot
 * pins the log from its offset on, so retention keeps every entry the slave needs
 * after it. A slave that loses its connection mid-way finds its snapshot still open
 * for SNAPSHOT_LINGER_MS and goes on from the last chunk it committed.
 */
export class Snapshots {
  readonly #store: Store
  readonly #log: ReplicationLog
  readonly #writer: Writer
  readonly #logger: Logger
  /** Keeps the log's entries after `offset` until released. */
  readonly #pin: (offset: number) => () => void
  readonly #held = new Map<string, Held>()

  constructor(store: Store, log: ReplicationLog, writer: Writer, logger: Logger, pin: (offset: number) => () => void) {
    this.#store = store
    this.#log = log
    this.#writer = writer
    this.#logger = logger
    this.#pin = pin
  }

  /** The snapshot `resumeId` if it is still open, else a new one at the published offset. */
  async open(slave: string, resumeId: string | undefined): Promise<OpenSnapshot> {
    const held = resumeId === undefined ? undefined : this.#held.get(resumeId)
    if (held && resumeId !== undefined) {
      if (held.linger) clearTimeout(held.linger)
      held.linger = null
      held.users++
      this.#logger.info('snapshot resumed', { slave, id: resumeId, offset: held.snapshot.offset })
      return { id: resumeId, snapshot: held.snapshot, resumed: true, dialect: this.#store.kind }
    }
    const { snapshot, writePauseMs } = await this.#openConsistent()
    const id = crypto.randomUUID()
    this.#held.set(id, { snapshot, linger: null, users: 1, releasePin: this.#pin(snapshot.offset) })
    const tables = snapshot.schema.tables
    this.#logger.info('snapshot opened', {
      slave,
      id,
      offset: snapshot.offset,
      tables: tables.length,
      rows: tables.reduce((n, t) => n + t.rowsEstimate, 0),
      writePauseMs,
    })
    return { id, snapshot, resumed: false, dialect: this.#store.kind }
  }

  /**
   * A snapshot whose schema is that of its offset. Writes pause only while the read view
   * is taken; the schema is read after (MySQL's is outside the view), so a DDL that
   * committed in between shows in the log after the snapshot's offset: then it is taken again.
   */
  async #openConsistent(): Promise<{ snapshot: StoreSnapshot; writePauseMs: number }> {
    for (let attempt = 1; ; attempt++) {
      let writePauseMs = 0
      const snapshot = await this.#store.openSnapshot((takeView) =>
        this.#writer.hold(async () => {
          const started = performance.now()
          await takeView()
          writePauseMs = Math.round((performance.now() - started) * 100) / 100
        }),
      )
      if (!this.#ddlSince(snapshot.offset)) return { snapshot, writePauseMs }
      await snapshot.close()
      if (attempt === OPEN_ATTEMPTS)
        throw new Error(`snapshot: DDL kept changing the schema while it was read (${attempt} tries)`)
    }
  }

  /** True when an entry after `offset` holds DDL (MySQL only: SQLite's schema is read inside the view). */
  #ddlSince(offset: number): boolean {
    if (!this.#store.ddlCommitsImplicitly) return false
    for (let after = offset; after < this.#log.lastOffset(); ) {
      const page = this.#log.readAfter(after, 1_000)
      if (page.length === 0) return false
      if (page.some(hasDdl)) return true
      after = page[page.length - 1]!.offset
    }
    return false
  }

  /**
   * Before a DDL runs on MySQL: an open snapshot's transaction holds metadata locks on
   * the tables it read, which would stall the DDL, and every write queued behind it, until
   * the snapshot ends. The DDL goes first; the slaves loading these snapshots start new ones.
   */
  async abortForDdl(): Promise<void> {
    if (!this.#store.ddlCommitsImplicitly || this.#held.size === 0) return
    this.#logger.warn('closing the snapshots being sent, for a DDL; their slaves will start new ones', {
      snapshots: this.#held.size,
    })
    await this.close()
  }

  /** The open snapshot `id` (a checksum's), or a one-line error when it is gone. */
  get(id: string): StoreSnapshot {
    const held = this.#held.get(id)
    if (!held)
      throw new DdbError(
        'CHECKSUM',
        `the master's consistent read ${id} is closed (a DDL ran, or it waited too long): run the checksum again`,
      )
    return held.snapshot
  }

  /** The slave has it all (done) or went away (kept a while for it to come back). */
  release(id: string, done: boolean): void {
    const held = this.#held.get(id)
    if (!held) return
    if (done) return void this.#close(id)
    held.users = Math.max(0, held.users - 1)
    if (held.users > 0) return
    held.linger ??= setTimeout(() => {
      this.#logger.info('snapshot closed: the slave did not come back for it', { id })
      void this.#close(id)
    }, SNAPSHOT_LINGER_MS)
    held.linger.unref()
  }

  async #close(id: string): Promise<void> {
    const held = this.#held.get(id)
    if (!held) return
    this.#held.delete(id)
    if (held.linger) clearTimeout(held.linger)
    held.releasePin()
    await held.snapshot.close().catch(() => {})
  }

  async close(): Promise<void> {
    await Promise.all([...this.#held.keys()].map((id) => this.#close(id)))
  }
}
