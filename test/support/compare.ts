import { expect } from 'bun:test'
import type { Param } from '../../src/entry.ts'
import type { QueryAnswer } from '../../src/wire/messages.ts'
import { type DdbNode, rowsOf, statusOf } from './ddb.ts'
import { waitFor } from './util.ts'

/** Runs SQL on a node over a connection of its own; returns every answer. */
export async function run(node: DdbNode, sql: string, params: Param[] = []): Promise<QueryAnswer> {
  const c = await node.client()
  try {
    return await c.query(sql, params)
  } finally {
    c.close()
  }
}

/** Runs one write on a node; returns its entry's offset. */
export async function write(node: DdbNode, sql: string): Promise<number> {
  const answers = await run(node, sql)
  const last = answers[answers.length - 1]
  if (last?.kind !== 'write') throw new Error(`expected a write answer to ${sql}, got ${JSON.stringify(answers)}`)
  return last.offset
}

/** The rows a read returns on a node. */
export async function select(node: DdbNode, sql: string): Promise<Record<string, unknown>[]> {
  return rowsOf(await run(node, sql))
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
  return rows.map((r) => String(r.name))
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
      if (s.error) {
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
  slaves: DdbNode[],
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
    expect(s.role === 'slave' && s.error).toBeNull()
  }
}
