import { describe, expect, test } from 'bun:test'
import { BACKEND_KINDS } from './support/backends.ts'
import { withCluster } from './support/cluster.ts'
import { dumpTable, startWriters, tailLog, write, writeRows } from './support/compare.ts'
import { rowsOf, statusOf, waitApplied } from './support/ddb.ts'
import { waitFor } from './support/util.ts'

for (const kind of BACKEND_KINDS) {
  describe(`replication on ${kind} stores`, () => {
    test('live inserts, updates, deletes and DDL reach two slaves', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 2 })
      const { master } = cluster
      await write(master, 'CREATE TABLE students (id INTEGER PRIMARY KEY, name VARCHAR(50), age INTEGER)')
      await write(
        master,
        "INSERT INTO students (id, name, age) VALUES (1, 'Ali', 22), (2, 'Sara', 23), (3, 'Omar', 30)",
      )
      await write(master, "UPDATE students SET age = age + 1 WHERE name = 'Ali'")
      await write(master, 'DELETE FROM students WHERE id = 3')
      await write(master, 'CREATE INDEX students_age ON students (age)')
      const last = await write(master, "INSERT INTO students (id, name, age) VALUES (4, 'it''s; -- tricky', NULL)")
      for (const slave of cluster.slaves) {
        await waitApplied(slave, last)
        expect(await dumpTable(slave, 'students')).toEqual(await dumpTable(master, 'students'))
      }
      expect(await dumpTable(cluster.slave, 'students')).toEqual([
        { id: 1, name: 'Ali', age: 23 },
        { id: 2, name: 'Sara', age: 23 },
        { id: 4, name: "it's; -- tricky", age: null },
      ])
      const status = await statusOf(master)
      expect(status.role).toBe('master')
      if (status.role === 'master') {
        expect(status.offset).toBe(last)
        expect(status.replicas.map((r) => r.connected)).toEqual([true, true])
      }
    })

    test('a slave down while 1,000 writes happen catches up by offset', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      const { master } = cluster
      await write(master, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR(40))')
      const down = await cluster.addSlave()
      await waitApplied(down, 1)
      await down.stop()
      const offsets = await writeRows(master, 1000, (i) => `INSERT INTO t (id, v) VALUES (${i + 1}, 'row ${i + 1}')`)
      expect(new Set(offsets).size).toBe(1000)
      const slave = await cluster.restartSlave(down)
      await waitApplied(slave, Math.max(...offsets))
      expect(await dumpTable(slave, 't')).toEqual(await dumpTable(master, 't'))
      expect(slave.log()).toContain('applied=1')
    })

    test('kill -9 of a slave during a 5,000-entry catch-up applies every entry exactly once', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      const { master } = cluster
      await write(master, 'CREATE TABLE hits (n INTEGER NOT NULL)')
      await write(master, 'CREATE TABLE counter (id INTEGER PRIMARY KEY, c INTEGER NOT NULL)')
      await write(master, 'INSERT INTO counter (id, c) VALUES (1, 0)')
      // No key on hits: an entry applied twice shows up as a duplicate row, a skipped one as a gap.
      const offsets = await writeRows(master, 5000, (i) =>
        i % 2 === 0 ? `INSERT INTO hits (n) VALUES (${i})` : 'UPDATE counter SET c = c + 1 WHERE id = 1',
      )
      const last = Math.max(...offsets)
      const slaveStore = await cluster.newStore()
      const killedAt: number[] = []
      // Kill it at spread-out points of its catch-up: as soon as its store holds 1/13, 2/13 … of the
      // entries (by progress, not time, so a slow or busy machine kills it mid-way all the same).
      for (let round = 0; round < 12 && !killedAt.includes(last); round++) {
        const slave = await cluster.addSlave({ store: slaveStore, noWait: true })
        const target = Math.floor((last * (round + 1)) / 13)
        await waitFor(async () => (await cluster.offsetOf(slaveStore).catch(() => 0)) >= target, {
          timeoutMs: 30_000,
          intervalMs: 1,
          what: `the slave to apply ${target} entries`,
        })
        await slave.kill9()
        killedAt.push(await cluster.offsetOf(slaveStore).catch(() => 0))
      }
      const slave = await cluster.addSlave({ store: slaveStore })
      await waitApplied(slave, last)
      expect(
        killedAt.some((o) => o > 0 && o < last),
        `killed at offsets ${killedAt} of ${last}`,
      ).toBe(true)
      const hits = await dumpTable(slave, 'hits')
      expect(hits).toHaveLength(2500)
      expect(hits).toEqual(await dumpTable(master, 'hits'))
      expect(await dumpTable(slave, 'counter')).toEqual([{ id: 1, c: 2500 }])
    })

    test('kill -9 of the master during writes loses no acknowledged write', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      await write(cluster.master, 'CREATE TABLE acked (id INTEGER PRIMARY KEY)')
      const writers = startWriters(cluster.master, 8, { untilError: true })
      await Bun.sleep(700)
      await cluster.master.kill9()
      await writers.done
      const { acked } = writers
      expect(acked.length).toBeGreaterThan(20)
      const master = await cluster.restartMaster()
      const ids = new Set((await dumpTable(master, 'acked')).map((r) => Number(r.id)))
      for (const id of acked) expect(ids.has(id)).toBe(true)
      const status = await statusOf(master)
      expect(status.role === 'master' && status.offset).toBe(await cluster.offsetOf(master))
      // Every logged row is in the store and nothing else: a slave replaying the log ends equal.
      const slave = await cluster.addSlave()
      await waitApplied(slave, status.role === 'master' ? status.offset : 0)
      expect(await dumpTable(slave, 'acked')).toEqual(await dumpTable(master, 'acked'))
    })

    test('slaves reconnect by themselves when the master comes back', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      await write(cluster.master, 'CREATE TABLE r (id INTEGER PRIMARY KEY)')
      const slave = await cluster.addSlave()
      await waitApplied(slave, 1)
      expect(await cluster.master.stop()).toBe(0)
      await waitFor(
        async () => {
          const s = await statusOf(slave)
          return s.role === 'slave' && !s.connected
        },
        { timeoutMs: 10_000, what: 'the slave to notice the master is gone' },
      )
      // The same address again, as an operator restarting the master would.
      const again = await cluster.restartMaster()
      const offset = await write(again, 'INSERT INTO r (id) VALUES (7)')
      await waitApplied(slave, offset, 30_000)
      expect(await dumpTable(slave, 'r')).toEqual([{ id: 7 }])
      const s = await statusOf(slave)
      expect(s.role === 'slave' && s.connected).toBe(true)
    })

    test('a failed write or DDL logs nothing and leaves no gap in the offsets', async () => {
      await using cluster = await withCluster({ store: kind })
      const { slave } = cluster
      const c = await cluster.master.client()
      await c.query('CREATE TABLE f (id INTEGER PRIMARY KEY)')
      await c.query('INSERT INTO f (id) VALUES (1)')
      await expect(c.query('INSERT INTO f (id) VALUES (1)')).rejects.toThrow(/duplicate|unique/i)
      await expect(c.query('CREATE TABLE f (id INTEGER PRIMARY KEY)')).rejects.toThrow(/exists/i)
      await expect(c.query('ALTER TABLE nowhere ADD COLUMN x INTEGER')).rejects.toThrow(/nowhere/)
      const [next] = await c.query('INSERT INTO f (id) VALUES (2)')
      expect(next?.kind === 'write' && next.offset).toBe(3)
      expect((await tailLog(cluster.log)).map((e) => e.offset)).toEqual([1, 2, 3])
      await waitApplied(slave, 3)
      expect(await dumpTable(slave, 'f')).toEqual([{ id: 1 }, { id: 2 }])
    })

    test('a write sent to a slave is refused and names the master', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      const { master } = cluster
      await write(master, 'CREATE TABLE w (id INTEGER PRIMARY KEY)')
      const slave = await cluster.addSlave()
      await waitApplied(slave, 1)
      const c = await slave.client()
      await expect(c.query('INSERT INTO w (id) VALUES (1)')).rejects.toThrow(master.address)
      await expect(c.query('DROP TABLE w')).rejects.toThrow(/read-only slave/)
      expect(rowsOf(await c.query('SELECT COUNT(*) AS n FROM w'))).toEqual([{ n: 0 }])
    })

    test('the divergence guard stops a slave whose row was altered by hand', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      const { master } = cluster
      await write(master, 'CREATE TABLE d (id INTEGER PRIMARY KEY, v INTEGER)')
      const before = await write(master, 'INSERT INTO d (id, v) VALUES (1, 10), (2, 20)')
      const slave = await cluster.addSlave()
      await waitApplied(slave, before)
      await cluster.direct(slave, `DELETE FROM ${kind === 'mysql' ? 'app.' : ''}d WHERE id = 2`)
      const bad = await write(master, 'UPDATE d SET v = v + 1 WHERE id = 2')
      await write(master, 'INSERT INTO d (id, v) VALUES (3, 30)')
      const stopped = await waitFor(
        async () => {
          const s = await statusOf(slave)
          return s.role === 'slave' && s.error ? s : null
        },
        { timeoutMs: 20_000, what: 'the slave to report divergence' },
      )
      expect(stopped!.applied).toBe(bad - 1)
      expect(stopped!.error).toContain(`entry ${bad}`)
      expect(stopped!.error).toContain('master affected 1 row(s), this slave 0')
      expect(slave.log()).toContain('replication stopped')
      // It keeps serving reads, and never skips the entry.
      await Bun.sleep(500)
      expect(await dumpTable(slave, 'd')).toEqual([{ id: 1, v: 10 }])
      const m = await statusOf(master)
      expect(m.role === 'master' && m.replicas[0]?.error).toContain(`entry ${bad}`)
      // The operator repairs the row and restarts the slave: it resumes at the entry.
      await cluster.direct(slave, `INSERT INTO ${kind === 'mysql' ? 'app.' : ''}d (id, v) VALUES (2, 20)`)
      const resumed = await cluster.restartSlave(slave)
      await waitApplied(resumed, bad + 1)
      expect(await dumpTable(resumed, 'd')).toEqual(await dumpTable(master, 'd'))
    })
  })
}

test('a slave whose master is down says so once, not at every retry, and attaches when it comes back', async () => {
  await using cluster = await withCluster({ store: 'sqlite', masterDown: true })
  const { slave } = cluster
  // Retries back off from 100 ms: several fail within 2 s.
  await Bun.sleep(2_000)
  expect(slave.log().split('cannot reach master').length - 1).toBe(1)
  const master = await cluster.restartMaster()
  await waitFor(() => slave.log().includes('attached to master'), { timeoutMs: 15_000, what: 'the slave to attach' })
  const offset = await (await master.client()).query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
  await waitApplied(slave, offset[0]?.kind === 'write' ? offset[0].offset : 1)
})
