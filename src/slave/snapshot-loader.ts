import { DdbError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { chunkChecksum, type SnapshotSchema, type Staging } from '../snapshot.ts'
import type { Store, StoreState } from '../store/store.ts'
import type { ReplicationFilters, SnapshotLoadStatus, SnapshotMessage, SnapshotResume } from '../wire/messages.ts'
import type { SnapshotForm } from './applier.ts'
import { databaseApplies, filtersEmpty } from './filter.ts'
import { readSnapshotFile } from './snapshot-file.ts'

/** Chunks loaded between two full garbage collections: what keeps a slave's memory flat during a big snapshot. */
const GC_EVERY_CHUNKS = 100

/** How often a load in progress says where it stands in the slave's log. */
const PROGRESS_LOG_MS = 2_000

type LoadStatus = SnapshotLoadStatus

/** Where in the master's history a snapshot stands: its entry's hash (null: a master or file that does not say) and epoch. */
export interface SnapshotPoint {
  hash: string | null
  epoch: number
}

/** What the loader needs of the rest of the slave. */
export interface LoaderEvents {
  /** How this store takes the snapshot; null (and applying stopped, with the reason) when it may not take the master's data. */
  fits(
    logId: string,
    offset: number,
    schema: SnapshotSchema,
    dialect?: 'mysql' | 'sqlite',
  ): Promise<SnapshotForm | null>
  /** The store now holds the snapshot, at its offset (whose entry hashed to `at.hash`): entries continue after it. */
  tookOver(state: StoreState, at: SnapshotPoint): void
}

/**
 * SnapshotLoader loads a snapshot the master sends (its position was before the log's
 * start) into the store's staging, chunk by chunk, each chunk and the load's position in
 * one staging transaction, then has the store take it over in one step. A slave that
 * restarts mid-way says in its hello where its load stands, and goes on from there if the
 * master still has that snapshot; otherwise the master sends a new one and the staged
 * rows are thrown away.
 */
export class SnapshotLoader {
  readonly #store: Store
  readonly #filters: ReplicationFilters
  readonly #logger: Logger
  readonly #events: LoaderEvents
  #staging: Staging | null
  #schema: SnapshotSchema | null = null
  #status: (LoadStatus & { startedAt: number; rowsAtStart: number }) | null = null
  #lastLogged = 0
  /** Set when the store may not take the master's data: applying has stopped, and the rest of the snapshot is ignored. */
  #refused = false
  /** Each chunk's rows as the staging loads them (a MySQL master's as SQLite literals). */
  #rowsForm: SnapshotForm['rows'] = (rows) => rows
  /** Chunks loaded by this process, for the garbage collection hint. */
  #chunks = 0
  /** The snapshot being loaded: where in the master's history it stands. */
  #point: SnapshotPoint = { hash: null, epoch: 1 }
  /** True when open() finished a takeover a crash interrupted. */
  readonly finishedTakeover: boolean

  private constructor(
    store: Store,
    staging: Staging | null,
    filters: ReplicationFilters,
    logger: Logger,
    events: LoaderEvents,
    finishedTakeover: boolean,
  ) {
    this.finishedTakeover = finishedTakeover
    this.#store = store
    this.#staging = staging
    this.#filters = filters
    this.#logger = logger
    this.#events = events
  }

  /**
   * The loader of `store`, with the load its staging holds; a takeover a crash
   * interrupted is finished now, before the slave serves or applies anything.
   */
  static async open(
    store: Store,
    filters: ReplicationFilters,
    logger: Logger,
    events: LoaderEvents,
  ): Promise<SnapshotLoader> {
    const staging = await store.staging()
    const unfinished = staging?.unfinished
    if (staging && unfinished) {
      logger.warn('finishing the snapshot takeover a restart interrupted', { offset: staging.progress.offset })
      await staging.takeOver(unfinished)
      return new SnapshotLoader(store, null, filters, logger, events, true)
    }
    return new SnapshotLoader(store, staging, filters, logger, events, false)
  }

  /** For the hello: where the load in progress stands, if there is one. */
  get resume(): SnapshotResume | undefined {
    const p = this.#staging?.progress
    return p ? { id: p.id, table: p.table, after: p.after } : undefined
  }

  /** True while a snapshot is being loaded (the link must not drop a master it waits on). */
  get loading(): boolean {
    return this.#status !== null
  }

  get status(): LoadStatus | null {
    if (!this.#status) return null
    const { startedAt: _, rowsAtStart: __, ...status } = this.#status
    return status
  }

  /** One snapshot message; the link reads no more from the master until it resolves. */
  async receive(m: SnapshotMessage): Promise<void> {
    if (this.#refused) return
    switch (m.type) {
      case 'snapshot-begin':
        return this.#begin(m)
      case 'snapshot-rows':
        return this.#rows(m)
      case 'snapshot-end':
        return this.#end(m)
    }
  }

  async #begin(m: Extract<SnapshotMessage, { type: 'snapshot-begin' }>): Promise<void> {
    const form = await this.#events.fits(m.logId, m.offset, this.#filtered(m.schema), m.dialect)
    if (!form) {
      this.#refused = true // the applier stopped, and says why
      return
    }
    const { schema } = form
    this.#rowsForm = form.rows
    this.#point = { hash: m.hash ?? null, epoch: m.epoch ?? 1 }
    const resumed = m.resume !== null && this.#staging?.progress.id === m.id
    if (!resumed) {
      if (this.#staging)
        this.#logger.info('the master no longer has the snapshot being loaded; starting again', {
          id: this.#staging.progress.id,
        })
      await this.#staging?.discard()
      this.#staging = null
      this.#staging = await this.#store.beginStaging({ id: m.id, offset: m.offset, logId: m.logId })
      await this.#staging.create(schema)
    }
    this.#schema = schema
    const rows = this.#staging!.progress.rows
    const rowsEstimate = schema.tables.reduce((n, t) => n + t.rowsEstimate, 0)
    this.#status = {
      id: m.id,
      offset: m.offset,
      rows,
      rowsEstimate,
      bytes: this.#staging!.progress.bytes,
      percent: 0,
      rowsPerSecond: 0,
      startedAt: Date.now(),
      rowsAtStart: rows,
    }
    this.#logger.info(resumed ? 'snapshot load resumed' : 'snapshot load started', {
      id: m.id,
      offset: m.offset,
      tables: schema.tables.length,
      rowsEstimate,
      ...(resumed ? { rows, table: this.#staging!.progress.table } : {}),
    })
  }

  async #rows(m: Extract<SnapshotMessage, { type: 'snapshot-rows' }>): Promise<void> {
    const staging = this.#current(m.id)
    const table = this.#schema!.tables[m.table]
    if (!table || m.table !== staging.progress.table)
      throw new DdbError('SNAPSHOT', `snapshot chunk of table ${m.table} while loading table ${staging.progress.table}`)
    if (chunkChecksum(m.rows) !== m.checksum)
      throw new DdbError('SNAPSHOT', `snapshot chunk of table ${table.name} arrived corrupt (checksum mismatch)`)
    const bytes = JSON.stringify(m.rows).length
    await staging.load(m.table, { rows: this.#rowsForm(m.rows), next: m.next }, table.columns, bytes)
    this.#progressed(staging)
    // Each chunk is garbage once loaded; left to itself the heap grows with the snapshot (see ReplicaSession).
    if (++this.#chunks % GC_EVERY_CHUNKS === 0) Bun.gc(true)
  }

  async #end(m: Extract<SnapshotMessage, { type: 'snapshot-end' }>): Promise<void> {
    const staging = this.#current(m.id)
    const started = Date.now()
    await staging.takeOver(this.#schema!)
    this.#staging = null
    const status = this.#status!
    this.#logger.info("snapshot loaded; the store now holds the master's data at its offset", {
      id: m.id,
      offset: status.offset,
      rows: staging.progress.rows,
      bytes: staging.progress.bytes,
      takeoverMs: Date.now() - started,
    })
    this.#status = null
    this.#events.tookOver(await this.#store.readState(), this.#point)
  }

  /**
   * Loads a snapshot file (`ddb slave --from-snapshot`): as from the master, and after a
   * kill -9 from where the staging stands (the chunks it holds are skipped). Resolves
   * false when the store may not take it (the applier says why).
   */
  async loadFile(path: string): Promise<boolean> {
    let loaded: ((m: Extract<SnapshotMessage, { type: 'snapshot-rows' }>) => boolean) | null = null
    for await (const m of readSnapshotFile(path)) {
      if (m.type === 'snapshot-begin') {
        const p = this.#staging?.progress
        const resume = p && p.id === m.id ? { id: p.id, table: p.table, after: p.after } : null
        await this.receive({ ...m, resume })
        if (this.#refused) return false
        loaded = resume ? alreadyLoaded(resume) : null
      } else if (m.type === 'snapshot-end' || !loaded?.(m)) {
        await this.receive(m)
      }
    }
    return true
  }

  /** The connection ended: the staged chunks stay, for the next connection to go on from. */
  detached(): void {
    this.#status = null
  }

  #current(id: string): Staging {
    const staging = this.#staging
    if (!staging || staging.progress.id !== id || !this.#schema)
      throw new DdbError('SNAPSHOT', `snapshot ${id} was not begun`)
    return staging
  }

  #progressed(staging: Staging): void {
    const s = this.#status!
    s.rows = staging.progress.rows
    s.bytes = staging.progress.bytes
    s.percent = s.rowsEstimate > 0 ? Math.min(100, Math.round((s.rows / s.rowsEstimate) * 1000) / 10) : 100
    const seconds = (Date.now() - s.startedAt) / 1000
    s.rowsPerSecond = seconds > 0 ? Math.round((s.rows - s.rowsAtStart) / seconds) : 0
    if (Date.now() - this.#lastLogged < PROGRESS_LOG_MS) return
    this.#lastLogged = Date.now()
    this.#logger.info('snapshot loading', {
      rows: s.rows,
      of: s.rowsEstimate,
      percent: s.percent,
      mb: Math.round(s.bytes / 1e5) / 10,
      rowsPerSecond: s.rowsPerSecond,
    })
  }

  /** The schema with the databases the filters leave out marked skip (numbering kept: the master's chunks name tables by it). */
  #filtered(schema: SnapshotSchema): SnapshotSchema {
    if (filtersEmpty(this.#filters)) return schema
    const applies = (db: string | null) => db === null || databaseApplies(this.#filters, db)
    return {
      databases: schema.databases.map((d) => ({ ...d, skip: !applies(d.name) })),
      tables: schema.tables.map((t) => ({ ...t, skip: !applies(t.db) })),
      after: schema.after.filter((o) => applies(o.db)),
    }
  }
}

/** Which of a file's chunks a resumed staging holds already: those before its table, and in it up to its cursor. */
function alreadyLoaded(resume: SnapshotResume): (m: { table: number; next: unknown }) => boolean {
  let passed = resume.after === null
  return (m) => {
    if (m.table !== resume.table) return m.table < resume.table
    if (passed) return false
    passed = JSON.stringify(m.next) === JSON.stringify(resume.after)
    return true
  }
}
