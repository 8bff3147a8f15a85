/**
 * Synchronous replication (issue 14): `ddb master --sync-replicas K` answers a write only
 * once K slaves have applied it. Real processes: kill -9 of the master right after writes
 * were acknowledged loses none of them on the slave; a frozen slave (SIGSTOP) makes
 * writes wait (`--sync-fallback block`) or, after `--sync-timeout`, go on asynchronously
 * until it is back at the head (`async`), and `ddb status` says which.
 */
import { Database } from 'bun:sqlite'
import { describe, expect, test } from 'bun:test'
import mysql from 'mysql2/promise'
import { type StoreKind, withCluster } from './support/cluster.ts'
import { masterOffset, select, startWriters, waitCaughtUp } from './support/compare.ts'
import { type DdbNode, runDdb, statusOf } from './support/ddb.ts'
import { freePort, waitFor } from './support/util.ts'

/** The master's sync status. */
async function syncOf(master: DdbNode) {
  const s = await statusOf(master)
  if (s.role !== 'master' || !s.sync) throw new Error('no sync status')
  return s.sync
}

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([promise.then(() => true), Bun.sleep(ms).then(() => false)])
}

for (const kind of ['sqlite', 'mysql'] as const satisfies StoreKind[]) {
  describe(`synchronous replication on ${kind} stores`, () => {
    test('every acknowledged write is applied on the slave when it is answered: checked after each, and after kill -9 of the master at three instants', async () => {
      await using cluster = await withCluster({ store: kind, masterArgs: ['--sync-replicas', '1'] })
      const c = await cluster.master.client()
      await c.query('CREATE TABLE acked (id BIGINT PRIMARY KEY)')
      for (let i = 0; i < 100; i++) {
        const [answer] = await c.query(`INSERT INTO acked (id) VALUES (${10_000_000 + i})`)
        const offset = answer?.kind === 'write' ? answer.offset : -1
        const s = await statusOf(cluster.slave)
        expect(s.role === 'slave' && s.applied).toBeGreaterThanOrEqual(offset) // applied before it was answered
      }
      expect(await syncOf(cluster.master)).toMatchObject({ replicas: 1, state: 'sync', fallbacks: 0 })

      const acked: number[] = []
      for (const [round, ms] of [300, 900, 1700].entries()) {
        const firstId = (round + 1) * 100_000_000
        const writers = startWriters(cluster.master, 8, { untilError: true, inTransactions: 2, firstId })
        await Bun.sleep(ms)
        await cluster.master.kill9()
        await writers.done
        acked.push(...writers.acked)
        // The slave holds every write the master acknowledged, though the master died under them.
        const ids = new Set((await select(cluster.slave, 'SELECT id FROM acked')).map((r) => Number(r.id)))
        const missing = acked.filter((id) => !ids.has(id))
        expect(missing, `acknowledged writes missing on the slave after kill -9 at ${ms} ms`).toEqual([])
        await cluster.restartMaster()
        await waitCaughtUp(cluster.slave, await masterOffset(cluster.master), 60_000)
      }
      expect(acked.length).toBeGreaterThan(0)
    }, 240_000)
  })
}

test('a write is answered once the slave has applied it, not received it: while the slave’s store is locked, the write waits', async () => {
  await using cluster = await withCluster({
    store: 'sqlite',
    masterArgs: ['--sync-replicas', '1', '--sync-timeout', '60000', '--sync-fallback', 'block'],
  })
  const c = await cluster.master.client()
  await c.query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
  await waitCaughtUp(cluster.slave, await masterOffset(cluster.master))
  const store = new Database(cluster.storeOf(cluster.slave).replace(/^sqlite:/, ''))
  store.run('BEGIN IMMEDIATE') // the slave receives the entry but cannot commit it
  const write = c.query('INSERT INTO t VALUES (1)')
  try {
    expect(await settlesWithin(write, 1_500)).toBe(false)
  } finally {
    store.run('COMMIT')
    store.close()
  }
  expect(await settlesWithin(write, 10_000)).toBe(true)
  expect(await select(cluster.slave, 'SELECT id FROM t')).toEqual([{ id: 1 }])
})

