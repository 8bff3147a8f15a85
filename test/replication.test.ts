import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import type { Client } from '../src/wire/client.ts'
import { BACKEND_KINDS, type Backend, createBackend } from './support/backends.ts'
import { type DdbNode, rowsOf, runDdb, startMaster, startSlave, statusOf, waitApplied } from './support/ddb.ts'
import { freePort, tempDir, waitFor } from './support/util.ts'

/** Runs `count` single-row writes from `clients` concurrent connections; returns the acknowledged offsets. */
async function writeRows(master: DdbNode, count: number, sql: (i: number) => string, clients = 8): Promise<number[]> {
  const conns: Client[] = await Promise.all(Array.from({ length: clients }, () => master.client()))
  const offsets: number[] = []
  let next = 0
  await Promise.all(
    conns.map(async (c) => {
      while (next < count) {
        const i = next++
        const [answer] = await c.query(sql(i))
        if (answer?.kind !== 'write') throw new Error('expected a write answer')
        offsets.push(answer.offset)
      }
      c.close()
    }),
  )
  return offsets
}

/** All rows of a table, ordered, from a node. */
async function dump(node: DdbNode, table: string, orderBy = 'id'): Promise<Record<string, unknown>[]> {
  const c = await node.client()
  try {
    return rowsOf(await c.query(`SELECT * FROM ${table} ORDER BY ${orderBy}`))
  } finally {
    c.close()
  }
}

async function exec(node: DdbNode, sql: string): Promise<number> {
  const c = await node.client()
  try {
    const answers = await c.query(sql)
    const last = answers[answers.length - 1]
    return last?.kind === 'write' ? last.offset : 0
  } finally {
    c.close()
  }
}

