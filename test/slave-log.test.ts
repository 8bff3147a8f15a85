import { Database } from 'bun:sqlite'
import { describe, expect, test } from 'bun:test'
import { copyFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Entry } from '../src/entry.ts'
import type { NodeStatus } from '../src/wire/messages.ts'
import { BACKEND_KINDS } from './support/backends.ts'
import { withCluster } from './support/cluster.ts'
import { select, tailLog, write } from './support/compare.ts'
import { type DdbNode, runDdb, startMaster, startSlave, statusOf, waitApplied } from './support/ddb.ts'
import { freePort, tempDir, waitFor } from './support/util.ts'

type SlaveStatus = Extract<NodeStatus, { role: 'slave' }>

async function slaveStatus(node: DdbNode): Promise<SlaveStatus> {
  const s = await statusOf(node)
  if (s.role !== 'slave') throw new Error(`${node.address} is not a slave`)
  return s
}

/** Every entry a log holds, as `ddb log tail --json` prints them. */
const allEntries = (log: string) => tailLog(log, '-n', '1000000')

/** What two logs agree on: offsets, epochs, hashes, checksums (and so every entry's content). */
const chain = (entries: Entry[]) => entries.map((e) => [e.offset, e.epoch, e.hash, e.checksum])

for (const kind of BACKEND_KINDS) {
  describe(`a slave's own log on ${kind} stores`, () => {
    test("holds the master's entries, hash for hash; entries it lost in a crash after the store commit come again, and apply once", async () => {
      await using cluster = await withCluster({ store: kind, slaves: 1 })
      const { master, slave } = cluster
      const autoIncrement = kind === 'mysql' ? ' AUTO_INCREMENT' : ''
      await write(master, `CREATE TABLE t (id INTEGER PRIMARY KEY${autoIncrement}, v VARCHAR(20))`)
      let last = 0
      for (let i = 0; i < 20; i++) last = await write(master, `INSERT INTO t (v) VALUES ('row ${i}')`)
      await waitApplied(slave, last)
      const status = await slaveStatus(slave)
      const masterStatus = await statusOf(master)
      const logId = masterStatus.role === 'master' ? masterStatus.logId : ''
      expect(status.log).toMatchObject({ id: logId, start: 0, offset: last })
      const slaveLog = status.log!.path
      expect(chain(await allEntries(slaveLog))).toEqual(chain(await allEntries(cluster.log)))

      // A kill -9 between the store's commit and the log's: the store holds entries the log lacks.
      await slave.kill9()
      const db = new Database(slaveLog)
      db.run('DELETE FROM entries WHERE offset > ?', [last - 5])
      db.close()
      const restarted = await cluster.restartSlave(slave)
      last = await write(master, `INSERT INTO t (v) VALUES ('after')`)
      await waitApplied(restarted, last)
      await waitFor(async () => (await slaveStatus(restarted)).log?.offset === last, {
        timeoutMs: 10_000,
        what: "the slave's log refilled",
      })
      expect(chain(await allEntries(slaveLog))).toEqual(chain(await allEntries(cluster.log)))
      // Entries the store held were only logged, not applied again: 21 rows, not 26.
      expect(await select(restarted, 'SELECT count(*) AS n FROM t')).toEqual([{ n: 21 }])
    })

    test("a slave that took a snapshot logs on from the snapshot's offset, chained to the master's entry there", async () => {
      // A master that adopts the data its store holds: its log starts after offset 1, and a new slave needs a snapshot.
      await using cluster = await withCluster({ store: kind, slaves: 0, masterDown: true })
      const t = kind === 'mysql' ? 'app.t' : 't'
      if (kind === 'mysql') await cluster.direct(cluster.masterStore, 'CREATE DATABASE IF NOT EXISTS app')
      await cluster.direct(cluster.masterStore, `CREATE TABLE ${t} (id INTEGER PRIMARY KEY, v VARCHAR(20))`)
      await cluster.direct(cluster.masterStore, `INSERT INTO ${t} (id, v) VALUES (1, 'x'), (2, 'x')`)
      const master = await cluster.restartMaster()
      let last = await write(master, "INSERT INTO t (id, v) VALUES (3, 'x')")
      const slave = await cluster.addSlave()
      await waitApplied(slave, last)
      expect((await slaveStatus(slave)).log).toMatchObject({ start: last, offset: last })
      for (let i = 11; i <= 15; i++) last = await write(master, `INSERT INTO t (id, v) VALUES (${i}, 'y')`)
      await waitApplied(slave, last)
      await waitFor(async () => (await slaveStatus(slave)).log?.offset === last, {
        timeoutMs: 10_000,
        what: "the slave's log",
      })
      // Its log starts at the master's hash of the snapshot's entry, and refuses an entry that does not chain to it.
      const slaveLog = (await slaveStatus(slave)).log!.path
      const snapshotEntry = (await allEntries(cluster.log)).find((e) => e.offset === last - 5)!
      const meta = new Database(slaveLog, { readonly: true })
      expect(meta.query("SELECT value FROM meta WHERE key = 'start_hash'").get()).toEqual({ value: snapshotEntry.hash })
      meta.close()
      expect(chain(await allEntries(slaveLog))).toEqual(chain(await allEntries(cluster.log)).slice(-5))
      expect((await slaveStatus(slave)).error).toBeNull()
    })
  })
}

