/**
 * Concurrent writers through the master: half on its MySQL port (mysql2), half
 * on ddb's own port (src/wire/client.ts). Every write's outcome goes in the
 * ledger: acked (with its offset), failed (the node answered an error: the
 * write must be absent) or unknown (the connection died or the answer never
 * came: it may be either way). The mix: single-row INSERTs with a value of
 * their own, increments of a per-writer counter (not idempotent: a replay
 * shows), two-row transactions, and an INSERT that must fail (its second row
 * repeats the seed row's key), so the phantom check has failed writes to judge
 * in every run, not only when a fault produces some.
 */
import mysql from 'mysql2/promise'
import type { Param } from '../src/entry.ts'
import { DdbError } from '../src/errors.ts'
import { Client } from '../src/wire/client.ts'
import { withTimeout } from './nodes.ts'
import { COUNTERS_TABLE, ROWS_TABLE } from './readers.ts'

export type Outcome = 'acked' | 'failed' | 'unknown'

/** One row a write tried to insert. */
export interface RowRecord {
  id: number
  v: string
  outcome: Outcome
  /** The entry's offset, when acked. */
  offset?: number
}

export interface CounterRecord {
  acked: number
  failed: number
  unknown: number
}

/** Everything the writers attempted, and how each attempt ended. */
export interface Ledger {
  rows: RowRecord[]
  /** Per counter id (a writer's index + 1). */
  counters: Map<number, CounterRecord>
  writes: Record<Outcome, number> & { attempted: number }
  /** A write that should have failed (duplicate key) and was acknowledged. */
  wrongAcks: string[]
  /** Failed writes other than the must-fail INSERTs: what a fault made the master refuse. */
  refused: number
  /** Writes that took longer than the write timeout (counted unknown). */
  slow: number
  /** Error messages seen, with how often (the most common go in the summary). */
  errors: Map<string, number>
  /** When the last acknowledgement arrived (ms since epoch). */
  lastAckAt: number
}

/** The seed row every must-fail INSERT collides with. */
const SEED_ID = 0

/** A write's outcome when it did not succeed. */
class WriteError extends Error {
  constructor(
    readonly outcome: 'failed' | 'unknown',
    message: string,
  ) {
    super(message)
  }
}

/** One connection's way of running a write; throws WriteError. */
interface Conn {
  /** Runs one statement; returns the offset its answer named (0 inside a transaction). */
  write(sql: string, params: Param[]): Promise<number>
  close(): void
}

async function mysqlConn(address: string): Promise<Conn> {
  const [host, port] = address.split(':')
  const c = await mysql.createConnection({ host, port: Number(port), user: 'root', connectTimeout: 5_000 })
  c.on('error', () => {}) // a dead connection also surfaces on the pending query
  return {
    async write(sql, params) {
      try {
        const [r] = await c.query(sql, params)
        return Number(/offset (\d+)/.exec((r as mysql.ResultSetHeader).info ?? '')?.[1] ?? 0)
      } catch (err) {
        const e = err as { fatal?: boolean; sqlState?: string; message: string }
        // Only an error packet (it has an SQLSTATE) on a live connection is the server's answer to this statement.
        throw new WriteError(e.sqlState && !e.fatal ? 'failed' : 'unknown', e.message)
      }
    },
    close: () => c.destroy(),
  }
}

async function ddbConn(address: string): Promise<Conn> {
  const [host, port] = address.split(':')
  const c = await withTimeout(Client.connect({ host: host!, port: Number(port) }, ''), 5_000, 'connect')
  return {
    async write(sql, params) {
      try {
        const answer = await c.query(sql, params)
        const last = answer[answer.length - 1]
        return last?.kind === 'write' ? last.offset : 0
      } catch (err) {
        // Only an error the node sent is an answer; a lost connection or a local failure leaves the write in doubt.
        const answered = err instanceof DdbError && err.code !== 'CONNECTION_LOST' && err.code !== 'PROTOCOL'
        throw new WriteError(answered ? 'failed' : 'unknown', (err as Error).message)
      }
    },
    close: () => c.close(),
  }
}

export interface WriterOptions {
  /** The master's MySQL port and ddb port, host:port. */
  mysql: string
  ddb: string
  count: number
  /** A write not answered within this long counts as unknown (and its connection is dropped). */
  timeoutMs: number
}

