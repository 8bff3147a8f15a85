import { describe, expect, test } from 'bun:test'
import { DdbError } from '../src/errors.ts'
import { BACKEND_KINDS } from './support/backends.ts'
import { withCluster } from './support/cluster.ts'
import { dumpTable, tailLog, write } from './support/compare.ts'
import { rowsOf, runDdb, statusOf, waitApplied } from './support/ddb.ts'
import { waitFor } from './support/util.ts'

/** The error a promise rejects with (fails the test if it resolves). */
async function failure(p: Promise<unknown>): Promise<DdbError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(DdbError)
    return err as DdbError
  }
  throw new Error('expected an error')
}

for (const kind of BACKEND_KINDS) {
  describe(`write policy and read-your-writes on ${kind} stores`, () => {
    test('a --forward-writes slave sends DML to the master and answers with its offset', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      const { master } = cluster
      const m = await master.client()
      const created = await write(m, 'CREATE TABLE fw (id INTEGER PRIMARY KEY, v VARCHAR(20))')
      const slave = await cluster.addSlave({ args: ['--forward-writes'] })
      await waitApplied(slave, created)
      const s = await slave.client()

      const inserted = await s.query("INSERT INTO fw (id, v) VALUES (1, 'one'), (2, 'two')")
      expect(inserted).toEqual([{ kind: 'write', offset: created + 1, affectedRows: 2, insertId: expect.any(Number) }])
      const updated = await write(s, "UPDATE fw SET v = 'uno' WHERE id = 1")
      const deleted = await write(s, 'DELETE FROM fw WHERE id = 2')
      expect([updated, deleted]).toEqual([created + 2, created + 3])

      // It went through the master's normal path: in its store, its log, its offset…
      expect(await dumpTable(master, 'fw')).toEqual([{ id: 1, v: 'uno' }])
      const status = await statusOf(master)
      expect(status.role === 'master' && status.offset).toBe(deleted)
      expect((await tailLog(cluster.log)).map((e) => e.statements[0]!.sql)).toEqual([
        'CREATE TABLE fw (id INTEGER PRIMARY KEY, v VARCHAR(20))',
        "INSERT INTO fw (id, v) VALUES (1, 'one'), (2, 'two')",
        "UPDATE fw SET v = 'uno' WHERE id = 1",
        'DELETE FROM fw WHERE id = 2',
      ])
      // …and back to the slave by replication.
      await waitApplied(slave, deleted)
      expect(await dumpTable(slave, 'fw')).toEqual([{ id: 1, v: 'uno' }])

      // The master's errors come back as they are.
      const duplicate = await failure(s.query("INSERT INTO fw (id, v) VALUES (1, 'again')"))
      expect(duplicate.code).toBe('STORE')
      expect(duplicate.message).toMatch(/duplicate|unique/i)

      // Through the command line too, with the same answer shape as on the master.
      const cli = await runDdb(['sql', "INSERT INTO fw (id, v) VALUES (3, 'three')", '--to', slave.address, '--json'])
      expect(cli.stderr).toBe('')
      expect(JSON.parse(cli.stdout)).toEqual({ offset: deleted + 1, affectedRows: 1, insertId: expect.any(Number) })
      expect(await dumpTable(master, 'fw')).toEqual([
        { id: 1, v: 'uno' },
        { id: 3, v: 'three' },
      ])
    })

    test("a --forward-writes slave forwards many clients' writes at once: each lands exactly once", async () => {
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      const { master } = cluster
      const created = await write(await master.client(), 'CREATE TABLE fm (id INTEGER PRIMARY KEY)')
      const slave = await cluster.addSlave({ args: ['--forward-writes'] })
      await waitApplied(slave, created)
      // More clients than forwarding connections: some wait their turn for one.
      const clients = await Promise.all(Array.from({ length: 24 }, () => slave.client()))
      const offsets = (
        await Promise.all(
          clients.map(async (c, i) => [
            await write(c, `INSERT INTO fm (id) VALUES (${i})`),
            await write(c, `INSERT INTO fm (id) VALUES (${100 + i})`),
          ]),
        )
      ).flat()
      expect(new Set(offsets).size).toBe(48)
      expect(Math.min(...offsets)).toBe(created + 1)
      expect(Math.max(...offsets)).toBe(created + 48)
      await waitApplied(slave, created + 48)
      const ids = Array.from({ length: 24 }, (_, i) => [i, 100 + i])
        .flat()
        .sort((a, b) => a - b)
      expect((await dumpTable(master, 'fm')).map((r) => Number(r.id))).toEqual(ids)
      expect(await dumpTable(slave, 'fm')).toEqual(await dumpTable(master, 'fm'))
    })

    test('a --forward-writes slave refuses DDL, naming the master', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      const { master } = cluster
      const created = await write(await master.client(), 'CREATE TABLE fd (id INTEGER PRIMARY KEY)')
      const slave = await cluster.addSlave({ args: ['--forward-writes'] })
      await waitApplied(slave, created)
      const s = await slave.client()
      for (const ddl of [
        'CREATE TABLE other (id INTEGER PRIMARY KEY)',
        'DROP TABLE fd',
        'CREATE INDEX fd_id ON fd (id)',
      ]) {
        const err = await failure(s.query(ddl))
        expect(err.code).toBe('NOT_MASTER')
        expect(err.message).toContain('DDL refused')
        expect(err.message).toContain(`send DDL to the master at ${master.address}`)
      }
      const status = await statusOf(master)
      expect(status.role === 'master' && status.offset).toBe(created)
      expect(await dumpTable(master, 'fd')).toEqual([])
    })

    test('a forwarding slave whose master is down says so, keeps serving reads, and forwards again once it is back', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      const { master, masterAddress: listen } = cluster
      const m = await master.client()
      await write(m, 'CREATE TABLE fdown (id INTEGER PRIMARY KEY)')
      const slave = await cluster.addSlave({ args: ['--forward-writes'] })
      const s = await slave.client()
      const first = await write(s, 'INSERT INTO fdown (id) VALUES (1)') // opens the forwarding connection
      await waitApplied(slave, first)

      expect(await master.stop()).toBe(0)
      await waitFor(
        async () => {
          const st = await statusOf(slave)
          return st.role === 'slave' && !st.connected
        },
        { timeoutMs: 10_000, what: 'the slave to notice the master is gone' },
      )
      for (let i = 0; i < 2; i++) {
        const err = await failure(s.query('INSERT INTO fdown (id) VALUES (2)'))
        expect(err.code).toBe('MASTER_UNAVAILABLE')
        expect(err.message).toContain(`forward write: cannot reach the master at ${listen}`)
        expect(err.hint).toContain('the write was not applied')
      }
      expect(rowsOf(await s.query('SELECT id FROM fdown'))).toEqual([{ id: 1 }])
      const cli = await runDdb(['sql', 'INSERT INTO fdown (id) VALUES (2)', '--to', slave.address])
      expect(cli.code).not.toBe(0)
      expect(cli.stderr).toContain(`cannot reach the master at ${listen}`)
      expect(cli.stderr.trim().split('\n')).toHaveLength(1)

      // The master comes back on the same address: the next forwarded write reconnects.
      const again = await cluster.restartMaster()
      const second = await write(s, 'INSERT INTO fdown (id) VALUES (2)')
      expect(second).toBe(first + 1)
      await waitApplied(slave, second, 30_000)
      expect(await dumpTable(slave, 'fdown')).toEqual([{ id: 1 }, { id: 2 }])
      expect(await dumpTable(again, 'fdown')).toEqual([{ id: 1 }, { id: 2 }])
    })

    test('a read with the offset of a write sees that write on a slave; a future offset fails with STALE_READ', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      const { master } = cluster
      const m = await master.client()
      await write(m, 'CREATE TABLE ryw (id INTEGER PRIMARY KEY, v INTEGER)')
      const slave = await cluster.addSlave()
      const s = await slave.client()
      for (let i = 1; i <= 25; i++) {
        const offset = await write(m, `INSERT INTO ryw (id, v) VALUES (${i}, ${i * 10})`)
        expect(rowsOf(await s.query(`SELECT v FROM ryw WHERE id = ${i}`, [], { minOffset: offset }))).toEqual([
          { v: i * 10 },
        ])
      }
      const last = await write(m, 'UPDATE ryw SET v = 0 WHERE id = 1')
      const cli = await runDdb([
        'sql',
        'SELECT v FROM ryw WHERE id = 1',
        '--to',
        slave.address,
        '--min-offset',
        String(last),
        '--json',
      ])
      expect(cli.stderr).toBe('')
      expect(JSON.parse(cli.stdout)).toEqual({ rows: [{ v: 0 }] })

      // An offset the master never reached: the slave waits its timeout, then says how far it got.
      const future = last + 1000
      const started = Date.now()
      const err = await failure(s.query('SELECT COUNT(*) AS n FROM ryw', [], { minOffset: future, waitMs: 400 }))
      expect(Date.now() - started).toBeGreaterThanOrEqual(300)
      expect(err.code).toBe('STALE_READ')
      expect(err.message).toBe(
        `read-your-writes: this slave has applied offset ${last}, below the requested ${future}, after waiting 400 ms`,
      )
      // The connection goes on serving afterwards.
      expect(rowsOf(await s.query('SELECT COUNT(*) AS n FROM ryw'))).toEqual([{ n: 25 }])
      const stale = await runDdb([
        'sql',
        'SELECT 1',
        '--to',
        slave.address,
        '--min-offset',
        String(future),
        '--wait-timeout',
        '200',
      ])
      expect(stale.code).toBe(1)
      expect(stale.stderr).toContain(
        `read-your-writes: this slave has applied offset ${last}, below the requested ${future}, after waiting 200 ms`,
      )
      const bad = await runDdb(['sql', 'SELECT 1', '--to', slave.address, '--min-offset', 'soon'])
      expect(bad.code).toBe(2)
      expect(bad.stderr).toContain('invalid --min-offset "soon"')
    })

    test('a read with a minimum offset waits while the slave cannot reach its master, and runs once it catches up', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      const listen = cluster.masterAddress
      const m = await cluster.master.client()
      await write(m, 'CREATE TABLE rw (id INTEGER PRIMARY KEY)')
      for (let i = 1; i <= 5; i++) await write(m, `INSERT INTO rw (id) VALUES (${i})`)
      const last = await write(m, 'DELETE FROM rw WHERE id = 5')
      expect(await cluster.master.stop()).toBe(0)
      // The slave starts while its master is down: it serves reads but has applied nothing.
      const slave = await cluster.addSlave()
      const s = await slave.client()
      let answered = false
      const read = s
        .query('SELECT id FROM rw ORDER BY id', [], { minOffset: last, waitMs: 60_000 })
        .finally(() => (answered = true))
      await Bun.sleep(500)
      expect(answered).toBe(false)
      const master = await cluster.restartMaster()
      expect(rowsOf(await read)).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }])
      const st = await statusOf(slave)
      expect(st.role === 'slave' && st.applied).toBe(last)
      expect(master.address).toBe(listen)
    })

    test('read-your-writes through a forwarding slave, and on the master', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      const { master } = cluster
      const m = await master.client()
      const created = await write(m, 'CREATE TABLE rf (id INTEGER PRIMARY KEY)')
      const slave = await cluster.addSlave({ args: ['--forward-writes'] })
      const s = await slave.client()
      for (let i = 1; i <= 10; i++) {
        const offset = await write(s, `INSERT INTO rf (id) VALUES (${i})`)
        expect(rowsOf(await s.query('SELECT COUNT(*) AS n FROM rf', [], { minOffset: offset }))).toEqual([{ n: i }])
      }
      // The master has published every offset it answered; one beyond it is stale there too.
      expect(rowsOf(await m.query('SELECT COUNT(*) AS n FROM rf', [], { minOffset: created + 10 }))).toEqual([
        { n: 10 },
      ])
      const err = await failure(m.query('SELECT 1 AS one', [], { minOffset: created + 11, waitMs: 100 }))
      expect(err.code).toBe('STALE_READ')
      expect(err.message).toBe(
        `read-your-writes: this master has published offset ${created + 10}, below the requested ${created + 11}, after waiting 100 ms`,
      )
      // A write that arrives while the read waits satisfies it.
      const waiting = m.query('SELECT COUNT(*) AS n FROM rf', [], { minOffset: created + 11, waitMs: 10_000 })
      const other = await master.client()
      expect(await write(other, 'INSERT INTO rf (id) VALUES (11)')).toBe(created + 11)
      expect(rowsOf(await waiting)).toEqual([{ n: 11 }])
    })
  })
}

