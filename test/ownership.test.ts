/**
 * One owner per log and store: a second node on a log or store another node holds is
 * refused, naming the holder, before it changes anything; a slave is never given its
 * master's store or server; a file of the wrong kind is refused untouched; a failed
 * start leaves no file behind.
 */
import { Database } from 'bun:sqlite'
import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { withCluster } from './support/cluster.ts'
import { type DdbNode, rowsOf, runDdb, startMaster, startSlave, statusOf } from './support/ddb.ts'
import { startMariadb } from './support/mariadb.ts'
import { freePort, tempDir, waitFor } from './support/util.ts'

/** `ddb master` or `ddb slave` run to its end: a refused start exits by itself. */
async function refusedStart(args: string[], cwd?: string) {
  const listen = `127.0.0.1:${await freePort()}`
  const run = await runDdb([...args, '--listen', listen, '--mysql-listen', 'off'], cwd ? { cwd } : {})
  return { ...run, lines: run.stderr.trim().split('\n') }
}

async function rowCount(node: DdbNode, table: string): Promise<number> {
  const c = await node.client()
  return Number(rowsOf(await c.query(`SELECT COUNT(*) AS n FROM ${table}`))[0]!.n)
}

/** Table t with one row (id 1), written through `master`; returns the client that wrote it. */
async function withOneRow(master: DdbNode) {
  const c = await master.client()
  await c.query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
  await c.query('INSERT INTO t (id) VALUES (1)')
  return c
}

describe.each(['sqlite', 'mysql'] as const)('one owner per store, on %s', (store) => {
  test('a second master on the same log and store is refused, naming the first, and writes nothing', async () => {
    await using cluster = await withCluster({ store, slaves: 0 })
    const c = await withOneRow(cluster.master)

    const second = await refusedStart(['master', '--db', cluster.masterStore, '--log', cluster.log])
    expect(second.code).toBe(1)
    expect(second.lines).toHaveLength(1)
    expect(second.stderr).toContain(`in use by ddb master pid ${cluster.master.proc.pid}`)

    // The same store with another log, and the same log with another store: refused too.
    const otherLog = join(cluster.dir, 'other-log.sqlite')
    const byStore = await refusedStart(['master', '--db', cluster.masterStore, '--log', otherLog])
    expect(byStore.code).toBe(1)
    expect(byStore.stderr).toContain(`in use by ddb master pid ${cluster.master.proc.pid}`)
    const byLog = await refusedStart(['master', '--db', await cluster.newStore(store), '--log', cluster.log])
    expect(byLog.code).toBe(1)
    expect(byLog.stderr).toMatch(/open log .*: in use by ddb master pid \d+/)

    // The first master goes on, its store and log in step.
    await c.query('INSERT INTO t (id) VALUES (2)')
    expect(await rowCount(cluster.master, 't')).toBe(2)
    const log = new Database(cluster.log, { readonly: true })
    expect((log.query('SELECT max(offset) AS n FROM entries').get() as { n: number }).n).toBe(
      await cluster.offsetOf(cluster.master),
    )
    log.close()
  })

  test("a slave on its master's store is refused, with the master running or stopped", async () => {
    await using cluster = await withCluster({ store, slaves: 0 })
    await withOneRow(cluster.master)

    const running = await refusedStart(['slave', '--master', cluster.masterAddress, '--db', cluster.masterStore])
    expect(running.code).toBe(1)
    expect(running.stderr).toContain(`in use by ddb master pid ${cluster.master.proc.pid}`)

    await cluster.master.stop()
    const stopped = await refusedStart(['slave', '--master', cluster.masterAddress, '--db', cluster.masterStore])
    expect(stopped.code).toBe(1)
    expect(stopped.lines).toHaveLength(1)
    expect(stopped.stderr).toContain("this is a master's store, not a slave's")
    // Nothing was applied twice: the master's one row is still one.
    expect(await cluster.direct(cluster.masterStore, `SELECT id FROM ${store === 'mysql' ? 'app.' : ''}t`)).toEqual([
      { id: 1 },
    ])
  })

  test('a node killed -9 leaves no lock behind: the next one starts', async () => {
    await using cluster = await withCluster({ store, slaves: 0 })
    await cluster.master.kill9()
    const master = await cluster.restartMaster()
    expect((await statusOf(master)).role).toBe('master')
  })
})

describe('nodes sharing a MySQL server', () => {
  test("a slave on its master's server (another database) refuses to replay into the master's databases", async () => {
    await using server = await startMariadb()
    await using dir = await tempDir('ddb-shared-server-')
    await using master = await startMaster(server.url('app'), join(dir.path, 'log.sqlite'))
    const c = await master.client()
    await c.query('CREATE TABLE t (id INTEGER PRIMARY KEY, n INT)')
    await c.query('INSERT INTO t (id, n) VALUES (1, 0)')
    await c.query('UPDATE t SET n = n + 1')

    await using slave = await startSlave(master.address, server.url('replica'))
    const status = await waitFor(
      async () => {
        const s = await statusOf(slave)
        return s.role === 'slave' && s.error ? s : null
      },
      { timeoutMs: 20_000, what: 'the slave to refuse' },
    )
    expect(status?.role === 'slave' && status.error).toContain(
      "is on the same MySQL server as its master's store (database app)",
    )
    // The master's counter was incremented once, not once more by its slave.
    expect(await server.query('SELECT n FROM app.t')).toEqual([{ n: 1 }])
  })

  test('two masters of their own databases on one server keep their own state', async () => {
    await using server = await startMariadb()
    await using dir = await tempDir('ddb-two-masters-')
    await using a = await startMaster(server.url('a'), join(dir.path, 'a.sqlite'))
    await using b = await startMaster(server.url('b'), join(dir.path, 'b.sqlite'))
    const ca = await a.client()
    const cb = await b.client()
    await ca.query('CREATE TABLE t (id INT PRIMARY KEY)')
    await ca.query('INSERT INTO t VALUES (1)')
    await cb.query('CREATE TABLE t (id INT PRIMARY KEY)')
    const rows = await server.query('SELECT db, applied_offset FROM ddb.stores ORDER BY db')
    expect(rows.map((r) => [r.db, Number(r.applied_offset)])).toEqual([
      ['a', 2],
      ['b', 1],
    ])
  })
})

