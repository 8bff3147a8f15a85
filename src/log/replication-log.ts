import { Database, type Statement as SqliteStatement } from 'bun:sqlite'
import { existsSync, statSync } from 'node:fs'
import { type Entry, type EntryDraft, entryChecksum, entryHash, legacyChecksum, sealEntry } from '../entry.ts'
import { DdbError } from '../errors.ts'
import { FileLock } from '../file-lock.ts'
import { REGISTRY_SCHEMA, ReplicaRegistry } from './replica-registry.ts'

/**
 * The log file format this ddb writes and reads (meta key 'format'); a newer one is refused,
 * never guessed at. 2: entries carry an epoch and a hash chain (a format-1 log is upgraded
 * when opened to write, and read as it is otherwise).
 */
export const LOG_FORMAT = 2

/** How hard a log commit pushes to disk (SQLite's synchronous pragma; see README). */
export type LogSync = 'full' | 'normal'

export interface LogOptions {
  /** full (default): every commit is fsynced; normal: a power loss may lose the last commits. */
  sync?: LogSync
  /** Open an existing log for reading only (ddb log tail); never creates the file. */
  readonly?: boolean
  /**
   * Who opens it to write (e.g. "master pid 12 on db1, started …"): the log is then
   * locked for this process alone, and another process that tries is refused, told this.
   */
  owner?: string
}

/** An entry whose stored content does not match its checksum, or cannot be read at all. */
export class CorruptEntryError extends DdbError {
  readonly offset: number

  constructor(offset: number, why = 'checksum mismatch') {
    super('LOG_CORRUPT', `log entry ${offset} is corrupt: ${why}`, {
      hint: 'the log file was damaged; restore it from a backup',
    })
    this.offset = offset
  }
}

interface EntryRow {
  offset: number
  ts: number
  db: string | null
  statements: string
  affected: string
  checksum: number
  time_zone: string | null
  /** Null, or absent in a format-1 log opened read-only. */
  epoch?: number | null
  hash?: string | null
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
  offset     INTEGER PRIMARY KEY,
  ts         INTEGER NOT NULL,
  db         TEXT,
  statements TEXT NOT NULL,
  affected   TEXT NOT NULL,
  checksum   INTEGER NOT NULL,
  time_zone  TEXT,
  epoch      INTEGER,
  hash       TEXT
);`

/** Pages incremental_vacuum frees per step (4 MiB of 4 KiB pages): each step is one short write the writer waits behind. */
const VACUUM_STEP_PAGES = 1_000

/** An entry that does not continue the log's chain: the log and whoever sent it have different histories from there. */
export class ForkError extends DdbError {
  readonly offset: number

  constructor(path: string, offset: number) {
    super('LOG_FORK', `log ${path} and its master's history differ at entry ${offset} (their hashes do not chain)`, {
      hint: 'this node holds entries its master never had: restart it with --rejoin (they are saved to a file, and it rebuilds from its master)',
    })
    this.offset = offset
  }
}

/**
 * ReplicationLog is a node's durable, append-only list of entries in one SQLite
 * file (WAL mode): the master's, and each slave's copy of it (same id, offsets,
 * hashes). Offsets are the rowid: 1, 2, 3 … with no gaps, so a read from any
 * offset is an index seek. Each entry's hash chains it to the one before (the
 * start's hash, `start_hash`, stands for the entries pruned). Entries are never
 * changed. They are removed from the oldest end (pruning, which moves the
 * start), and from the newest end only for a logged DDL that then failed.
 */