describe('forwarded writes on mysql stores', () => {
  test('run in the database the slave session selected', async () => {
    await using cluster = await withCluster({ store: 'mysql', slaves: 0 })
    const { master } = cluster
    const m = await master.client()
    await m.query('CREATE DATABASE other')
    await m.query('CREATE TABLE app_t (id INTEGER PRIMARY KEY)')
    await m.query('USE other')
    const created = await write(m, 'CREATE TABLE other_t (id INTEGER PRIMARY KEY)')
    const slave = await cluster.addSlave({ args: ['--forward-writes'] })
    await waitApplied(slave, created)
    const inOther = await slave.client()
    const inApp = await slave.client()
    await inOther.query('USE other')
    // Interleaved on the slave's one forwarding connection: each lands in its own session's database.
    await write(inOther, 'INSERT INTO other_t (id) VALUES (1)')
    await write(inApp, 'INSERT INTO app_t (id) VALUES (2)')
    const last = await write(inOther, 'INSERT INTO other_t (id) VALUES (3)')
    expect(await dumpTable(master, 'other.other_t')).toEqual([{ id: 1 }, { id: 3 }])
    expect(await dumpTable(master, 'app.app_t')).toEqual([{ id: 2 }])
    expect((await tailLog(cluster.log, '-n', '3')).map((e) => e.db)).toEqual(['other', 'app', 'other'])
    await waitApplied(slave, last)
    expect(await dumpTable(slave, 'other.other_t')).toEqual([{ id: 1 }, { id: 3 }])
    expect(await dumpTable(slave, 'app.app_t')).toEqual([{ id: 2 }])
  })
})
