import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withCluster } from './support/cluster.ts'
import { writeRows } from './support/compare.ts'
import { ddbCommand, rowsOf, runDdb, statusOf, waitApplied } from './support/ddb.ts'
import { freePort, waitFor } from './support/util.ts'

const dir = mkdtempSync(join(tmpdir(), 'ddb-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const store = () => `sqlite:${join(dir, `s${++n}.sqlite`)}`
const logFile = () => join(dir, `l${++n}.log`)
/** A node's ports: never the defaults (8080, 3307 …), which a master the README started may hold. */
const freePorts = async () => ['--listen', `127.0.0.1:${await freePort()}`, '--mysql-listen', 'off']

/** One line on stderr, starting "ddb: ", no stack trace. */
function expectOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(/^ddb: /)
  expect(lines[0]).toMatch(pattern)
  expect(stderr).not.toMatch(/\n\s+at /)
}

describe('command-line errors', () => {
  test('an unknown flag', async () => {
    const r = await runDdb(['master', '--bogus'])
    expect(r.code).toBe(2)
    expectOneLineError(r.stderr, /unknown option '--bogus'/)
  })

  test('a slave without --master', async () => {
    const r = await runDdb(['slave', '--db', store(), ...(await freePorts())], { env: { DDB_MASTER: '' } })
    expect(r.code).toBe(2)
    expectOneLineError(r.stderr, /missing --master/)
  })

  test('a bad store URL', async () => {
    const r = await runDdb(['master', '--db', 'postgres://x/y', '--log', logFile(), ...(await freePorts())])
    expect(r.code).toBe(2)
    expectOneLineError(r.stderr, /invalid --db URL/)
  })

  test('a password in a --db URL is never printed, however the URL is malformed', async () => {
    const secret = 'hunter2'
    for (const url of [
      `mysql://root:hun/${secret}@127.0.0.1/app`,
      `mysql://root:hun@${secret}@127.0.0.1:1/app`,
      `mysql://root:hun:${secret}@127.0.0.1:1/app`,
      `mysql://root:${secret}@127.0.0.1:1/app?x=1`,
      `mysql://root:${secret}@127.0.0.1:1`,
      `mysql://root:${secret}/app`,
      `mysql:/root:${secret}@127.0.0.1/app`,
      `postgres://root:${secret}@127.0.0.1/app`,
      `root:${secret}@127.0.0.1/app`,
    ]) {
      const r = await runDdb(['master', '--db', url, '--log', logFile(), ...(await freePorts())])
      expect(r.code).toBeGreaterThan(0)
      expectOneLineError(r.stderr, /\*\*\*/)
      expect(r.stderr).not.toContain(secret)
    }
  })

  test('an unreachable MySQL store', async () => {
    const port = await freePort()
    const r = await runDdb([
      'master',
      '--db',
      `mysql://root@127.0.0.1:${port}/app`,
      '--log',
      logFile(),
      ...(await freePorts()),
    ])
    expect(r.code).toBe(1)
    expectOneLineError(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`))
  })

  test('a bad --listen and a port in use', async () => {
    const bad = await runDdb(['master', '--db', store(), '--log', logFile(), '--listen', 'nowhere'])
    expect(bad.code).toBe(2)
    expectOneLineError(bad.stderr, /invalid --listen "nowhere"/)
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
    const { master } = cluster
    const taken = await runDdb([
      'master',
      '--db',
      store(),
      '--log',
      logFile(),
      '--mysql-listen',
      'off',
      '--listen',
      master.address,
    ])
    expect(taken.code).toBe(1)
    expectOneLineError(taken.stderr, /address already in use/)
  })

  test('a log that does not belong to the store', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
    await (await cluster.master.client()).query('CREATE TABLE x (id INTEGER)')
    await cluster.master.stop()
    const r = await runDdb(['master', '--db', cluster.masterStore, '--log', logFile(), ...(await freePorts())])
    expect(r.code).toBe(1)
    expectOneLineError(r.stderr, /was written with log .*\(point --log at the log file this store was written with\)/)
  })

  test('ddb sql to a node that is not there, and a bad statement', async () => {
    const port = await freePort()
    const gone = await runDdb(['sql', 'SELECT 1', '--to', `127.0.0.1:${port}`])
    expect(gone.code).toBe(1)
    expectOneLineError(gone.stderr, new RegExp(`connect 127\\.0\\.0\\.1:${port}`))
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
    const { master } = cluster
    const bad = await runDdb(['sql', 'INSERT INTO nowhere VALUES (1)', '--to', master.address])
    expect(bad.code).toBe(1)
    expectOneLineError(bad.stderr, /no such table: nowhere/)
    const grant = await runDdb(['sql', 'GRANT ALL ON *.* TO x', '--to', master.address])
    expect(grant.code).toBe(1)
    expectOneLineError(grant.stderr, /not supported by statement replication/)
    // Nothing failed got logged.
    const status = await statusOf(master)
    expect(status.role === 'master' && status.offset).toBe(0)
  })

  test('a wrong secret is refused; the right one works', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0, secret: 's3cret' })
    const { master } = cluster
    const wrong = await runDdb(['sql', 'SELECT 1 AS one', '--to', master.address, '--secret', 'nope'])
    expect(wrong.code).toBe(1)
    expectOneLineError(wrong.stderr, /authentication failed/)
    const right = await runDdb(['sql', 'SELECT 1 AS one', '--to', master.address, '--json'], {
      env: { DDB_SECRET: 's3cret' },
    })
    expect(right.stdout.trim()).toBe('{"rows":[{"one":1}]}')
  })
})

describe('ddb sql --param', () => {
  test('parameters are stored in the entry and bound again on replay, never pasted into the text', async () => {
    await using cluster = await withCluster({ store: 'sqlite' })
    const { master, slave, log } = cluster
    await runDdb(['sql', 'CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)', '--to', master.address])
    const nasty = "it's; DROP TABLE p; --"
    const insert = await runDdb([
      'sql',
      'INSERT INTO p (id, v) VALUES (?, ?)',
      '--param',
      '7',
      '--param',
      nasty,
      '--to',
      master.address,
      '--json',
    ])
    expect(insert.code).toBe(0)
    const tail = await runDdb(['log', 'tail', '--log', log, '-n', '1', '--json'])
    expect(JSON.parse(tail.stdout).statements).toEqual([
      { sql: 'INSERT INTO p (id, v) VALUES (?, ?)', params: ['7', nasty], insertId: 7 },
    ])
    await waitApplied(slave, 2)
    const read = await runDdb([
      'sql',
      'SELECT id, v FROM p WHERE v = ?',
      '--param',
      nasty,
      '--to',
      slave.address,
      '--json',
    ])
    expect(JSON.parse(read.stdout)).toEqual({ rows: [{ id: 7, v: nasty }] })
  })
})

describe('ddb sql --mysql', () => {
  test('talks to a node over its MySQL port and prints as the mysql client does', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0, mysql: true })
    const { master } = cluster
    const to = `127.0.0.1:${await cluster.mysqlPort(master)}`
    const create = await runDdb([
      'sql',
      '--mysql',
      '--to',
      to,
      "CREATE TABLE m (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT); INSERT INTO m (name) VALUES ('Bo'), ('Al')",
    ])
    expect(create.stdout).toMatch(
      /^Query OK, 0 rows affected \(\d+\.\d\d sec\)\noffset 1\nQuery OK, 2 rows affected \(\d+\.\d\d sec\)\noffset 2\n$/,
    )
    const read = await runDdb(['sql', '--mysql', '--to', to, 'SELECT * FROM m'])
    expect(read.stdout).toContain('| 2  | Al   |')
    expect(read.stdout).toMatch(/2 rows in set \(\d+\.\d\d sec\)/)
    const json = await runDdb([
      'sql',
      '--mysql',
      '--to',
      to,
      '--json',
      'SELECT name FROM m WHERE id = ?',
      '--param',
      '1',
    ])
    expect(json.stdout.trim()).toBe('{"rows":[{"name":"Bo"}]}')
    const bad = await runDdb(['sql', '--mysql', '--to', to, 'SELECT * FROM nowhere'])
    expect(bad.code).toBe(1)
    expectOneLineError(bad.stderr, /^ddb: ERROR \d+ \(\w+\): .*nowhere/)
    expect(master.log()).toContain('mysql protocol listening')
  })
})

describe('ddb log tail', () => {
  test('prints 10,000 entries as JSON lines, the last 10 by default, and follows new ones', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
    const { master, log } = cluster
    const first = await master.client()
    await first.query('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
    await writeRows(master, 9_999, (i) => `INSERT INTO t (id, v) VALUES (${i + 2}, 'v${i + 2}')`, 16)

    const all = await runDdb(['log', 'tail', '--log', log, '--from', '1', '--json'])
    expect(all.code).toBe(0)
    const entries = all.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(entries).toHaveLength(10_000)
    expect(entries.map((e) => e.offset)).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1))
    expect(Object.keys(entries[1])).toEqual([
      'offset',
      'ts',
      'db',
      'statements',
      'affected',
      'epoch',
      'hash',
      'checksum',
    ])
    expect(entries[1].statements[0].sql).toMatch(/^INSERT INTO t/)

    const last = await runDdb(['log', 'tail', '--log', log])
    const lines = last.stdout.trim().split('\n')
    expect(lines).toHaveLength(10)
    expect(lines[9]).toMatch(/^#10000 \d{4}-\d\d-\d\dT.* INSERT INTO t/)

    const follow = Bun.spawn([...ddbCommand(), 'log', 'tail', '--log', log, '-n', '1', '--follow', '--json'], {
      stdout: 'pipe',
      stderr: 'pipe',
    })
    let seen = ''
    void (async () => {
      for await (const chunk of follow.stdout) seen += new TextDecoder().decode(chunk)
    })()
    await waitFor(() => seen.includes('"offset":10000'), { timeoutMs: 10_000, what: 'tail to print the newest entry' })
    await first.query(`INSERT INTO t (id, v) VALUES (10001, 'followed')`)
    await waitFor(() => seen.includes('followed'), { timeoutMs: 10_000, what: 'tail --follow to print the new entry' })
    follow.kill('SIGINT')
    expect(await follow.exited).toBe(0)
  })

  test('a missing log file is a clear error', async () => {
    const r = await runDdb(['log', 'tail', '--log', join(dir, 'nope.log')])
    expect(r.code).toBe(1)
    expectOneLineError(r.stderr, /no such file/)
  })
})

describe('the port under bad input', () => {
  /** Sends raw bytes, then waits for the server to close the connection. */
  async function sendRaw(address: string, bytes: Uint8Array, { end = false } = {}): Promise<void> {
    const [host, port] = address.split(':')
    const socket = net.connect(Number(port), host!)
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    socket.write(bytes)
    if (end) socket.end()
    await new Promise<void>((resolve) => {
      socket.on('close', () => resolve())
      socket.on('error', () => resolve())
      socket.resume()
    })
  }

  const frame = (body: string) => {
    const b = Buffer.from(body)
    const out = Buffer.alloc(4 + b.length)
    out.writeUInt32BE(b.length, 0)
    b.copy(out, 4)
    return out
  }

  test('malformed, oversized and truncated frames close only that connection', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
    const { master } = cluster
    const writer = await master.client()
    await writer.query('CREATE TABLE kept (id INTEGER PRIMARY KEY)')

    await sendRaw(master.address, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
    await sendRaw(master.address, frame('{not json'))
    await sendRaw(master.address, frame('{"type":"hello","protocol":1,"peer":"slave"}'))
    await sendRaw(master.address, Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]))
    await sendRaw(
      master.address,
      frame('{"type":"query","id":1,"sql":"DROP TABLE kept","params":[]}').subarray(0, 10),
      { end: true },
    )

    // Everyone else is still served, and nothing was logged by the garbage.
    await writer.query('INSERT INTO kept (id) VALUES (1)')
    expect(rowsOf(await writer.query('SELECT id FROM kept'))).toEqual([{ id: 1 }])
    const status = await statusOf(master)
    expect(status.role === 'master' && status.offset).toBe(2)
    await waitFor(() => master.log().includes('exceeds the maximum'), {
      timeoutMs: 5_000,
      what: 'the oversized frame to be logged',
    })
    expect(master.log()).toMatch(/connection closed .*reason=/)
  })
})

describe('the compiled binary', () => {
  test('replicates from a master to a slave and prints JSON', async () => {
    const options = { compiled: true }
    await using cluster = await withCluster({ store: 'sqlite', ...options })
    const { master, slave } = cluster
    const create = await runDdb(
      ['sql', 'CREATE TABLE c (id INTEGER PRIMARY KEY, name TEXT)', '--to', master.address, '--json'],
      options,
    )
    expect(create.stdout.trim()).toBe('{"offset":1,"affectedRows":0,"insertId":0}')
    const insert = await runDdb(
      ['sql', "INSERT INTO c (name) VALUES ('Ali')", '--to', master.address, '--json'],
      options,
    )
    expect(JSON.parse(insert.stdout)).toEqual({ offset: 2, affectedRows: 1, insertId: 1 })
    await waitApplied(slave, 2)
    const read = await runDdb(['sql', 'SELECT * FROM c', '--to', slave.address, '--json'], options)
    expect(read.stdout.trim()).toBe('{"rows":[{"id":1,"name":"Ali"}]}')
    const table = await runDdb(['sql', 'SELECT * FROM c', '--to', slave.address], options)
    expect(table.stdout).toContain('| 1  | Ali  |')
    const status = JSON.parse((await runDdb(['status', '--to', slave.address, '--json'], options)).stdout)
    expect(status).toMatchObject({ role: 'slave', master: master.address, applied: 2, connected: true })
    const mstatus = JSON.parse((await runDdb(['status', '--to', master.address, '--json'], options)).stdout)
    expect(mstatus).toMatchObject({
      role: 'master',
      offset: 2,
      replicas: [{ address: slave.address, applied: 2, connected: true }],
    })
  })
})