describe.each([
  ['mysql', 'sqlite', 'name the one database it copies with --replicate-db NAME'],
  ['sqlite', 'mysql', "is mysql, but the master's log holds sqlite statements"],
] as const)('a %s master, a %s slave', (store, slaveStore, reason) => {
  test('the slave refuses to replay statements it cannot take, before applying any', async () => {
    await using cluster = await withCluster({ store, slaveStore })
    await withOneRow(cluster.master)
    const status = await waitFor(
      async () => {
        const s = await statusOf(cluster.slave)
        return s.role === 'slave' && s.stopped ? s : null
      },
      { timeoutMs: 20_000, what: 'the slave to refuse' },
    )
    expect(status?.role === 'slave' && status.error).toContain(reason)
    expect(status?.role === 'slave' && status.applied).toBe(0)
  })
})

describe('files of the wrong kind, failed starts', () => {
  test('a store passed as --log is refused and left unchanged', async () => {
    await using dir = await tempDir('ddb-wrong-file-')
    const storeFile = join(dir.path, 'store.sqlite')
    const db = new Database(storeFile)
    db.run('CREATE TABLE users (id INTEGER PRIMARY KEY)')
    db.run('CREATE TABLE ddb_state (id INTEGER PRIMARY KEY, applied_offset INTEGER NOT NULL)')
    db.close()
    const before = readFileSync(storeFile)
    const run = await refusedStart(['master', '--db', `sqlite:${join(dir.path, 'new.sqlite')}`, '--log', storeFile])
    expect(run.code).toBe(1)
    expect(run.lines).toHaveLength(1)
    expect(run.stderr).toContain('not a ddb replication log (it holds tables users, ddb_state)')
    expect(run.stderr).toContain('that is a ddb store: pass it with --db')
    expect(readFileSync(storeFile).equals(before)).toBe(true)
    expect(readdirSync(dir.path)).toEqual(['store.sqlite'])
  })

  test('a log passed as --db is refused', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
    await cluster.master.stop()
    const run = await refusedStart([
      'master',
      '--db',
      `sqlite:${cluster.log}`,
      '--log',
      join(cluster.dir, 'another-log.sqlite'),
    ])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('this is a ddb replication log, not a store')
  })

  test('a failed start leaves no file behind', async () => {
    await using dir = await tempDir('ddb-failed-start-')
    const port = await freePort() // nothing listens there
    const master = await refusedStart(['master', '--db', `mysql://root@127.0.0.1:${port}/app`], dir.path)
    expect(master.code).toBe(1)
    expect(master.stderr).toContain('connection refused')
    const slave = await refusedStart(
      ['slave', '--master', '127.0.0.1:1', '--db', `mysql://root@127.0.0.1:${port}/app`],
      dir.path,
    )
    expect(slave.code).toBe(1)
    expect(readdirSync(dir.path)).toEqual([])
  })

  test('a log of a newer format is refused, untouched', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
    await cluster.master.stop()
    const log = new Database(cluster.log)
    log.run("UPDATE meta SET value = '99' WHERE key = 'format'")
    log.close()
    const run = await refusedStart(['master', '--db', cluster.masterStore, '--log', cluster.log])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('log format 99 is newer than this ddb reads (2)')
  })

  test('a damaged entry is reported as corrupt, with its offset', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
    const c = await cluster.master.client()
    await c.query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
    await c.query('INSERT INTO t (id) VALUES (1)')
    await cluster.master.stop()
    const log = new Database(cluster.log)
    log.run(`UPDATE entries SET statements = '[{"sql": "INSE' WHERE offset = 2`)
    log.close()
    const tail = await runDdb(['log', 'tail', '--log', cluster.log])
    expect(tail.code).toBe(1)
    expect(tail.stderr).toContain('log entry 2 is corrupt: its content is not readable')
    expect(tail.stderr).not.toContain('JSON')
  })
})

test('random damage to a log file gives a one-line error, never a stack trace', async () => {
  await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
  const c = await cluster.master.client()
  await c.query('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
  for (let i = 0; i < 50; i++) await c.query(`INSERT INTO t (id, v) VALUES (${i}, '${'x'.repeat(200)}')`)
  await cluster.master.stop()
  const bytes = readFileSync(cluster.log)
  // Overwrite pages past the header, as a failing disk would.
  for (let i = 4096; i < bytes.length; i += 97) bytes[i] = 0xa5
  writeFileSync(cluster.log, bytes)
  const tail = await runDdb(['log', 'tail', '--log', cluster.log])
  expect(tail.code).not.toBe(0)
  expect(tail.stderr.trim().split('\n')).toHaveLength(1)
  expect(tail.stderr).toMatch(/^ddb: ((open|read) log .*(malformed|corrupt|not a database)|log entry \d+ is corrupt)/)
})
