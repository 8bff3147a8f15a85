import { expect } from 'bun:test'
import type { Entry, Param, WriteResult } from '../../src/entry.ts'
import { Client } from '../../src/wire/client.ts'
import type { QueryAnswer } from '../../src/wire/messages.ts'
import { type DdbNode, rowsOf, runDdb, statusOf } from './ddb.ts'
import { waitFor } from './util.ts'

/** Where SQL runs: a node (on a connection of its own), or an open client (its session: USE, transactions). */
export type On = DdbNode | Client

/** Runs SQL on a node over a connection of its own, or on a client; returns every answer. */
export async function run(on: On, sql: string, params: Param[] = []): Promise<QueryAnswer> {
  if (on instanceof Client) return on.query(sql, params)
  const c = await on.client()
  try {
    return await c.query(sql, params)
  } finally {
    c.close()
  }
}

/** Runs one write; returns its answer (the last one, for several statements): offset, rows affected, insert id. */
export async function writeOne(on: On, sql: string): Promise<WriteResult> {
  const answers = await run(on, sql)
  const last = answers[answers.length - 1]
  if (last?.kind !== 'write') throw new Error(`expected a write answer to ${sql}, got ${JSON.stringify(answers)}`)
  return last
}

/** Runs one write; returns its entry's offset. */
export async function write(on: On, sql: string): Promise<number> {
  return (await writeOne(on, sql)).offset
}

/** The rows a read returns. */
export async function select(on: On, sql: string): Promise<Record<string, unknown>[]> {
  return rowsOf(await run(on, sql))
}

/** Runs `count` single-row writes from `clients` concurrent connections; returns the acknowledged offsets. */
export async function writeRows(
  node: DdbNode,
  count: number,
  sql: (i: number) => string,
  clients = 8,
): Promise<number[]> {
  const conns = await Promise.all(Array.from({ length: clients }, () => node.client()))
  const offsets: number[] = []
  let next = 0
  await Promise.all(
    conns.map(async (c) => {
      while (next < count) offsets.push(await write(c, sql(next++)))
      c.close()
    }),
  )
  return offsets
}

/** Writers started by startWriters. */
export interface Writers {
  /** The ids the master acknowledged, in the order it did. */
  readonly acked: number[]
  /** Settles once every writer has ended. */
  readonly done: Promise<void>
  /** Ends the writers (after their current write); settles when they have. */
  stop(): Promise<void>
}

/**
 * `count` writers, each on a connection of its own, inserting rows with ids of
 * their own into `acked (id)` until stopped, recording the ids the master
 * acknowledged. A failed write is retried with the next id after 20 ms (the
 * store may be down), or, with `untilError`, ends that writer (the master died).
 * The first `inTransactions` writers insert two rows per BEGIN … COMMIT.
 */
export function startWriters(
  node: DdbNode,
  count: number,
  {
    inTransactions = 0,
    untilError = false,
    firstId = 0,
  }: { inTransactions?: number; untilError?: boolean; firstId?: number } = {},
): Writers {
  const acked: number[] = []
  let running = true
  const done = Promise.all(
    Array.from({ length: count }, async (_, w) => {
      const c = await node.client()
      for (let i = 0; running; i += 2) {
        const id = firstId + w * 1_000_000 + i
        try {
          if (w < inTransactions) {
            await c.query('BEGIN')
            await c.query(`INSERT INTO acked (id) VALUES (${id}), (${id + 1})`)
            await c.query('COMMIT')
            acked.push(id, id + 1)
          } else {
            await c.query(`INSERT INTO acked (id) VALUES (${id})`)
            acked.push(id)
          }
        } catch {
          if (untilError) return // the master died under us: this write was not acknowledged
          await c.query('ROLLBACK').catch(() => {})
          await Bun.sleep(20)
        }
      }
    }),
  ).then(() => {})
  const stop = () => {
    running = false
    return done
  }
  return { acked, done, stop }
}

/** The entries `ddb log tail --json <args>` prints for a log file (its last 10 unless `args` say otherwise). */
export async function tailLog(log: string, ...args: string[]): Promise<Entry[]> {
  const tail = await runDdb(['log', 'tail', '--log', log, '--json', ...args])
  expect(tail.code, tail.stderr).toBe(0)
  return tail.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Entry)
}

/** The master's offset, from its status. */
export async function masterOffset(master: DdbNode): Promise<number> {
  const s = await statusOf(master)
  if (s.role !== 'master') throw new Error(`${master.address} is not a master`)
  return s.offset
}

/** The user tables of a node's store, sorted (ddb's own state and SQLite's internals left out, sqlite_sequence kept). */
export async function tablesOf(node: DdbNode, kind: 'sqlite' | 'mysql'): Promise<string[]> {
  const rows =
    kind === 'sqlite'
      ? await select(
          node,
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'ddb_state' AND (name NOT LIKE 'sqlite_%' OR name = 'sqlite_sequence') ORDER BY name",
        )
      : await select(
          node,
          'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name',
        )
  // Sorted here, byte by byte: a server's ORDER BY follows its collation, which may call 'posts' and 'Posts' equal.
  return rows.map((r) => String(r.name)).sort()
}

/** Every row of a table, ordered by all its columns (so the order never depends on the store's plan). */
export async function dumpTable(node: DdbNode, table: string): Promise<Record<string, unknown>[]> {
  const [first] = await select(node, `SELECT * FROM ${table} LIMIT 1`)
  if (!first) return []
  const columns = Object.keys(first).map((_, i) => String(i + 1))
  return select(node, `SELECT * FROM ${table} ORDER BY ${columns.join(', ')}`)
}

/**
 * Waits until `slave` has applied `offset`; fails at once, with the slave's
 * error, if it stopped replicating (divergence guard, failed entry).
 */
export async function waitCaughtUp(slave: DdbNode, offset: number, timeoutMs = 60_000): Promise<void> {
  let stopped: string | null = null
  await waitFor(
    async () => {
      const s = await statusOf(slave)
      if (s.role !== 'slave') throw new Error(`${slave.address} is not a slave`)
      if (s.stopped) {
        stopped = `slave ${slave.address} stopped at applied=${s.applied} (wanted ${offset}): ${s.error}`
        return true
      }
      return s.applied >= offset
    },
    { timeoutMs, what: `slave ${slave.address} to apply offset ${offset}` },
  )
  if (stopped) throw new Error(stopped)
}

/**
 * Waits for each slave to reach the master's offset, then asserts that every
 * table (the same set on each node) has the same rows on the slaves as on the
 * master, and that each slave's applied offset is the master's.
 */
export async function expectSlavesEqualMaster(
  master: DdbNode,
  slaves: readonly DdbNode[],
  kind: 'sqlite' | 'mysql',
): Promise<void> {
  const offset = await masterOffset(master)
  for (const slave of slaves) await waitCaughtUp(slave, offset)
  const tables = await tablesOf(master, kind)
  for (const slave of slaves) {
    expect(await tablesOf(slave, kind)).toEqual(tables)
    for (const table of tables) {
      const [want, got] = await Promise.all([dumpTable(master, table), dumpTable(slave, table)])
      expect(got, `table ${table} on slave ${slave.address} (${kind})`).toEqual(want)
    }
    const s = await statusOf(slave)
    expect(s.role === 'slave' && s.applied).toBe(offset)
    expect(s.role === 'slave' && s.stopped).toBe(false) // still applying (a link problem is not a stop)
  }
}