describe("a slave's own log is pruned", () => {
  test('by its --retain-entries, and by hand with ddb log prune --to SLAVE; it follows on', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 1, slaveArgs: ['--retain-entries', '5'] })
    const { master, slave } = cluster
    await write(master, 'CREATE TABLE t (id INTEGER PRIMARY KEY)')
    let last = 0
    for (let i = 1; i <= 30; i++) last = await write(master, `INSERT INTO t (id) VALUES (${i})`)
    await waitApplied(slave, last)
    // Entries younger than 5 s are kept (the store may not hold them durably yet): the prune comes after.
    await waitFor(async () => ((await slaveStatus(slave)).log?.start ?? 0) >= last - 5, {
      timeoutMs: 20_000,
      what: "the slave's log pruned to its newest 5 entries",
    })
    const status = await slaveStatus(slave)
    expect(status.log!.offset).toBe(last)
    expect((await allEntries(status.log!.path)).map((e) => e.offset)).toEqual([26, 27, 28, 29, 30].map((i) => i + 1))
    const next = await write(master, 'INSERT INTO t (id) VALUES (31)')
    await waitApplied(slave, next)
    expect(await select(slave, 'SELECT count(*) AS n FROM t')).toEqual([{ n: 31 }])
    const byHand = await runDdb(['log', 'prune', '--before', String(last - 2), '--to', slave.address])
    expect(byHand.code, byHand.stderr).toBe(0)
    expect(byHand.stdout).toContain(`the log starts after offset ${last - 3}`)
  })
})

describe("a slave's log and its master's history", () => {
  test("a master whose history forked from the slave's is refused (LOG_FORK) and nothing of it applies", async () => {
    await using dir = await tempDir('ddb-fork-')
    const path = (name: string) => join(dir.path, name)
    const aAddress = `127.0.0.1:${await freePort()}`
    let a = await startMaster(`sqlite:${path('a.sqlite')}`, path('a-log.sqlite'), { listen: aAddress })
    await write(a, 'CREATE TABLE t (id INTEGER PRIMARY KEY)')
    await write(a, 'INSERT INTO t (id) VALUES (1)')
    await a.stop()
    // B starts as a copy of A, and then they part: the same log id, different entries at offset 3.
    for (const f of ['a.sqlite', 'a-log.sqlite'])
      for (const ext of ['', '-wal'])
        if (existsSync(path(f + ext))) copyFileSync(path(f + ext), path(f.replace('a', 'b') + ext))
    a = await startMaster(`sqlite:${path('a.sqlite')}`, path('a-log.sqlite'), { listen: aAddress })
    const fork = await write(a, 'INSERT INTO t (id) VALUES (2)')
    await using b = await startMaster(`sqlite:${path('b.sqlite')}`, path('b-log.sqlite'))
    await write(b, 'INSERT INTO t (id) VALUES (20)')
    await write(b, 'INSERT INTO t (id) VALUES (21)')

    const store = `sqlite:${path('s.sqlite')}`
    const slave = await startSlave(a.address, store)
    await waitApplied(slave, fork)
    await slave.stop()
    await a.stop()
    await using moved = await startSlave(b.address, store)
    await waitFor(async () => (await slaveStatus(moved)).error?.includes('forked'), {
      timeoutMs: 20_000,
      what: 'the fork refused',
    })
    const status = await slaveStatus(moved)
    expect(status.error).toContain('entry 3 differs')
    expect(status.applied).toBe(fork)
    expect(await select(moved, 'SELECT id FROM t ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }])
    expect(status.log?.offset).toBe(fork)
  })

  test("a log that is not its store's is refused at start (LOG_MISMATCH), its entries kept", async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 1 })
    const last = await write(cluster.master, 'CREATE TABLE t (id INTEGER PRIMARY KEY)')
    await waitApplied(cluster.slave, last)
    const slaveLog = (await slaveStatus(cluster.slave)).log!.path
    await cluster.slave.stop()
    const before = chain(await allEntries(slaveLog))
    const run = await runDdb([
      'slave',
      '--master',
      cluster.master.address,
      '--db',
      await cluster.newStore(),
      '--log',
      slaveLog,
      '--listen',
      `127.0.0.1:${await freePort()}`,
      '--mysql-listen',
      'off',
    ])
    expect(run.code).toBe(1)
    expect(run.stderr.trim().split('\n')).toHaveLength(1)
    expect(run.stderr).toContain('its store is empty')
    expect(chain(await allEntries(slaveLog))).toEqual(before)
    expect(before.length).toBeGreaterThan(0)
  })
})
