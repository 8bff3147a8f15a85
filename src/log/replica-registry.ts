import type { Database, Statement as SqliteStatement } from 'bun:sqlite'

/** A slave the master has taken on, as the log file remembers it across restarts. */
export interface ReplicaRecord {
  id: string
  address: string
  /** The last offset the slave acknowledged (its position when it attached, until it acks). */
  applied: number
  /** When the master last heard from it, ms since the epoch. */
  lastSeen: number
}

export const REGISTRY_SCHEMA = `
CREATE TABLE IF NOT EXISTS replicas (
  id        TEXT PRIMARY KEY,
  address   TEXT NOT NULL,
  applied   INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
);`

interface ReplicaRow {
  id: string
  address: string
  applied: number
  last_seen: number
}

/**
 * The replica registry: every slave that attached, kept in the log's own file
 * (the master's durable state, which it already holds locked), so a master that
 * restarts still knows whom its log must wait for.
 */
export class ReplicaRegistry {
  readonly #db: Database
  readonly #upsert: SqliteStatement

  constructor(db: Database) {
    this.#db = db
    // An upsert keeps the row's rowid, so the list keeps the order slaves first attached in.
    this.#upsert = db.prepare(
      `INSERT INTO replicas (id, address, applied, last_seen) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET address = excluded.address, applied = excluded.applied, last_seen = excluded.last_seen`,
    )
  }

  /** Every registered replica, in the order each first attached. */
  list(): ReplicaRecord[] {
    const rows = this.#db.query(`SELECT * FROM replicas ORDER BY rowid`).all() as ReplicaRow[]
    return rows.map((r) => ({ id: r.id, address: r.address, applied: r.applied, lastSeen: r.last_seen }))
  }

  /** Records these replicas as they are now, in one commit. */
  save(records: ReplicaRecord[]): void {
    if (records.length === 0) return
    this.#db.transaction(() => {
      for (const r of records) this.#upsert.run(r.id, r.address, r.applied, r.lastSeen)
    })()
  }

  /** Removes a replica; false if none had that id. */
  forget(id: string): boolean {
    return this.#db.query(`DELETE FROM replicas WHERE id = ?`).run(id).changes > 0
  }
}