export class ReplicationLog {
  readonly path: string
  #id: string
  readonly #db: Database
  /** Prepared at the first append: a reader of a format-1 log (not upgraded) has no such columns. */
  #insert: SqliteStatement | null = null
  readonly #readFrom: SqliteStatement<EntryRow, [number, number]>
  readonly #tsOf: SqliteStatement<{ ts: number }, [number]>
  readonly #lock: FileLock | null
  #last: number
  #start: number
  /** The newest entry's hash (the start's when the log holds none); null: unknown (a log that began mid-history before hashes). */
  #lastHash: string | null
  #epoch: number
  /** False for a format-1 log opened read-only (not upgraded): it has no hashes. */
  readonly #chained: boolean
  /** Entries whose hash is known to link them to a given previous hash (sealed here, or checked by chainsTo): append does not hash them again. */
  readonly #linkedTo = new WeakMap<Entry, string>()
  /** Meta 'rebuild': the node's store must be rebuilt by snapshot (see markRebuild). */
  #rebuild: boolean
  #replicas: ReplicaRegistry | null = null

  private constructor(path: string, db: Database, lock: FileLock | null) {
    this.path = path
    this.#db = db
    this.#lock = lock
    this.#id = metaValue(db, 'log_id')!
    this.#readFrom = db.prepare(`SELECT * FROM entries WHERE offset > ? ORDER BY offset LIMIT ?`)
    this.#tsOf = db.prepare(`SELECT ts FROM entries WHERE offset = ?`)
    this.#start = Number(metaValue(db, 'start') ?? 0)
    this.#last = this.#readLast()
    this.#chained = (db.query(`PRAGMA table_info(entries)`).all() as Array<{ name: string }>).some(
      (c) => c.name === 'hash',
    )
    this.#lastHash = this.hashAt(this.#last)
    this.#epoch = Number(metaValue(db, 'epoch') ?? 1)
    this.#rebuild = metaValue(db, 'rebuild') !== null
  }

  /** The history this log holds: the master's log id, which its slaves' logs share. */
  get id(): string {
    return this.#id
  }

  /** The highest epoch this log has seen (its own entries', or a master's it followed). */
  get epoch(): number {
    return this.#epoch
  }

  /** The hash of the entry at `offset` (the start's hash at the start), or null when the log does not hold it or does not know. */
  hashAt(offset: number): string | null {
    if (!this.#chained || offset < this.#start) return null
    if (offset === this.#start) return metaValue(this.#db, 'start_hash')
    const row = this.#db.query(`SELECT hash FROM entries WHERE offset = ?`).get(offset) as { hash: string } | null
    return row?.hash ?? null
  }

  /** The newest entry's hash: what the next entry must chain to (null: unknown, any will do). */
  get lastHash(): string | null {
    return this.#lastHash
  }

  /**
   * Makes this log a copy of history `id` that starts after `offset`, whose entry there
   * hashed to `hash` (null: unknown), at epoch `epoch`: what a slave's log becomes when
   * its store takes over a snapshot, or begins following a master. Every entry goes.
   */
  reset(id: string, offset: number, hash: string | null, epoch: number): void {
    this.#db.transaction(() => {
      this.#db.query(`DELETE FROM entries`).run()
      const set = this.#db.query(`INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`)
      set.run('log_id', id)
      set.run('start', String(offset))
      if (hash === null) this.#db.query(`DELETE FROM meta WHERE key = 'start_hash'`).run()
      else set.run('start_hash', hash)
      this.#db.query(`DELETE FROM meta WHERE key = 'rebuild'`).run()
    })()
    this.#id = id
    this.#start = offset
    this.#last = offset
    this.#lastHash = hash
    this.#rebuild = false
    this.raiseEpoch(epoch)
  }

  /** True while the node's store holds entries this log's history does not (a rejoin): it needs a snapshot. */
  get rebuildPending(): boolean {
    return this.#rebuild
  }

  /** Records that the store must be rebuilt by snapshot (until reset() starts the log afresh at one). */
  markRebuild(): void {
    this.#db.query(`INSERT OR REPLACE INTO meta (key, value) VALUES ('rebuild', ?)`).run(String(Date.now()))
    this.#rebuild = true
  }

  /** Whether `e`'s hash links it to `previous` (the hash of the entry before it); a checked entry is not hashed again by append. */
  chainsTo(previous: string, e: Entry): boolean {
    if (this.#linkedTo.get(e) === previous) return true
    if (entryHash(previous, e) !== e.hash) return false
    this.#linkedTo.set(e, previous)
    return true
  }

  /** The epoch of a newer master this log's master learned of (it is fenced until it rejoins as a slave), or null. */
  get fencedBy(): number | null {
    const value = metaValue(this.#db, 'fenced_by')
    return value === null || Number(value) <= this.#epoch ? null : Number(value)
  }

  /** Records that a master of `epoch` exists: kept across restarts, so an old master stays fenced. */
  recordFence(epoch: number): void {
    this.#db.query(`INSERT OR REPLACE INTO meta (key, value) VALUES ('fenced_by', ?)`).run(String(epoch))
  }

  /** Records a higher epoch (never a lower one). */
  raiseEpoch(epoch: number): void {
    if (epoch <= this.#epoch) return
    this.#db.query(`INSERT OR REPLACE INTO meta (key, value) VALUES ('epoch', ?)`).run(String(epoch))
    this.#epoch = epoch
  }

  /** The newest offset: the newest entry's, or the start when every entry was pruned. */
  #readLast(): number {
    const newest = this.#db.query(`SELECT coalesce(max(offset), 0) AS last FROM entries`).get() as { last: number }
    return Math.max(newest.last, this.#start)
  }

  /**
   * Opens (creating unless readonly) the log at `path`. A file that is not a ddb
   * log (a store, say) or is of a newer format is refused before anything in it changes.
   */
  static open(path: string, options: LogOptions = {}): ReplicationLog {
    if (options.readonly && !existsSync(path)) {
      throw new DdbError('LOG_NOT_FOUND', `open log ${path}: no such file`, {
        hint: "pass the master's log file with --log",
      })
    }
    const lock = options.owner === undefined ? null : lockLog(path)
    let db: Database | undefined
    try {
      db = new Database(path, options.readonly ? { readonly: true } : { create: true, readwrite: true })
      db.exec('PRAGMA busy_timeout = 5000')
      checkIsLog(db, path)
      if (!options.readonly) {
        // Only takes effect before the first table is created: a new log can give pruned pages back to
        // the file system; a log of an older ddb is converted by its first prune (reclaimSpace).
        db.exec('PRAGMA auto_vacuum = INCREMENTAL')
        db.exec('PRAGMA journal_mode = WAL')
        db.exec(`PRAGMA synchronous = ${options.sync === 'normal' ? 'NORMAL' : 'FULL'}`)
        db.exec(SCHEMA)
        db.exec(REGISTRY_SCHEMA)
        upgrade(db)
        const setMeta = db.query(`INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)`)
        // A new log's chain begins at '' (a log that is reset to begin mid-history may not know its start's hash).
        if (metaValue(db, 'log_id') === null) setMeta.run('start_hash', '')
        setMeta.run('log_id', crypto.randomUUID())
        setMeta.run('format', String(LOG_FORMAT))
        if (options.owner !== undefined)
          db.query(`INSERT OR REPLACE INTO meta (key, value) VALUES ('owner', ?)`).run(options.owner)
      }
      db.query(`SELECT 1 FROM entries LIMIT 1`).all()
    } catch (err) {
      db?.close()
      lock?.release()
      if (err instanceof DdbError) throw err
      throw new DdbError('LOG_OPEN', `open log ${path}: ${(err as Error).message}`, {
        cause: err,
        hint: 'is it a ddb log file, and is its directory writable?',
      })
    }
    return new ReplicationLog(path, db, lock)
  }

  /** The offset of the newest entry (0 when empty). Re-read from disk for a readonly log. */
  lastOffset(): number {
    return this.#last
  }

  /**
   * The offset the log starts after: entries up to it are not in the log (the data a
   * master adopted with its store, or entries pruned). A store at an offset before it
   * cannot follow the log entry by entry; it needs a snapshot. 0: the log holds every entry.
   */
  get start(): number {
    return this.#start
  }

  /** Moves the start (never back): entries up to `offset` are no longer needed by anyone following the log. */
  setStart(offset: number): void {
    if (offset < this.#start)
      throw new DdbError('LOG_START', `log ${this.path} starts after ${this.#start}, not ${offset}`)
    this.#db.query(`INSERT OR REPLACE INTO meta (key, value) VALUES ('start', ?)`).run(String(offset))
    this.#start = offset
    this.#last = Math.max(this.#last, offset)
  }

  /** The slaves this log's master has taken on (the master's only: a reader never opens it). */
  get replicas(): ReplicaRegistry {
    this.#replicas ??= new ReplicaRegistry(this.#db)
    return this.#replicas
  }

  /** Reads the start and the newest offset from the file: for readers following a log another process appends to (and prunes). */
  refresh(): number {
    this.#start = Number(metaValue(this.#db, 'start') ?? 0)
    this.#last = this.#readLast()
    return this.#last
  }

  /** Gives drafts the next offsets, this log's epoch, their hashes and checksums, without writing anything. */
  prepare(drafts: EntryDraft[]): Entry[] {
    let previous = this.#lastHash ?? ''
    return drafts.map((d, i) => {
      const e = sealEntry(previous, {
        offset: this.#last + 1 + i,
        ts: d.ts,
        db: d.db,
        ...(d.timeZone ? { timeZone: d.timeZone } : {}),
        statements: d.statements,
        affected: d.affected,
        epoch: this.#epoch,
      })
      this.#linkedTo.set(e, previous)
      previous = e.hash
      return e
    })
  }

  /**
   * Appends entries that continue the log (from prepare, recovered, or a master's) in one
   * durable commit. Each must chain to the one before (ForkError: nothing is written).
   */
  append(entries: Entry[]): void {
    if (entries.length === 0) return
    if (entries[0]!.offset !== this.#last + 1) {
      throw new DdbError(
        'LOG_GAP',
        `append to log ${this.path}: entry ${entries[0]!.offset} does not follow ${this.#last}`,
      )
    }
    let previous = this.#lastHash
    for (const e of entries) {
      if (previous !== null && !this.chainsTo(previous, e)) throw new ForkError(this.path, e.offset)
      previous = e.hash
    }
    const epoch = Math.max(...entries.map((e) => e.epoch))
    this.#insert ??= this.#db.prepare(
      `INSERT INTO entries (offset, ts, db, statements, affected, checksum, time_zone, epoch, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const insert = this.#insert
    try {
      this.#db.transaction(() => {
        for (const e of entries) {
          insert.run(
            e.offset,
            e.ts,
            e.db,
            JSON.stringify(e.statements),
            JSON.stringify(e.affected),
            e.checksum,
            e.timeZone ?? null,
            e.epoch,
            e.hash,
          )
        }
        this.raiseEpoch(epoch)
      })()
    } catch (err) {
      this.#epoch = Number(metaValue(this.#db, 'epoch') ?? 1) // rolled back with the entries
      this.#abandon()
      throw logWriteError(this.path, err)
    }
    this.#last = entries[entries.length - 1]!.offset
    this.#lastHash = previous
  }

  /** Throws as append would if the log cannot be written now (a full disk): a small write, kept in meta. */
  checkWritable(): void {
    try {
      this.#db.query(`INSERT OR REPLACE INTO meta (key, value) VALUES ('writable_at', ?)`).run(String(Date.now()))
    } catch (err) {
      this.#abandon()
      throw logWriteError(this.path, err)
    }
  }

  /** After a failed write: SQLite may leave the transaction open (a failed COMMIT); end it, so the next write can begin. */
  #abandon(): void {
    if (!this.#db.inTransaction) return
    try {
      this.#db.exec('ROLLBACK')
    } catch {
      // already gone with the error
    }
  }

  /**
   * Entries with offset > `after`, oldest first, at most `limit`; each checksum verified.
   * Entries up to the start are gone: a read from before it is refused (LOG_PRUNED), never
   * answered with a gap (also when another process pruned since this reader's refresh).
   */
  readAfter(after: number, limit: number): Entry[] {
    if (after < this.#start) throw prunedError(this.path, after, this.#start)
    let rows: EntryRow[]
    try {
      rows = this.#readFrom.all(after, limit)
    } catch (err) {
      // A damaged file: SQLite's own word for it ("database disk image is malformed"), with where.
      throw new DdbError('LOG_CORRUPT', `read log ${this.path} after entry ${after}: ${(err as Error).message}`, {
        cause: err,
        hint: 'the log file was damaged; restore it from a backup',
      })
    }
    if (rows.length > 0 && rows[0]!.offset !== after + 1) {
      this.refresh()
      throw prunedError(this.path, after, Math.max(this.#start, rows[0]!.offset - 1))
    }
    return rows.map(rowToEntry)
  }

  /** The entry at `offset`, or null (also when it was pruned). */
  get(offset: number): Entry | null {
    if (offset <= this.#start) return null
    return this.readAfter(offset - 1, 1).find((e) => e.offset === offset) ?? null
  }

  /** When the entry at `offset` ran (the master's clock, ms), or null if the log does not hold it. */
  timeOf(offset: number): number | null {
    return this.#tsOf.get(offset)?.ts ?? null
  }

  /**
   * The newest offset whose entry ran before `ts` (the start if none did), by binary search:
   * entries' times follow their offsets (a master clock that stepped back only keeps some longer).
   */
  newestBefore(ts: number): number {
    let [before, notBefore] = [this.#start, this.#last + 1]
    while (notBefore - before > 1) {
      const mid = Math.floor((before + notBefore) / 2)
      const t = this.timeOf(mid)
      if (t !== null && t < ts) before = mid
      else notBefore = mid
    }
    return before
  }

  /** The bytes the log's pages in use take (the file less its free pages, not counting the WAL). */
  usedBytes(): number {
    return (this.#pragma('page_count') - this.#pragma('freelist_count')) * this.#pragma('page_size')
  }

  /**
   * The offsets after `after` (up to `limit` of them) with the bytes each entry's content
   * takes, oldest first: what --retain-bytes weighs.
   */
  sizesAfter(after: number, limit: number): Array<{ offset: number; bytes: number }> {
    return this.#db
      .query(
        `SELECT offset, length(CAST(statements AS BLOB)) + length(CAST(affected AS BLOB)) + coalesce(length(CAST(db AS BLOB)), 0) + 32 AS bytes
         FROM entries WHERE offset > ? ORDER BY offset LIMIT ?`,
      )
      .all(after, limit) as Array<{ offset: number; bytes: number }>
  }

  /**
   * Removes the oldest entries, up to `offset` but at most `limit` of them, and moves the
   * start past them in the same commit (so a crash leaves no gap the start does not say);
   * returns the new start. The caller decides what may go (never a published entry a slave needs).
   */
  removeThrough(offset: number, limit: number): number {
    const upTo = Math.min(offset, this.#start + limit, this.#last)
    if (upTo <= this.#start) return this.#start
    try {
      this.#db.transaction(() => {
        const hash = this.hashAt(upTo)
        this.#db.query(`DELETE FROM entries WHERE offset <= ?`).run(upTo)
        if (hash !== null) this.#db.query(`INSERT OR REPLACE INTO meta (key, value) VALUES ('start_hash', ?)`).run(hash)
        this.setStart(upTo)
      })()
    } catch (err) {
      this.#start = Number(metaValue(this.#db, 'start') ?? 0) // the transaction rolled back: as it was
      this.#abandon()
      throw logWriteError(this.path, err)
    }
    return upTo
  }

  /**
   * Gives the pages that removed entries freed back to the file system, one short step at a
   * time (`step` is called between them, so the writer is never held long), then truncates
   * the WAL. A log of an older ddb (no auto_vacuum) is converted once, by a VACUUM that
   * rewrites what it still holds. Returns the bytes the file and its WAL take afterwards.
   */
  async reclaimSpace(step: () => Promise<void>): Promise<number> {
    if (this.#pragma('auto_vacuum') !== INCREMENTAL) {
      this.#db.exec('PRAGMA auto_vacuum = INCREMENTAL')
      this.#db.exec('VACUUM')
    }
    for (let free = this.#pragma('freelist_count'); free > 0; ) {
      this.#db.exec(`PRAGMA incremental_vacuum(${VACUUM_STEP_PAGES})`)
      const left = this.#pragma('freelist_count')
      if (left >= free) break // nothing more it can give back
      free = left
      await step()
    }
    // A reader (ddb log tail) may hold the WAL for a moment: wait for it briefly, never for long.
    this.#db.exec('PRAGMA busy_timeout = 100')
    try {
      this.#db.query('PRAGMA wal_checkpoint(TRUNCATE)').get()
    } finally {
      this.#db.exec('PRAGMA busy_timeout = 5000')
    }
    return fileBytes(this.path)
  }

  #pragma(name: string): number {
    return Object.values(this.#db.query(`PRAGMA ${name}`).get() as object)[0] as number
  }

  /** Removes every entry after `offset` (a logged MySQL DDL that failed; never a published entry). */
  truncateAfter(offset: number): void {
    this.#db.query(`DELETE FROM entries WHERE offset > ?`).run(offset)
    this.#last = Math.min(this.#last, offset)
    this.#lastHash = this.hashAt(this.#last)
  }

  close(): void {
    this.#db.close()
    this.#lock?.release() // after the connection: see FileLock
  }
}

/** SQLite's auto_vacuum = INCREMENTAL. */
const INCREMENTAL = 2

/** What the log file and its WAL take on disk. */
function fileBytes(path: string): number {
  return [path, `${path}-wal`].reduce((sum, p) => sum + (existsSync(p) ? statSync(p).size : 0), 0)
}

/** A read from before the log's start: those entries were pruned (or never in this log). */
function prunedError(path: string, after: number, start: number): DdbError {
  return new DdbError(
    'LOG_PRUNED',
    `read log ${path} after entry ${after}: the log starts after entry ${start} (the entries before were pruned)`,
    { hint: 'a store behind the log start needs a snapshot of the master' },
  )
}

/** A failed log write, in the operator's words (SQLite's "database or disk is full", with the file). */
function logWriteError(path: string, err: unknown): DdbError {
  const code = (err as { code?: unknown }).code
  const full = code === 'SQLITE_FULL' || /disk is full/.test((err as Error).message)
  return new DdbError('LOG_WRITE', `write log ${path}: ${full ? 'disk full' : (err as Error).message}`, { cause: err })
}

/** Locks the log for this process, or says who holds it (the owner it recorded in its meta table). */
function lockLog(path: string): FileLock {
  let lock: FileLock | null
  try {
    lock = FileLock.tryAcquire(path)
  } catch (err) {
    throw new DdbError('LOG_OPEN', `open log ${path}: ${(err as Error).message}`, {
      cause: err,
      hint: 'is its directory writable?',
    })
  }
  if (lock) return lock
  throw new DdbError('LOG_IN_USE', `open log ${path}: in use by ${recordedOwner(path) ?? 'another ddb process'}`, {
    hint: 'one node writes a log: stop that one first, or give this node a --log of its own',
  })
}

/** The owner a running node recorded in the log, read without disturbing it. */
function recordedOwner(path: string): string | null {
  try {
    const db = new Database(path, { readonly: true })
    try {
      return (db.query(`SELECT value FROM meta WHERE key = 'owner'`).get() as { value: string } | null)?.value ?? null
    } finally {
      db.close()
    }
  } catch {
    return null
  }
}

/** Refuses a file that holds something other than a ddb log, or a log of a format this ddb does not know. */
function checkIsLog(db: Database, path: string): void {
  const tables = (db.query(`SELECT name FROM sqlite_schema WHERE type = 'table'`).all() as Array<{ name: string }>).map(
    (t) => t.name,
  )
  if (tables.length === 0) return // a new log
  const logId = tables.includes('meta') && tables.includes('entries') ? metaValue(db, 'log_id') : null
  if (logId === null) {
    const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? ', …' : '')
    throw new DdbError('NOT_A_LOG', `open log ${path}: not a ddb replication log (it holds tables ${shown})`, {
      hint: tables.includes('ddb_state')
        ? 'that is a ddb store: pass it with --db, and the log with --log'
        : "pass the master's log file with --log",
    })
  }
  const format = Number(metaValue(db, 'format') ?? LOG_FORMAT)
  if (format > LOG_FORMAT) {
    throw new DdbError(
      'LOG_FORMAT',
      `open log ${path}: log format ${format} is newer than this ddb reads (${LOG_FORMAT})`,
      {
        hint: 'run the ddb version that wrote it, or a newer one',
      },
    )
  }
}

function metaValue(db: Database, key: string): string | null {
  return (db.query(`SELECT value FROM meta WHERE key = ?`).get(key) as { value: string } | null)?.value ?? null
}

/**
 * Entries of a format-1 log (no epoch, no hash) gain them: epoch 1, and the chain from the
 * log's start (its hash unknown: ''), each checksum verified the old way and sealed anew,
 * in one transaction. Older logs still gain the time zone column first.
 */
function upgrade(db: Database): void {
  const columns = (db.query(`PRAGMA table_info(entries)`).all() as Array<{ name: string }>).map((c) => c.name)
  if (!columns.includes('time_zone')) db.exec(`ALTER TABLE entries ADD COLUMN time_zone TEXT`)
  if (columns.includes('hash')) return
  db.transaction(() => {
    db.exec(`ALTER TABLE entries ADD COLUMN epoch INTEGER`)
    db.exec(`ALTER TABLE entries ADD COLUMN hash TEXT`)
    const seal = db.prepare(`UPDATE entries SET epoch = ?, hash = ?, checksum = ? WHERE offset = ?`)
    db.query(`INSERT OR IGNORE INTO meta (key, value) VALUES ('start_hash', '')`).run()
    let previous = metaValue(db, 'start_hash')!
    for (const row of db.query(`SELECT * FROM entries ORDER BY offset`).iterate() as Iterable<EntryRow>) {
      const e = sealEntry(previous, { ...contentOf(row), epoch: 1 })
      seal.run(e.epoch, e.hash, e.checksum, e.offset)
      previous = e.hash
    }
    db.query(`INSERT OR REPLACE INTO meta (key, value) VALUES ('format', ?)`).run(String(LOG_FORMAT))
  })()
}

/** A row's content, or CorruptEntryError when it cannot be read. */
function contentOf(row: EntryRow): Omit<Entry, 'epoch' | 'hash' | 'checksum'> {
  let entry: Omit<Entry, 'epoch' | 'hash' | 'checksum'>
  try {
    entry = {
      offset: row.offset,
      ts: row.ts,
      db: row.db,
      ...(row.time_zone ? { timeZone: row.time_zone } : {}),
      statements: JSON.parse(row.statements),
      affected: JSON.parse(row.affected),
    }
  } catch {
    throw new CorruptEntryError(row.offset, 'its content is not readable')
  }
  // A format-1 row (read-only, before its log is upgraded) is checked as that ddb wrote it.
  if (!row.hash && legacyChecksum(entry) !== row.checksum) throw new CorruptEntryError(row.offset)
  return entry
}

function rowToEntry(row: EntryRow): Entry {
  const content = contentOf(row)
  const entry: Entry = { ...content, epoch: row.epoch ?? 1, hash: row.hash ?? '', checksum: row.checksum }
  if (!row.hash) return { ...entry, checksum: entryChecksum(entry) }
  if (entryChecksum(entry) !== row.checksum) throw new CorruptEntryError(row.offset)
  return entry
}
