/**
 * Every failure explains itself, in the node's log and in `ddb status` on both
 * sides (issue 11, part 4): a port that is not ddb's, a refused or silent
 * master, a wrong secret, a foreign log, a corrupt entry, a master that drops
 * the slave at once; lag is unknown while disconnected; `ddb status` exits 1
 * when applying has stopped.
 */
import { Database } from 'bun:sqlite'
import { expect, test } from 'bun:test'
import net from 'node:net'
import { join } from 'node:path'
import { createLogger } from '../src/logger.ts'
import { greet } from '../src/wire/handshake.ts'
import type { NodeStatus } from '../src/wire/messages.ts'
import { withCluster } from './support/cluster.ts'
import { write } from './support/compare.ts'
import { type DdbNode, runDdb, startMaster, startSlave, statusOf, waitApplied } from './support/ddb.ts'
import { startMariadb } from './support/mariadb.ts'
import { freePort, tempDir, waitFor } from './support/util.ts'

type SlaveStatus = Extract<NodeStatus, { role: 'slave' }>
type MasterStatus = Extract<NodeStatus, { role: 'master' }>

async function slaveStatus(slave: DdbNode): Promise<SlaveStatus> {
  const s = await statusOf(slave)
  if (s.role !== 'slave') throw new Error(`${slave.address} is not a slave`)
  return s
}

async function masterStatus(master: DdbNode): Promise<MasterStatus> {
  const s = await statusOf(master)
  if (s.role !== 'master') throw new Error(`${master.address} is not a master`)
  return s
}

/** Waits until the slave's status error contains `text`; returns that status. */
async function waitForError(slave: DdbNode, text: string): Promise<SlaveStatus> {
  const s = await waitFor(
    async () => {
      const s = await slaveStatus(slave)
      return s.error?.includes(text) ? s : null
    },
    { timeoutMs: 30_000, what: `the slave's status to say "${text}"` },
  )
  return s!
}

/** Waits until the node's log holds `text` (its stderr arrives on its own pipe, maybe after the status). */
function waitForLog(node: DdbNode, text: string): Promise<boolean> {
  return waitFor(() => node.log().includes(text), { timeoutMs: 10_000, what: `"${text}" in the log` })
}

