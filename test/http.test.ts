import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { BACKEND_KINDS } from './support/backends.ts'
import { type Cluster, withCluster } from './support/cluster.ts'
import { type DdbNode, ddbCommand, waitApplied } from './support/ddb.ts'
import { freePort, waitFor } from './support/util.ts'

/** A ddb node with its HTTP API's base URL. */
interface HttpNode {
  node: DdbNode
  url: string
}

/** A node of a cluster started with `http: true`, with its HTTP API's base URL. */
function httpNode(cluster: Cluster, node: DdbNode): HttpNode {
  return { node, url: cluster.httpUrl(node) }
}

/** A JSON answer: status and body. */
async function call(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init)
  return { status: res.status, body: await res.json() }
}

/** POST /sql with a JSON body. */
function postSql(node: HttpNode, body: unknown): Promise<{ status: number; body: any }> {
  return call(`${node.url}/sql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

/** GET /sql?q=… with extra query parameters. */
function getSql(node: HttpNode, sql: string, extra = ''): Promise<{ status: number; body: any }> {
  return call(`${node.url}/sql?q=${encodeURIComponent(sql)}${extra}`)
}

async function masterOffset(node: HttpNode): Promise<number> {
  const { body } = await call(`${node.url}/status`)
  expect(body.role).toBe('master')
  return body.offset
}

for (const kind of BACKEND_KINDS) {
  describe(`HTTP API on ${kind} stores`, () => {
    let cluster: Cluster
    let master: HttpNode
    let slave: HttpNode
    let created: number

    beforeAll(async () => {
      cluster = await withCluster({ store: kind, http: true })
      master = httpNode(cluster, cluster.master)
      slave = httpNode(cluster, cluster.slave)
      const { status, body } = await postSql(master, {
        sql: 'CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(50))',
      })
      expect(status).toBe(200)
      created = body.results[0].offset
    })

    afterAll(async () => {
      await cluster?.[Symbol.asyncDispose]()
    })

    test('a write via POST on the master, then a read via GET on the slave', async () => {
      const write = await postSql(master, { sql: 'INSERT INTO people (id, name) VALUES (?, ?)', params: [1, 'Ali'] })
      expect(write.status).toBe(200)
      expect(write.body).toEqual({ results: [{ offset: created + 1, affectedRows: 1, insertId: expect.any(Number) }] })

      await waitApplied(slave.node, created + 1)
      const read = await getSql(slave, 'SELECT id, name FROM people ORDER BY id')
      expect(read.status).toBe(200)
      expect(read.body).toEqual({ results: [{ columns: ['id', 'name'], rows: [{ id: 1, name: 'Ali' }] }] })

      // read-your-writes on the slave: min_offset waits for the write just made
      const next = await postSql(master, { sql: "INSERT INTO people (id, name) VALUES (2, 'Bea')" })
      const fresh = await getSql(
        slave,
        'SELECT COUNT(*) AS n FROM people',
        `&min_offset=${next.body.results[0].offset}`,
      )
      expect(fresh.body.results[0].rows).toEqual([{ n: 2 }])
      const stale = await getSql(slave, 'SELECT 1', `&min_offset=${next.body.results[0].offset + 1000}&wait_ms=100`)
      expect(stale.status).toBe(503)
      expect(stale.body.error.code).toBe('STALE_READ')
    })

    test('statements[] runs as one transaction: one entry', async () => {
      const before = await masterOffset(master)
      const { status, body } = await postSql(master, {
        statements: [
          { sql: 'INSERT INTO people (id, name) VALUES (?, ?)', params: [10, 'Cem'] },
          { sql: "INSERT INTO people (id, name) VALUES (11, 'Dana')" },
          { sql: "UPDATE people SET name = 'Cemal' WHERE id = 10" },
          { sql: 'SELECT COUNT(*) AS n FROM people WHERE id >= 10' },
        ],
      })
      expect(status).toBe(200)
      expect(body.offset).toBe(before + 1)
      expect(body.results).toHaveLength(4)
      expect(body.results[3].rows).toEqual([{ n: 2 }])
      expect(await masterOffset(master)).toBe(before + 1)

      await waitApplied(slave.node, before + 1)
      const read = await getSql(slave, 'SELECT id, name FROM people WHERE id >= 10 ORDER BY id')
      expect(read.body.results[0].rows).toEqual([
        { id: 10, name: 'Cemal' },
        { id: 11, name: 'Dana' },
      ])
    })

    test('a failing statement in statements[] rolls the whole transaction back', async () => {
      const before = await masterOffset(master)
      const { status, body } = await postSql(master, {
        statements: [
          { sql: "INSERT INTO people (id, name) VALUES (20, 'Eda')" },
          { sql: "INSERT INTO people (id, name) VALUES (1, 'again')" },
        ],
      })
      expect(status).toBe(422)
      expect(body.error.code).toBe('STORE')
      expect(body.error.message).toStartWith('statements[1]: ')
      expect(await masterOffset(master)).toBe(before)
      const read = await getSql(master, 'SELECT COUNT(*) AS n FROM people WHERE id = 20')
      expect(read.body.results[0].rows).toEqual([{ n: 0 }])
    })

    test('a write on the slave is 403 NOT_MASTER naming the master', async () => {
      const { status, body } = await postSql(slave, { sql: 'DELETE FROM people' })
      expect(status).toBe(403)
      expect(body.error.code).toBe('NOT_MASTER')
      expect(body.error.message).toContain(master.node.address)
    })

    test('a --forward-writes slave passes a POST write on to the master; SIGTERM stops it cleanly', async () => {
      const forwarding = httpNode(cluster, await cluster.addSlave({ args: ['--forward-writes'] }))
      try {
        const write = await postSql(forwarding, { sql: "INSERT INTO people (id, name) VALUES (30, 'Fud')" })
        expect(write.status).toBe(200)
        const offset = write.body.results[0].offset
        expect(offset).toBe(await masterOffset(master))
        const read = await getSql(forwarding, 'SELECT name FROM people WHERE id = 30', `&min_offset=${offset}`)
        expect(read.body.results[0].rows).toEqual([{ name: 'Fud' }])
        const ddl = await postSql(forwarding, { sql: 'DROP TABLE people' })
        expect([ddl.status, ddl.body.error.code]).toEqual([403, 'NOT_MASTER'])
        expect(await forwarding.node.stop()).toBe(0)
      } finally {
        await forwarding.node[Symbol.asyncDispose]()
      }
    })

    if (kind === 'mysql') {
      test('db picks the database a request runs in', async () => {
        expect((await postSql(master, { sql: 'CREATE DATABASE other' })).status).toBe(200)
        const created = await postSql(master, {
          sql: 'CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(20))',
          db: 'other',
        })
        expect(created.status).toBe(200)
        const inserted = await postSql(master, {
          statements: [{ sql: "INSERT INTO notes VALUES (1, 'hi')" }],
          db: 'other',
        })
        expect(inserted.status).toBe(200)
        const read = await getSql(slave, 'SELECT body FROM notes', `&db=other&min_offset=${inserted.body.offset}`)
        expect(read.body.results[0].rows).toEqual([{ body: 'hi' }])
        const unknown = await getSql(master, 'SELECT body FROM notes')
        expect(unknown.status).toBe(422)
      })
    }

    test('bad requests get JSON errors, and the node keeps serving', async () => {
      for (const node of [master, slave]) {
        const badJson = await call(`${node.url}/sql`, { method: 'POST', body: '{"sql": "SELECT 1"' })
        expect([badJson.status, badJson.body.error.code]).toEqual([400, 'BAD_JSON'])

        const missing = await postSql(node, { params: [1] })
        expect([missing.status, missing.body.error.code]).toEqual([400, 'BAD_REQUEST'])
        expect(missing.body.error.message).toContain('sql')

        const huge = await call(`${node.url}/sql`, {
          method: 'POST',
          body: JSON.stringify({ sql: 'SELECT 1', pad: 'x'.repeat(17 * 1024 * 1024) }),
        })
        expect([huge.status, huge.body.error.code]).toEqual([413, 'BODY_TOO_LARGE'])

        const unknown = await call(`${node.url}/nope`)
        expect([unknown.status, unknown.body.error.code]).toEqual([404, 'NOT_FOUND'])

        const writeViaGet = await getSql(node, 'DELETE FROM people')
        expect([writeViaGet.status, writeViaGet.body.error.code]).toEqual([405, 'METHOD_NOT_ALLOWED'])
      }

      const duplicate = await postSql(master, { sql: "INSERT INTO people (id, name) VALUES (1, 'dup')" })
      expect([duplicate.status, duplicate.body.error.code]).toEqual([422, 'STORE'])
      const unsafe = await postSql(master, {
        sql: kind === 'mysql' ? 'UPDATE people SET name = UUID()' : 'UPDATE people SET name = random()',
      })
      expect([unsafe.status, unsafe.body.error.code]).toEqual([409, 'UNSAFE_STATEMENT'])
      const noTable = await getSql(slave, 'SELECT * FROM no_such_table')
      expect([noTable.status, noTable.body.error.code]).toEqual([422, 'STORE'])

      const masterStatus = await call(`${master.url}/status`)
      expect(masterStatus.status).toBe(200)
      expect(masterStatus.body.role).toBe('master')
      const slaveStatus = await call(`${slave.url}/status`)
      expect(slaveStatus.status).toBe(200)
      expect(slaveStatus.body).toMatchObject({ role: 'slave', master: master.node.address, connected: true })
      expect(master.node.proc.exitCode).toBeNull()
      expect(slave.node.proc.exitCode).toBeNull()
    })
  })
}

describe('--http', () => {
  test('with --secret, requests must send it as a Bearer token', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0, http: true, secret: 'hush' })
    const { master } = cluster
    const url = cluster.httpUrl(master)
    await waitFor(async () => (await fetch(`${url}/status`)).status === 401, {
      timeoutMs: 30_000,
      what: `HTTP API at ${url}`,
    })
    const denied = await call(`${url}/sql`, { method: 'POST', body: JSON.stringify({ sql: 'SELECT 1' }) })
    expect([denied.status, denied.body.error.code]).toEqual([401, 'AUTH'])
    const allowed = await call(`${url}/sql`, {
      method: 'POST',
      headers: { authorization: 'Bearer hush' },
      body: JSON.stringify({ sql: 'SELECT 1 AS one' }),
    })
    expect(allowed.body).toEqual({ results: [{ columns: ['one'], rows: [{ one: 1 }] }] })
    expect(master.proc.exitCode).toBeNull()
  })

  test('a port in use stops the node with a one-line LISTEN error', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0, http: true })
    const url = cluster.httpUrl(cluster.master)
    const port = url.split(':').at(-1)
    const second = [
      'master',
      '--db',
      await cluster.newStore(),
      '--log',
      join(cluster.dir, 'b.log'),
      '--listen',
      `127.0.0.1:${await freePort()}`,
      '--http',
      `127.0.0.1:${port}`,
      '--mysql-listen',
      'off', // never the default 3307: a master the README started may hold it
    ]
    const proc = Bun.spawn([...ddbCommand(), ...second], {
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      timeout: 30_000,
    })
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()])
    expect(code).toBe(1)
    expect(stderr).not.toContain('http api listening')
    expect(stderr).toContain(`http listen 127.0.0.1:${port}: address already in use`)
    expect(stderr).not.toContain('    at ')
  })
})
