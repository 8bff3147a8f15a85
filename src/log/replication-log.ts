import { Database, type Statement as SqliteStatement } from 'bun:sqlite'
import { existsSync } from 'node:fs'
import { type Entry, type EntryDraft, entryChecksum } from '../entry.ts'
import { DdbError } from '../errors.ts'

/** How hard a log commit pushes to disk (SQLite's synchronous pragma; see README). */
export type LogSync = 'full' | 'normal'

export interface LogOptions {
  /** full (default): every commit is fsynced; normal: a power loss may lose the last commits. */
  sync?: LogSync
  /** Open an existing log for reading only (ddb log tail); never creates the file. */
  readonly?: boolean
}

/** An entry whose stored checksum does not match its content. */
export class CorruptEntryError extends DdbError {
  constructor(offset: number) {
    super('LOG_CORRUPT', `log entry ${offset} is corrupt: checksum mismatch`, {
      hint: 'the log file was damaged; restore it from a backup',
    })
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
  time_zone  TEXT
);`

/**
 * ReplicationLog is the master's durable, append-only list of entries in one
 * SQLite file (WAL mode). Offsets are the rowid: 1, 2, 3 … with no gaps, so a
 * read from any offset is an index seek. Entries are never changed; the only
 * removal is of the newest entries, for a logged DDL that then failed.
 */
export class ReplicationLog {
  readonly path: string
  readonly id: string
  readonly #db: Database
  readonly #insert: SqliteStatement
  readonly #readFrom: SqliteStatement<EntryRow, [number, number]>
  #last: number

  private constructor(path: string, db: Database) {
    this.path = path
    this.#db = db
    this.id = (db.query(`SELECT value FROM meta WHERE key = 'log_id'`).get() as { value: string }).value
    this.#insert = db.prepare(
      `INSERT INTO entries (offset, ts, db, statements, affected, checksum, time_zone) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    this.#readFrom = db.prepare(`SELECT * FROM entries WHERE offset > ? ORDER BY offset LIMIT ?`)
    this.#last = (db.query(`SELECT coalesce(max(offset), 0) AS last FROM entries`).get() as { last: number }).last
  }

  /** Opens (creating unless readonly) the log at `path`. */
  static open(path: string, options: LogOptions = {}): ReplicationLog {
    if (options.readonly && !existsSync(path)) {
      throw new DdbError('LOG_NOT_FOUND', `open log ${path}: no such file`, {
        hint: "pass the master's log file with --log",
      })
    }
    let db: Database
    try {
      db = new Database(path, options.readonly ? { readonly: true } : { create: true, readwrite: true })
      db.exec('PRAGMA busy_timeout = 5000')
      if (!options.readonly) {
        db.exec('PRAGMA journal_mode = WAL')
        db.exec(`PRAGMA synchronous = ${options.sync === 'normal' ? 'NORMAL' : 'FULL'}`)
        db.exec(SCHEMA)
        // Logs written before entries carried a time zone gain the column (empty for their old entries).
        const columns = db.query(`PRAGMA table_info(entries)`).all() as Array<{ name: string }>
        if (!columns.some((c) => c.name === 'time_zone')) db.exec(`ALTER TABLE entries ADD COLUMN time_zone TEXT`)
        db.query(`INSERT OR IGNORE INTO meta (key, value) VALUES ('log_id', ?)`).run(crypto.randomUUID())
      }
      db.query(`SELECT 1 FROM entries LIMIT 1`).all()
    } catch (err) {
      throw new DdbError('LOG_OPEN', `open log ${path}: ${(err as Error).message}`, {
        cause: err,
        hint: 'is it a ddb log file, and is its directory writable?',
      })
    }
    return new ReplicationLog(path, db)
  }

  /** The offset of the newest entry (0 when empty). Re-read from disk for a readonly log. */
  lastOffset(): number {
    return this.#last
  }

  /** Reads the newest offset from the file: for readers following a log another process appends to. */
  refresh(): number {
    this.#last = (this.#db.query(`SELECT coalesce(max(offset), 0) AS last FROM entries`).get() as { last: number }).last
    return this.#last
  }

  /** Gives drafts the next offsets and their checksums, without writing anything. */
  prepare(drafts: EntryDraft[]): Entry[] {
    return drafts.map((d, i) => {
      const e = {
        offset: this.#last + 1 + i,
        ts: d.ts,
        db: d.db,
        ...(d.timeZone ? { timeZone: d.timeZone } : {}),
        statements: d.statements,
        affected: d.affected,
      }
      return { ...e, checksum: entryChecksum(e) }
    })
  }

  /** Appends entries that continue the log (from prepare, or recovered) in one durable commit. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return
    if (entries[0]!.offset !== this.#last + 1) {
      throw new DdbError(
        'LOG_GAP',
        `append to log ${this.path}: entry ${entries[0]!.offset} does not follow ${this.#last}`,
      )
    }
    this.#db.transaction(() => {
      for (const e of entries) {
        this.#insert.run(
          e.offset,
          e.ts,
          e.db,
          JSON.stringify(e.statements),
          JSON.stringify(e.affected),
          e.checksum,
          e.timeZone ?? null,
        )
      }
    })()
    this.#last = entries[entries.length - 1]!.offset
  }

  /** Entries with offset > `after`, oldest first, at most `limit`; each checksum verified. */
  readAfter(after: number, limit: number): Entry[] {
    return this.#readFrom.all(after, limit).map(rowToEntry)
  }

  /** The entry at `offset`, or null. */
  get(offset: number): Entry | null {
    return this.readAfter(offset - 1, 1).find((e) => e.offset === offset) ?? null
  }

  /** Removes every entry after `offset` (a logged MySQL DDL that failed; never a published entry). */
  truncateAfter(offset: number): void {
    this.#db.query(`DELETE FROM entries WHERE offset > ?`).run(offset)
    this.#last = Math.min(this.#last, offset)
  }

  close(): void {
    this.#db.close()
  }
}

function rowToEntry(row: EntryRow): Entry {
  const entry: Entry = {
    offset: row.offset,
    ts: row.ts,
    db: row.db,
    ...(row.time_zone ? { timeZone: row.time_zone } : {}),
    statements: JSON.parse(row.statements),
    affected: JSON.parse(row.affected),
    checksum: row.checksum,
  }
  if (entryChecksum(entry) !== row.checksum) throw new CorruptEntryError(row.offset)
  return entry
}