/** A ledger with nothing in it yet. */
export function emptyLedger(): Ledger {
  return {
    rows: [],
    counters: new Map(),
    writes: { attempted: 0, acked: 0, failed: 0, unknown: 0 },
    wrongAcks: [],
    refused: 0,
    slow: 0,
    errors: new Map(),
    lastAckAt: 0,
  }
}

export class Writers {
  readonly ledger: Ledger = emptyLedger()
  readonly #options: WriterOptions
  #running = true
  #paused: { promise: Promise<void>; resolve: () => void } | null = null
  /** How many writers are inside a write right now (pause waits for 0). */
  #busy = 0
  #done: Promise<void> = Promise.resolve()
  #probes = 0

  constructor(options: WriterOptions) {
    this.#options = options
  }

  /** Creates the tables (through the master's MySQL port, which both stores accept) and starts the writers. */
  async start(): Promise<void> {
    const setup = await mysqlConn(this.#options.mysql)
    try {
      await setup.write(
        `CREATE TABLE ${ROWS_TABLE} (id BIGINT PRIMARY KEY, w INT NOT NULL, v VARCHAR(64) NOT NULL)`,
        [],
      )
      await setup.write(`CREATE TABLE ${COUNTERS_TABLE} (id INT PRIMARY KEY, n BIGINT NOT NULL)`, [])
      await setup.write(`INSERT INTO ${ROWS_TABLE} (id, w, v) VALUES (?, 0, 'seed')`, [SEED_ID])
      const ids = Array.from({ length: this.#options.count }, (_, w) => w + 1)
      await setup.write(`INSERT INTO ${COUNTERS_TABLE} (id, n) VALUES ${ids.map((id) => `(${id}, 0)`).join(', ')}`, [])
      for (const id of ids) this.ledger.counters.set(id, { acked: 0, failed: 0, unknown: 0 })
    } finally {
      setup.close()
    }
    this.#done = Promise.all(Array.from({ length: this.#options.count }, (_, w) => this.#writer(w))).then(() => {})
  }

  /** Holds every writer before its next write and waits until none is inside one (a quiet point). */
  async pause(): Promise<void> {
    if (!this.#paused) {
      let resolve!: () => void
      const promise = new Promise<void>((r) => {
        resolve = r
      })
      this.#paused = { promise, resolve }
    }
    while (this.#busy > 0) await Bun.sleep(20)
  }

  resume(): void {
    this.#paused?.resolve()
    this.#paused = null
  }

  async stop(): Promise<void> {
    this.#running = false
    this.resume()
    await this.#done
  }

  /** One INSERT on a fresh ddb connection, recorded like any other (a fault's probe); its outcome and error. */
  async once(timeoutMs: number): Promise<{ outcome: Outcome; error: string }> {
    const id = this.#options.count * 100_000_000 + 100_000_000 + ++this.#probes * 2
    const r: RowRecord = { id, v: `${id}-probe`, outcome: 'unknown' }
    let error = ''
    let conn: Conn | null = null
    try {
      conn = await ddbConn(this.#options.ddb)
      const c = conn
      await this.#record([r], () =>
        withTimeout(
          c.write(`INSERT INTO ${ROWS_TABLE} (id, w, v) VALUES (?, ?, ?)`, [id, -1, r.v]),
          timeoutMs,
          'write',
        ),
      )
    } catch (err) {
      error = (err as Error).message
    } finally {
      conn?.close()
    }
    return { outcome: r.outcome, error }
  }

  async #writer(w: number): Promise<void> {
    const connect = w % 2 === 0 ? () => mysqlConn(this.#options.mysql) : () => ddbConn(this.#options.ddb)
    let conn: Conn | null = null
    let backoff = 50
    for (let seq = 1; this.#running; seq++) {
      while (this.#paused) await this.#paused.promise
      if (!this.#running) break
      if (!conn) {
        try {
          conn = await connect()
          backoff = 50
        } catch {
          // Not a write: the master is down or still starting.
          await Bun.sleep(backoff)
          backoff = Math.min(backoff * 2, 1_000)
          continue
        }
      }
      this.#busy++
      try {
        await this.#op(w, seq, conn)
      } catch (err) {
        if (err instanceof WriteError && err.outcome === 'unknown') {
          conn.close()
          conn = null
        }
        // A refused write is retried after a pause, as a client would, not in a tight loop.
        if (err instanceof WriteError && err.outcome === 'failed') await Bun.sleep(50)
      } finally {
        this.#busy--
      }
    }
    conn?.close()
  }

  /** One operation of writer `w`, its `seq`-th: records its outcome, and rethrows a WriteError. */
  async #op(w: number, seq: number, conn: Conn): Promise<void> {
    const id = (w + 1) * 100_000_000 + seq * 2
    const row = (i: number): RowRecord => ({
      id: i,
      v: `${i}-${Math.random().toString(36).slice(2, 10)}`,
      outcome: 'unknown',
    })
    const kind = seq % 10
    if (kind < 6) {
      const r = row(id)
      await this.#record([r], () =>
        this.#write(conn, `INSERT INTO ${ROWS_TABLE} (id, w, v) VALUES (?, ?, ?)`, [id, w, r.v]),
      )
    } else if (kind < 8) {
      const counter = this.ledger.counters.get(w + 1)!
      await this.#record([], async () => {
        try {
          const offset = await this.#write(conn, `UPDATE ${COUNTERS_TABLE} SET n = n + 1 WHERE id = ?`, [w + 1])
          counter.acked++
          return offset
        } catch (err) {
          if (err instanceof WriteError) counter[err.outcome]++
          throw err
        }
      })
    } else if (kind === 8) {
      const r = row(id)
      const sql = `INSERT INTO ${ROWS_TABLE} (id, w, v) VALUES (?, ?, ?), (?, 0, 'seed')`
      await this.#record([r], () => this.#write(conn, sql, [id, w, r.v, SEED_ID]), true)
      if (r.outcome === 'acked') this.ledger.wrongAcks.push(`writer ${w}: ${sql} with id ${id} was acknowledged`)
    } else {
      const [a, b] = [row(id), row(id + 1)]
      await this.#record([a, b], async () => {
        try {
          await this.#write(conn, 'BEGIN', [])
          await this.#write(conn, `INSERT INTO ${ROWS_TABLE} (id, w, v) VALUES (?, ?, ?)`, [a.id, w, a.v])
          await this.#write(conn, `INSERT INTO ${ROWS_TABLE} (id, w, v) VALUES (?, ?, ?)`, [b.id, w, b.v])
          return await this.#write(conn, 'COMMIT', [])
        } catch (err) {
          // A refused statement leaves the transaction open on a live connection: end it (it logs nothing).
          if (err instanceof WriteError && err.outcome === 'failed') await conn.write('ROLLBACK', []).catch(() => {})
          throw err
        }
      })
    }
  }