for (const kind of BACKEND_KINDS) {
  describe(`replication on ${kind} stores`, () => {
    let backend: Backend
    beforeAll(() => {
      backend = createBackend(kind)
    })
    afterAll(async () => {
      await backend.close()
    })

    test('live inserts, updates, deletes and DDL reach two slaves', async () => {
      const log = join(backend.dir, 'live.log')
      await using master = await startMaster(await backend.newStore(), log)
      await using slave1 = await startSlave(master.address, await backend.newStore())
      await using slave2 = await startSlave(master.address, await backend.newStore())
      await exec(master, 'CREATE TABLE students (id INTEGER PRIMARY KEY, name VARCHAR(50), age INTEGER)')
      await exec(master, "INSERT INTO students (id, name, age) VALUES (1, 'Ali', 22), (2, 'Sara', 23), (3, 'Omar', 30)")
      await exec(master, "UPDATE students SET age = age + 1 WHERE name = 'Ali'")
      await exec(master, 'DELETE FROM students WHERE id = 3')
      await exec(master, 'CREATE INDEX students_age ON students (age)')
      const last = await exec(master, "INSERT INTO students (id, name, age) VALUES (4, 'it''s; -- tricky', NULL)")
      for (const slave of [slave1, slave2]) {
        await waitApplied(slave, last)
        expect(await dump(slave, 'students')).toEqual(await dump(master, 'students'))
      }
      expect(await dump(slave1, 'students')).toEqual([
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
      await using master = await startMaster(await backend.newStore(), join(backend.dir, 'catchup.log'))
      const slaveStore = await backend.newStore()
      await exec(master, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR(40))')
      {
        await using slave = await startSlave(master.address, slaveStore)
        await waitApplied(slave, 1)
        await slave.stop()
      }
      const offsets = await writeRows(master, 1000, (i) => `INSERT INTO t (id, v) VALUES (${i + 1}, 'row ${i + 1}')`)
      expect(new Set(offsets).size).toBe(1000)
      await using slave = await startSlave(master.address, slaveStore)
      await waitApplied(slave, Math.max(...offsets))
      expect(await dump(slave, 't')).toEqual(await dump(master, 't'))
      expect(slave.log()).toContain('applied=1')
    })

    test('kill -9 of a slave during a 5,000-entry catch-up applies every entry exactly once', async () => {
      await using master = await startMaster(await backend.newStore(), join(backend.dir, 'kill-slave.log'))
      await exec(master, 'CREATE TABLE hits (n INTEGER NOT NULL)')
      await exec(master, 'CREATE TABLE counter (id INTEGER PRIMARY KEY, c INTEGER NOT NULL)')
      await exec(master, 'INSERT INTO counter (id, c) VALUES (1, 0)')
      // No key on hits: an entry applied twice shows up as a duplicate row, a skipped one as a gap.
      const offsets = await writeRows(master, 5000, (i) =>
        i % 2 === 0 ? `INSERT INTO hits (n) VALUES (${i})` : 'UPDATE counter SET c = c + 1 WHERE id = 1',
      )
      const last = Math.max(...offsets)
      const slaveStore = await backend.newStore()
      const killedAt: number[] = []
      // Kill it at spread-out instants of its catch-up, counted from when it attached (however long it took to start).
      for (let round = 0; round < 12 && !killedAt.includes(last); round++) {
        await using slave = await startSlave(master.address, slaveStore, { noWait: true })
        await waitFor(() => slave.log().includes('attached to master'), {
          timeoutMs: 30_000,
          intervalMs: 1,
          what: 'the slave to attach',
        })
        await Bun.sleep(kind === 'sqlite' ? round * 4 : 50 + round * 100)
        await slave.kill9()
        killedAt.push(await backend.offsetOf(slaveStore).catch(() => 0))
      }
      await using slave = await startSlave(master.address, slaveStore)
      await waitApplied(slave, last)
      expect(
        killedAt.some((o) => o > 0 && o < last),
        `killed at offsets ${killedAt} of ${last}`,
      ).toBe(true)
      const hits = await dump(slave, 'hits', 'n')
      expect(hits).toHaveLength(2500)
      expect(hits).toEqual(await dump(master, 'hits', 'n'))
      expect(await dump(slave, 'counter')).toEqual([{ id: 1, c: 2500 }])
    })

    test('kill -9 of the master during writes loses no acknowledged write', async () => {
      const masterStore = await backend.newStore()
      const log = join(backend.dir, 'kill-master.log')
      const acked: number[] = []
      {
        await using master = await startMaster(masterStore, log)
        await exec(master, 'CREATE TABLE acked (id INTEGER PRIMARY KEY)')
        const writers = Array.from({ length: 8 }, async (_, w) => {
          const c = await master.client()
          for (let i = 0; ; i++) {
            const id = w * 1_000_000 + i
            try {
              await c.query(`INSERT INTO acked (id) VALUES (${id})`)
            } catch {
              return // the master died under us: this write was not acknowledged
            }
            acked.push(id)
          }
        })
        await Bun.sleep(700)
        await master.kill9()
        await Promise.all(writers)
      }
      expect(acked.length).toBeGreaterThan(20)
      await using master = await startMaster(masterStore, log)
      const ids = new Set((await dump(master, 'acked')).map((r) => Number(r.id)))
      for (const id of acked) expect(ids.has(id)).toBe(true)
      const status = await statusOf(master)
      expect(status.role === 'master' && status.offset).toBe(await backend.offsetOf(masterStore))
      // Every logged row is in the store and nothing else: a slave replaying the log ends equal.
      await using slave = await startSlave(master.address, await backend.newStore())
      await waitApplied(slave, status.role === 'master' ? status.offset : 0)
      expect(await dump(slave, 'acked')).toEqual(await dump(master, 'acked'))
    })

    test('slaves reconnect by themselves when the master comes back', async () => {
      const masterStore = await backend.newStore()
      const log = join(backend.dir, 'restart.log')
      const listen = `127.0.0.1:${await freePort()}`
      const master = await startMaster(masterStore, log, { listen })
      await exec(master, 'CREATE TABLE r (id INTEGER PRIMARY KEY)')
      await using slave = await startSlave(master.address, await backend.newStore())
      await waitApplied(slave, 1)
      expect(await master.stop()).toBe(0)
      await waitFor(
        async () => {
          const s = await statusOf(slave)
          return s.role === 'slave' && !s.connected
        },
        { timeoutMs: 10_000, what: 'the slave to notice the master is gone' },
      )
      // The same address again, as an operator restarting the master would.
      await using again = await startMaster(masterStore, log, { listen })
      const offset = await exec(again, 'INSERT INTO r (id) VALUES (7)')
      await waitApplied(slave, offset, 30_000)
      expect(await dump(slave, 'r')).toEqual([{ id: 7 }])
      const s = await statusOf(slave)
      expect(s.role === 'slave' && s.connected).toBe(true)
    })

    test('a failed write or DDL logs nothing and leaves no gap in the offsets', async () => {
      const log = join(backend.dir, 'failed.log')
      await using master = await startMaster(await backend.newStore(), log)
      await using slave = await startSlave(master.address, await backend.newStore())
      const c = await master.client()
      await c.query('CREATE TABLE f (id INTEGER PRIMARY KEY)')
      await c.query('INSERT INTO f (id) VALUES (1)')
      await expect(c.query('INSERT INTO f (id) VALUES (1)')).rejects.toThrow(/duplicate|unique/i)
      await expect(c.query('CREATE TABLE f (id INTEGER PRIMARY KEY)')).rejects.toThrow(/exists/i)
      await expect(c.query('ALTER TABLE nowhere ADD COLUMN x INTEGER')).rejects.toThrow(/nowhere/)
      const [next] = await c.query('INSERT INTO f (id) VALUES (2)')
      expect(next?.kind === 'write' && next.offset).toBe(3)
      const tail = await runDdb(['log', 'tail', '--log', log, '--json'])
      expect(
        tail.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).offset),
      ).toEqual([1, 2, 3])
      await waitApplied(slave, 3)
      expect(await dump(slave, 'f')).toEqual([{ id: 1 }, { id: 2 }])
    })

    test('a write sent to a slave is refused and names the master', async () => {
      await using master = await startMaster(await backend.newStore(), join(backend.dir, 'refuse.log'))
      await exec(master, 'CREATE TABLE w (id INTEGER PRIMARY KEY)')
      await using slave = await startSlave(master.address, await backend.newStore())
      await waitApplied(slave, 1)
      const c = await slave.client()
      await expect(c.query('INSERT INTO w (id) VALUES (1)')).rejects.toThrow(master.address)
      await expect(c.query('DROP TABLE w')).rejects.toThrow(/read-only slave/)
      expect(rowsOf(await c.query('SELECT COUNT(*) AS n FROM w'))).toEqual([{ n: 0 }])
    })

    test('the divergence guard stops a slave whose row was altered by hand', async () => {
      await using master = await startMaster(await backend.newStore(), join(backend.dir, 'diverge.log'))
      await exec(master, 'CREATE TABLE d (id INTEGER PRIMARY KEY, v INTEGER)')
      const before = await exec(master, 'INSERT INTO d (id, v) VALUES (1, 10), (2, 20)')
      const slaveStore = await backend.newStore()
      await using slave = await startSlave(master.address, slaveStore)
      await waitApplied(slave, before)
      await backend.direct(slaveStore, `DELETE FROM ${kind === 'mysql' ? 'app.' : ''}d WHERE id = 2`)
      const bad = await exec(master, 'UPDATE d SET v = v + 1 WHERE id = 2')
      await exec(master, 'INSERT INTO d (id, v) VALUES (3, 30)')
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
      expect(await dump(slave, 'd')).toEqual([{ id: 1, v: 10 }])
      const m = await statusOf(master)
      expect(m.role === 'master' && m.replicas[0]?.error).toContain(`entry ${bad}`)
      // The operator repairs the row and restarts the slave: it resumes at the entry.
      await backend.direct(slaveStore, `INSERT INTO ${kind === 'mysql' ? 'app.' : ''}d (id, v) VALUES (2, 20)`)
      await slave.stop()
      await using resumed = await startSlave(master.address, slaveStore)
      await waitApplied(resumed, bad + 1)
      expect(await dump(resumed, 'd')).toEqual(await dump(master, 'd'))
    })
  })
}

test('a slave whose master is down says so once, not at every retry, and attaches when it comes back', async () => {
  await using dir = await tempDir('ddb-unreachable-')
  const listen = `127.0.0.1:${await freePort()}`
  await using slave = await startSlave(listen, `sqlite:${join(dir.path, 'slave.sqlite')}`)
  // Retries back off from 100 ms: several fail within 2 s.
  await Bun.sleep(2_000)
  expect(slave.log().split('cannot reach master').length - 1).toBe(1)
  await using master = await startMaster(`sqlite:${join(dir.path, 'master.sqlite')}`, join(dir.path, 'master.log'), {
    listen,
  })
  await waitFor(() => slave.log().includes('attached to master'), { timeoutMs: 15_000, what: 'the slave to attach' })
  const offset = await (await master.client()).query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
  await waitApplied(slave, offset[0]?.kind === 'write' ? offset[0].offset : 1)
})
