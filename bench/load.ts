import { Client } from '../src/wire/client.ts'
import { now } from './measure.ts'
import { connectMysql } from './native.ts'

/** The table every run writes: the same DDL on MariaDB and SQLite. */
export const CREATE_TABLE = 'CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100))'
/** The one write the bench measures: a single-row insert. */
export const INSERT = 'INSERT INTO t (id, v) VALUES (?, ?)'

/** The ~100-byte value stored with row `id`. */
export function payload(id: number): string {
  return `${id}:`.padEnd(100, 'abcdefghijklmnopqrstuvwxyz')
}

/** One connection that inserts rows, one at a time. */
export interface Conn {
  /** Inserts row `id` and resolves once the system acknowledged it. */
  insert(id: number): Promise<void>
  close(): void
}

/** Opens a Conn to one system. */
export type Connector = () => Promise<Conn>

/** Connections to a ddb node (master): writes go through its writer and log. */
export function ddbConnector(address: string): Connector {
  const [host, port] = address.split(':') as [string, string]
  return async () => {
    const client = await Client.connect({ host, port: Number(port) }, '')
    return {
      insert: async (id) => void (await client.query(INSERT, [id, payload(id)])),
      close: () => client.close(),
    }
  }
}

/** Connections straight to a mariadbd, autocommit. */
export function mariadbConnector(port: number, database: string): Connector {
  return async () => {
    const conn = await connectMysql(port, database)
    return {
      insert: async (id) => void (await conn.query(INSERT, [id, payload(id)])),
      close: () => conn.destroy(),
    }
  }
}

/** Hands out row ids in increasing order; one per table, shared by its writers. */
export class Ids {
  #next: number

  constructor(first = 1) {
    this.#next = first
  }

  /** The next unused id. */
  take(): number {
    return this.#next++
  }

  /** The last id handed out (0: none). */
  get last(): number {
    return this.#next - 1
  }
}

/** Opens `n` connections in parallel; closes them all if one fails. */
export async function openAll<C extends { close(): void }>(connect: () => Promise<C>, n: number): Promise<C[]> {
  const results = await Promise.allSettled(Array.from({ length: n }, () => connect()))
  const conns = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  const failed = results.find((r) => r.status === 'rejected')
  if (failed) {
    for (const c of conns) c.close()
    throw failed.reason
  }
  return conns
}

/**
 * Each connection inserts rows back to back, one outstanding write each, while
 * `more()` says so; returns how many rows were acknowledged and in how long (ms,
 * until the last write in flight came back).
 */
export async function insertLoop(conns: Conn[], ids: Ids, more: () => boolean): Promise<{ rows: number; ms: number }> {
  const { ops, ms } = await closedLoop(conns, (c) => c.insert(ids.take()), more)
  return { rows: ops, ms }
}

/**
 * A closed loop: each connection runs `op` back to back, one outstanding at a
 * time, while `more()` says so; returns how many ops completed and in how long
 * (ms, until the last op in flight came back).
 */
export async function closedLoop<C>(
  conns: C[],
  op: (conn: C) => Promise<unknown>,
  more: () => boolean,
): Promise<{ ops: number; ms: number }> {
  let ops = 0
  const start = now()
  await Promise.all(
    conns.map(async (c) => {
      while (more()) {
        await op(c)
        ops++
      }
    }),
  )
  return { ops, ms: now() - start }
}

/**
 * Sends `count` inserts at a steady `perSecond`, each at its scheduled time
 * whatever the others are doing, spread over `conns` in turn; returns each id's
 * acknowledgement time (bench clock, ms).
 */
export async function insertScheduled(
  conns: Conn[],
  ids: Ids,
  perSecond: number,
  count: number,
): Promise<Map<number, number>> {
  const acked = new Map<number, number>()
  const pending: Promise<void>[] = []
  const start = now()
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / perSecond
    const wait = due - now()
    if (wait > 0.5) await Bun.sleep(wait)
    const id = ids.take()
    pending.push(conns[i % conns.length]!.insert(id).then(() => void acked.set(id, now())))
  }
  await Promise.all(pending)
  return acked
}