  /** Runs `write` and records its outcome on `rows` (and in the totals). */
  async #record(rows: RowRecord[], write: () => Promise<number>, mustFail = false): Promise<void> {
    this.ledger.rows.push(...rows)
    this.ledger.writes.attempted++
    try {
      const offset = await write()
      for (const r of rows) Object.assign(r, { outcome: 'acked', offset })
      this.ledger.writes.acked++
      this.ledger.lastAckAt = Date.now()
    } catch (err) {
      const outcome = err instanceof WriteError ? err.outcome : 'unknown'
      for (const r of rows) r.outcome = outcome
      this.ledger.writes[outcome]++
      if (mustFail && outcome === 'failed') return // as it should
      if (outcome === 'failed') this.ledger.refused++
      // Alike errors counted together: numbers (ports, addresses) and the run's temp dir left out.
      const message = (err as Error).message.replace(/\/tmp\/ddb-chaos-[^/]+/g, '…').replace(/\b\d+\b/g, 'N')
      const key = `${outcome}: ${message.slice(0, 160)}`
      this.ledger.errors.set(key, (this.ledger.errors.get(key) ?? 0) + 1)
      throw err
    }
  }

  /** One statement, with the write timeout: a write not answered in time is unknown. */
  async #write(conn: Conn, sql: string, params: Param[]): Promise<number> {
    try {
      return await withTimeout(conn.write(sql, params), this.#options.timeoutMs, 'write')
    } catch (err) {
      if (err instanceof WriteError) throw err
      this.ledger.slow++
      throw new WriteError('unknown', (err as Error).message)
    }
  }
}