/** A TCP server in this process; disposing it closes it and every connection. */
async function tcpServer(onConnection: (socket: net.Socket) => void) {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    onConnection(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

const count = (text: string, what: string) => text.split(what).length - 1

test('a slave pointed at a MariaDB server says it is not a ddb port; so do ddb status and ddb sql', async () => {
  await using mariadb = await startMariadb()
  await using dir = await tempDir('ddb-failures-')
  const address = `127.0.0.1:${mariadb.port}`
  const expected = `${address} is not a ddb port (it sent a MySQL server greeting)`
  await using slave = await startSlave(address, `sqlite:${join(dir.path, 's.sqlite')}`)
  const s = await waitForError(slave, expected)
  expect(s).toMatchObject({ connected: false, lagEntries: null, lagSeconds: null, stopped: false })
  await waitForLog(slave, expected)
  for (const args of [['status'], ['status', '--json'], ['sql', 'SELECT 1']]) {
    const run = await runDdb([...args, '--to', address])
    expect({ args, code: run.code, stderr: run.stderr }).toEqual({ args, code: 1, stderr: `ddb: ${expected}\n` })
  }
})

test('a refused connection and a handshake timeout say so, with the address, in the log and the status', async () => {
  await using dir = await tempDir('ddb-failures-')
  const nobody = `127.0.0.1:${await freePort()}`
  await using refused = await startSlave(nobody, `sqlite:${join(dir.path, 'a.sqlite')}`)
  await waitForError(refused, `connect ${nobody}: connection refused`)
  await waitForLog(refused, `connect ${nobody}: connection refused`)

  await using silent = await tcpServer(() => {}) // accepts, never speaks (as Redis or HTTP would)
  await using waiting = await startSlave(silent.address, `sqlite:${join(dir.path, 'b.sqlite')}`)
  const s = await waitForError(waiting, `${silent.address} sent no greeting within 5000 ms`)
  expect(s.lagEntries).toBeNull()
  await waitForLog(waiting, `${silent.address} sent no greeting within 5000 ms`)
})

test("a wrong secret: the slave's status carries the master's refusal, and clears once the link works", async () => {
  await using dir = await tempDir('ddb-failures-')
  const address = `127.0.0.1:${await freePort()}`
  const db = `sqlite:${join(dir.path, 'm.sqlite')}`
  const log = join(dir.path, 'log.sqlite')
  const master = await startMaster(db, log, { listen: address, env: { DDB_SECRET: 'right' } })
  await using slave = await startSlave(address, `sqlite:${join(dir.path, 's.sqlite')}`, {
    env: { DDB_SECRET: 'wrong' },
  })
  const s = await waitForError(slave, 'authentication failed: wrong secret')
  expect(s.error).toStartWith(`the master at ${address} refused this slave: `)
  expect(s.stopped).toBe(false)
  await waitForLog(slave, 'master refused this slave')
  await master.stop()
  await using fixed = await startMaster(db, log, { listen: address, env: { DDB_SECRET: 'wrong' } })
  await waitFor(async () => (await slaveStatus(slave)).error === null, {
    timeoutMs: 30_000,
    what: "the slave's error to clear",
  })
  expect((await masterStatus(fixed)).replicas).toHaveLength(1)
})

test("a foreign log: the slave's status says LOG_MISMATCH's reason", async () => {
  await using cluster = await withCluster({ store: 'sqlite' })
  await waitApplied(cluster.slave, await write(cluster.master, 'CREATE TABLE t (id INTEGER PRIMARY KEY)'))
  await cluster.master.stop()
  await using dir = await tempDir('ddb-failures-')
  await using other = await startMaster(`sqlite:${join(dir.path, 'o.sqlite')}`, join(dir.path, 'o.log'), {
    listen: cluster.masterAddress,
  })
  const s = await waitForError(cluster.slave, 'holds entries of log')
  expect(s.error).toContain(`but this master's log is ${(await masterStatus(other)).logId}`)
  expect(s).toMatchObject({ connected: false, lagEntries: null, lagSeconds: null })
})

test('lag is null while disconnected, on the slave and in the master list of replicas', async () => {
  await using cluster = await withCluster({ store: 'sqlite' })
  const { master, slave } = cluster
  await waitApplied(slave, await write(master, 'CREATE TABLE t (id INTEGER PRIMARY KEY)'))
  expect(await slaveStatus(slave)).toMatchObject({ connected: true, lagEntries: 0, lagSeconds: 0, error: null })
  await slave.kill9()
  const replica = await waitFor(async () => (await masterStatus(master)).replicas.find((r) => !r.connected), {
    timeoutMs: 30_000,
    what: 'the master to see the slave gone',
  })
  expect(replica).toMatchObject({ lagEntries: null, lagSeconds: null })
  const text = await runDdb(['status', '--to', master.address])
  expect(text.stdout).toMatch(/\| unknown +\| unknown +\| no /)

  const restarted = await cluster.restartSlave(slave)
  await waitApplied(restarted, 1)
  await master.stop()
  const s = await waitFor(
    async () => {
      const st = await slaveStatus(restarted)
      return st.connected ? null : st
    },
    { timeoutMs: 30_000, what: 'the slave to see the master gone' },
  )
  expect(s).toMatchObject({ lagEntries: null, lagSeconds: null })
  expect(s?.error).toContain(cluster.masterAddress)
  expect((await runDdb(['status', '--to', restarted.address])).stdout).toContain('lag        unknown')
})

test('a master that drops the slave right after the welcome is retried with a growing back-off', async () => {
  const logger = createLogger({}, { write: () => {} })
  let attempts = 0
  await using master = await tcpServer((socket) =>
    greet(socket, {
      role: 'master',
      secret: '',
      logger,
      accept: (peer) => {
        attempts++
        return { logId: null, offset: 0, onMessage: () => {}, onClose: () => {}, start: () => peer.close(null) }
      },
      onEnd: () => {},
    }),
  )
  await using dir = await tempDir('ddb-failures-')
  await using slave = await startSlave(master.address, `sqlite:${join(dir.path, 's.sqlite')}`)
  await waitFor(() => attempts > 0, { timeoutMs: 30_000, what: 'the first attach' })
  const first = attempts
  // Retries wait 100, 200, 400, 800, 1600 ms …: at most 5 more in 3 s (every 100 ms would be about 30).
  await Bun.sleep(3_000)
  expect(attempts - first).toBeLessThanOrEqual(5)
  const s = await slaveStatus(slave)
  expect(s.error).toBe(`connection to the master at ${master.address} ended right after attaching: closed`)
  expect(count(slave.log(), 'connection to master ended right after attaching')).toBe(1)
})

test('a corrupt entry in the master log: both sides say which and why, once, and the slave backs off', async () => {
  await using dir = await tempDir('ddb-failures-')
  const address = `127.0.0.1:${await freePort()}`
  const db = `sqlite:${join(dir.path, 'm.sqlite')}`
  const log = join(dir.path, 'log.sqlite')
  const first = await startMaster(db, log, { listen: address })
  for (let i = 1; i <= 3; i++) await write(first, `CREATE TABLE t${i} (id INTEGER PRIMARY KEY)`)
  await first.stop()
  const file = new Database(log)
  file.run('UPDATE entries SET checksum = checksum + 1 WHERE offset = 2')
  file.close()
  await using master = await startMaster(db, log, { listen: address })
  await using slave = await startSlave(address, `sqlite:${join(dir.path, 's.sqlite')}`)
  const s = await waitForError(slave, 'log entry 2 is corrupt: checksum mismatch')
  expect(s.error).toStartWith(`the master at ${address} cannot stream: `)
  expect(s.lagEntries).toBeNull()
  const replica = (await masterStatus(master)).replicas[0]
  expect(replica?.error).toContain('log entry 2 is corrupt: checksum mismatch')
  expect(replica?.stopped).toBe(false)
  const attached = () => count(master.log(), 'slave attached')
  const before = attached()
  await Bun.sleep(3_000)
  expect(attached() - before).toBeLessThanOrEqual(5)
  expect(count(master.log(), 'cannot stream to slave')).toBe(1)
  expect(count(slave.log(), 'master cannot stream to this slave')).toBe(1)
})

test('ddb status exits 1, text and JSON, when the slave or one of the master replicas has stopped applying', async () => {
  await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
  const { master } = cluster
  await write(master, 'CREATE TABLE d (id INTEGER PRIMARY KEY, v INTEGER)')
  const slave = await cluster.addSlave()
  await waitApplied(slave, await write(master, 'INSERT INTO d (id, v) VALUES (1, 10)'))
  expect((await runDdb(['status', '--to', master.address])).code).toBe(0)
  expect((await runDdb(['status', '--to', slave.address])).code).toBe(0)
  await cluster.direct(slave, 'DELETE FROM d WHERE id = 1')
  const bad = await write(master, 'UPDATE d SET v = 11 WHERE id = 1')
  const stopped = await waitForError(slave, `entry ${bad}`)
  expect(stopped.stopped).toBe(true)
  await waitFor(async () => (await masterStatus(master)).replicas[0]?.stopped, {
    timeoutMs: 30_000,
    what: 'the master to see the slave stopped',
  })
  for (const json of [[], ['--json']]) {
    const own = await runDdb(['status', '--to', slave.address, ...json])
    expect(own.code).toBe(1)
    expect(own.stderr).toStartWith(`ddb: this slave has stopped applying: ${stopped.error}`)
    const ofMaster = await runDdb(['status', '--to', master.address, ...json])
    expect(ofMaster.code).toBe(1)
    expect(ofMaster.stderr).toMatch(/^ddb: slave \S+ has stopped applying: /)
    if (json.length) expect(JSON.parse(own.stdout)).toMatchObject({ role: 'slave', stopped: true })
    else expect(own.stdout).toContain('(stopped applying)')
  }
})