describe('when the only synchronous slave stops acknowledging', () => {
  test('--sync-fallback block: no write is answered until the slave is back', async () => {
    await using cluster = await withCluster({
      store: 'sqlite',
      masterArgs: ['--sync-replicas', '1', '--sync-timeout', '300', '--sync-fallback', 'block'],
    })
    const c = await cluster.master.client()
    await c.query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
    cluster.slave.proc.kill('SIGSTOP')
    try {
      const write = c.query('INSERT INTO t VALUES (1)')
      expect(await settlesWithin(write, 1_500)).toBe(false) // five timeouts: still waiting
      expect(await syncOf(cluster.master)).toMatchObject({ state: 'sync', waiting: 1, fallbacks: 0 })
      expect(cluster.master.log()).toContain('writes are waiting: fewer slaves than --sync-replicas have applied them')
      cluster.slave.proc.kill('SIGCONT')
      expect(await settlesWithin(write, 10_000)).toBe(true)
    } finally {
      cluster.slave.proc.kill('SIGCONT')
    }
    expect(await select(cluster.slave, 'SELECT id FROM t')).toEqual([{ id: 1 }])
  })

  test('--sync-fallback async: writes go on after the timeout, status says so, and it is synchronous again once the slave is at the head', async () => {
    await using cluster = await withCluster({
      store: 'sqlite',
      masterArgs: ['--sync-replicas', '1', '--sync-timeout', '500', '--sync-fallback', 'async'],
    })
    const c = await cluster.master.client()
    await c.query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
    cluster.slave.proc.kill('SIGSTOP')
    try {
      const started = Date.now()
      await c.query('INSERT INTO t VALUES (1)')
      expect(Date.now() - started).toBeGreaterThanOrEqual(450) // it waited the timeout…
      const quick = Date.now()
      await c.query('INSERT INTO t VALUES (2)')
      expect(Date.now() - quick).toBeLessThan(450) // …and the next write does not
      expect(await syncOf(cluster.master)).toMatchObject({ state: 'fallen-back', fallbacks: 1 })
      expect(cluster.master.log()).toContain('falling back to asynchronous replication')
      const status = await runDdb(['status', '--to', cluster.master.address])
      expect(status.stdout).toContain('FALLEN BACK to asynchronous')
    } finally {
      cluster.slave.proc.kill('SIGCONT')
    }
    await waitFor(async () => (await syncOf(cluster.master)).state === 'sync', {
      timeoutMs: 10_000,
      what: 'the master to be synchronous again',
    })
    expect(cluster.master.log()).toContain('synchronous again')
    // Synchronous again: a frozen slave holds the next write back for the timeout once more.
    cluster.slave.proc.kill('SIGSTOP')
    try {
      const started = Date.now()
      await c.query('INSERT INTO t VALUES (3)')
      expect(Date.now() - started).toBeGreaterThanOrEqual(450)
      expect(await syncOf(cluster.master)).toMatchObject({ state: 'fallen-back', fallbacks: 2 })
    } finally {
      cluster.slave.proc.kill('SIGCONT')
    }
  })
})

test('a request asks for more or fewer slaves than the master: ddb’s protocol, the MySQL port’s ddb_sync_replicas, HTTP’s sync_replicas, ddb sql --sync-replicas', async () => {
  const http = `127.0.0.1:${await freePort()}`
  await using cluster = await withCluster({
    store: 'sqlite',
    mysql: true,
    masterArgs: ['--sync-replicas', '1', '--sync-fallback', 'block', '--sync-timeout', '60000', '--http', http],
  })
  const c = await cluster.master.client()
  await c.query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
  const my = await mysql.createConnection({
    host: '127.0.0.1',
    port: await cluster.mysqlPort(cluster.master),
    user: 'root',
  })
  cluster.slave.proc.kill('SIGSTOP')
  try {
    // Fewer: 0 slaves, answered at once though the only slave is frozen and the master blocks.
    await c.query('INSERT INTO t VALUES (1)', [], { syncReplicas: 0 })
    await my.query('SET ddb_sync_replicas = 0')
    await my.query('INSERT INTO t VALUES (2)')
    const posted = await fetch(`http://${http}/sql`, {
      method: 'POST',
      body: JSON.stringify({ sql: 'INSERT INTO t VALUES (3)', sync_replicas: 0 }),
    })
    expect(posted.status).toBe(200)
    const run = await runDdb([
      'sql',
      '--to',
      cluster.master.address,
      '--sync-replicas',
      '0',
      'INSERT INTO t VALUES (4)',
    ])
    expect(run.code, run.stderr).toBe(0)
    // DEFAULT: the master's 1 again, which waits until the slave is back.
    await my.query('SET ddb_sync_replicas = DEFAULT')
    const five = my.query('INSERT INTO t VALUES (5)')
    expect(await settlesWithin(five, 1_000)).toBe(false)
    cluster.slave.proc.kill('SIGCONT')
    await five
    await expect(my.query("SET ddb_sync_replicas = 'x'")).rejects.toThrow("Variable 'ddb_sync_replicas' can't be set")
  } finally {
    cluster.slave.proc.kill('SIGCONT')
    my.destroy()
  }
  await waitCaughtUp(cluster.slave, await masterOffset(cluster.master))
  expect(await select(cluster.slave, 'SELECT id FROM t ORDER BY id')).toEqual([1, 2, 3, 4, 5].map((id) => ({ id })))
})

test('more: a write on an asynchronous master asks for 1 slave, and waits while the slave’s store is locked', async () => {
  await using cluster = await withCluster({ store: 'sqlite' })
  const c = await cluster.master.client()
  await c.query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
  await waitCaughtUp(cluster.slave, await masterOffset(cluster.master))
  const store = new Database(cluster.storeOf(cluster.slave).replace(/^sqlite:/, ''))
  store.run('BEGIN IMMEDIATE')
  const write = c.query('INSERT INTO t VALUES (1)', [], { syncReplicas: 1 })
  try {
    // Another client's write, at the master's default, does not wait (one connection's requests run in order).
    const other = await cluster.master.client()
    expect(await settlesWithin(other.query('INSERT INTO t VALUES (2)'), 2_000)).toBe(true)
    expect(await settlesWithin(write, 1_000)).toBe(false)
  } finally {
    store.run('COMMIT')
    store.close()
  }
  expect(await settlesWithin(write, 10_000)).toBe(true)
})

test('--sync-fallback with a wrong value is a one-line usage error', async () => {
  const run = await runDdb(['master', '--sync-replicas', '1', '--sync-fallback', 'maybe'])
  expect(run.code).not.toBe(0)
  expect(run.stderr.trim().split('\n')).toHaveLength(1)
  expect(run.stderr).toContain('expected async or block')
})
