import { describe, expect, test } from 'bun:test'
import { createServer } from 'node:net'
import { type FakeNode, fakeNode } from '../../../test/support/fake-node.ts'
import { DdbError, StaleReadError, StoreError } from '../../errors.ts'
import { createLogger } from '../../logger.ts'
import type { ClientTransaction } from '../../master/client-transaction.ts'
import type { NodeStatus } from '../../wire/messages.ts'
import { createHttpHandler, MAX_BODY_BYTES, startHttpServer } from './http-api.ts'

/** A slave that refuses writes, as `ddb slave` without --forward-writes does. */
function fakeSlave(): FakeNode {
  return fakeNode({ role: 'slave' })
}

function post(body: unknown, path = '/sql'): Request {
  return new Request(`http://x${path}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

/** Sends a request and returns its status and parsed JSON body. */
async function send(
  handler: (req: Request) => Promise<Response>,
  req: Request,
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await handler(req)
  expect(res.headers.get('content-type')).toContain('application/json')
  return { status: res.status, body: await res.json(), headers: res.headers }
}

describe('GET /status', () => {
  test('answers node.status() as it is', async () => {
    const node = fakeNode()
    const { status, body } = await send(createHttpHandler(node), new Request('http://x/status'))
    expect(status).toBe(200)
    expect(body).toEqual(node.status() as any)
  })

  test('POST /status is 405 with Allow', async () => {
    const { status, body, headers } = await send(createHttpHandler(fakeNode()), post({}, '/status'))
    expect(status).toBe(405)
    expect(body.error.code).toBe('METHOD_NOT_ALLOWED')
    expect(headers.get('allow')).toBe('GET')
  })
})

describe('POST /sql', () => {
  test('a read answers columns and rows', async () => {
    const node = fakeNode()
    const { status, body } = await send(
      createHttpHandler(node),
      post({ sql: 'SELECT * FROM t WHERE id = ?', params: [1] }),
    )
    expect(status).toBe(200)
    expect(body).toEqual({ results: [{ columns: ['id', 'name'], rows: [{ id: 1, name: 'Ali' }] }] })
    expect(node.calls).toEqual(['read SELECT * FROM t WHERE id = ? [1]'])
  })

  test('a write answers its offset, and params are bound, bytes included', async () => {
    const node = fakeNode()
    const { status, body } = await send(
      createHttpHandler(node),
      post({ sql: 'INSERT INTO t VALUES (?, ?)', params: [1, { $bytes: 'AAE=' }] }),
    )
    expect(status).toBe(200)
    expect(body).toEqual({ results: [{ offset: 1, affectedRows: 1, insertId: 1 }] })
    expect(node.calls).toEqual(['write INSERT INTO t VALUES (?, ?) [1,{"$bytes":"AAE="}]'])
  })

  test('several statements answer one result each; USE-like session statements answer ok', async () => {
    const { body } = await send(
      createHttpHandler(fakeNode()),
      post({ sql: 'SET NAMES utf8mb4; INSERT INTO t VALUES (1); SELECT 1' }),
    )
    expect(body.results).toEqual([
      { ok: true },
      { offset: 1, affectedRows: 1, insertId: 1 },
      { columns: ['id', 'name'], rows: [{ id: 1, name: 'Ali' }] },
    ])
  })

  test('min_offset waits first, with wait_ms or the default 5000 ms', async () => {
    const node = fakeNode()
    const handler = createHttpHandler(node)
    await send(handler, post({ sql: 'SELECT 1', min_offset: 4, wait_ms: 250 }))
    await send(handler, post({ sql: 'SELECT 1', min_offset: 5 }))
    expect(node.calls.filter((c) => c.startsWith('wait'))).toEqual(['wait 4 250', 'wait 5 5000'])
  })

  test('a read that cannot reach min_offset in time is 503 STALE_READ with Retry-After', async () => {
    const node = fakeNode({
      waitForOffset: async (n, ms) => {
        throw new StaleReadError('slave', 3, n, ms)
      },
    })
    const { status, body, headers } = await send(
      createHttpHandler(node),
      post({ sql: 'SELECT 1', min_offset: 9, wait_ms: 10 }),
    )
    expect(status).toBe(503)
    expect(body.error.code).toBe('STALE_READ')
    expect(body.error.message).toContain('below the requested 9')
    expect(body.error.hint).toBeString()
    expect(headers.get('retry-after')).toBe('1')
  })

  test('a write on a slave is 403 NOT_MASTER naming the master', async () => {
    const { status, body } = await send(createHttpHandler(fakeSlave()), post({ sql: 'DELETE FROM t' }))
    expect(status).toBe(403)
    expect(body.error.code).toBe('NOT_MASTER')
    expect(body.error.message).toContain('10.0.0.1:8080')
  })

  test('a read on a slave works', async () => {
    const { status } = await send(createHttpHandler(fakeSlave()), post({ sql: 'SELECT 1' }))
    expect(status).toBe(200)
  })
})

describe('POST /sql with statements[]', () => {
  test('runs BEGIN, each statement, COMMIT in one session and answers the COMMIT offset', async () => {
    const node = fakeNode()
    const { status, body } = await send(
      createHttpHandler(node),
      post({
        statements: [
          { sql: 'INSERT INTO t VALUES (?)', params: [1] },
          { sql: 'UPDATE t SET a = 2' },
          { sql: 'SELECT COUNT(*) AS n FROM t' },
        ],
      }),
    )
    expect(status).toBe(200)
    expect(body).toEqual({
      results: [
        { offset: 0, affectedRows: 1, insertId: 7 },
        { offset: 0, affectedRows: 1, insertId: 7 },
        { columns: ['n'], rows: [{ n: 1 }] },
      ],
      offset: 1,
    })
    expect(node.calls).toEqual([
      'begin',
      'txn write INSERT INTO t VALUES (?)',
      'txn write UPDATE t SET a = 2',
      'txn read SELECT COUNT(*) AS n FROM t',
      'commit',
    ])
  })

  test('an error rolls back, and names the statement that failed', async () => {
    const node = fakeNode()
    const { status, body } = await send(
      createHttpHandler(node),
      post({
        statements: [{ sql: 'INSERT INTO t VALUES (1)' }, { sql: "INSERT INTO t VALUES ('dup')" }, { sql: 'SELECT 1' }],
      }),
    )
    expect(status).toBe(422)
    expect(body.error).toEqual({ code: 'STORE', message: 'statements[1]: Duplicate entry' })
    expect(node.calls).toEqual([
      'begin',
      'txn write INSERT INTO t VALUES (1)',
      "txn write INSERT INTO t VALUES ('dup')",
      'rollback',
    ])
  })

  test('BEGIN, COMMIT or ROLLBACK inside statements[] is 400 and nothing runs', async () => {
    const node = fakeNode()
    const { status, body } = await send(
      createHttpHandler(node),
      post({ statements: [{ sql: 'INSERT INTO t VALUES (1)' }, { sql: 'COMMIT' }] }),
    )
    expect(status).toBe(400)
    expect(body.error.code).toBe('BAD_REQUEST')
    expect(body.error.message).toStartWith('statements[1].sql: COMMIT')
    expect(node.calls).toEqual([])
  })

  test('only reads: offset null', async () => {
    const node = fakeNode()
    node.beginTransaction = async () =>
      ({
        read: async () => ({ columns: [], rows: [] }),
        commit: async () => null,
        rollback: async () => {},
      }) as unknown as ClientTransaction
    const { body } = await send(createHttpHandler(node), post({ statements: [{ sql: 'SELECT 1' }] }))
    expect(body).toEqual({ results: [{ columns: [], rows: [] }], offset: null })
  })

  test('a write in a transaction on a slave is 403 NOT_MASTER', async () => {
    const { status, body } = await send(
      createHttpHandler(fakeSlave()),
      post({ statements: [{ sql: 'SELECT 1' }, { sql: 'DELETE FROM t' }] }),
    )
    expect(status).toBe(403)
    expect(body.error.message).toStartWith('statements[1]: ')
    expect(body.error.message).toContain('10.0.0.1:8080')
  })
})

describe('GET /sql', () => {
  test('runs a read from q, with min_offset and db', async () => {
    const node = fakeNode()
    const { status, body } = await send(
      createHttpHandler(node),
      new Request(`http://x/sql?q=${encodeURIComponent('SELECT * FROM t')}&min_offset=3&wait_ms=100`),
    )
    expect(status).toBe(200)
    expect(body.results[0].rows).toEqual([{ id: 1, name: 'Ali' }])
    expect(node.calls).toEqual(['wait 3 100', 'read SELECT * FROM t []'])
  })

  test.each([['INSERT INTO t VALUES (1)'], ['SELECT 1; DELETE FROM t'], ['CREATE TABLE u (a INT)'], ['BEGIN']])(
    'refuses a non-read with 405: %s',
    async (sql) => {
      const node = fakeNode()
      const { status, body } = await send(
        createHttpHandler(node),
        new Request(`http://x/sql?q=${encodeURIComponent(sql)}`),
      )
      expect(status).toBe(405)
      expect(body.error.code).toBe('METHOD_NOT_ALLOWED')
      expect(body.error.hint).toContain('POST')
      expect(node.calls).toEqual([])
    },
  )

  test.each([
    ['/sql', 'q: missing'],
    ['/sql?q=SELECT+1&min_offset=abc', 'min_offset: expected a whole number'],
    ['/sql?q=SELECT+1&sql=x', 'sql: unknown query parameter'],
    ['/sql?q=+', 'q: empty statement'],
  ])('%s is 400 BAD_REQUEST', async (path, message) => {
    const { status, body } = await send(createHttpHandler(fakeNode()), new Request(`http://x${path}`))
    expect(status).toBe(400)
    expect(body.error.code).toBe('BAD_REQUEST')
    expect(body.error.message).toStartWith(message)
  })

  test('an unterminated string is 400 SQL_SYNTAX', async () => {
    const { status, body } = await send(
      createHttpHandler(fakeNode()),
      new Request(`http://x/sql?q=${encodeURIComponent("SELECT 'abc")}`),
    )
    expect(status).toBe(400)
    expect(body.error.code).toBe('SQL_SYNTAX')
  })
})

describe('bad requests', () => {
  const handler = createHttpHandler(fakeNode())

  test('invalid JSON is 400 BAD_JSON', async () => {
    const { status, body } = await send(handler, post('{"sql": '))
    expect(status).toBe(400)
    expect(body.error.code).toBe('BAD_JSON')
    expect(body.error.message).toStartWith('request body: invalid JSON')
  })

  test('invalid UTF-8 is 400 BAD_JSON', async () => {
    const { status, body } = await send(
      handler,
      new Request('http://x/sql', { method: 'POST', body: new Uint8Array([0x7b, 0xff, 0x7d]) }),
    )
    expect(status).toBe(400)
    expect(body.error.code).toBe('BAD_JSON')
  })

  test.each([
    ['[]', 'request body: expected a JSON object'],
    ['{}', 'sql: missing'],
    ['{"sql": 5}', 'sql: expected a string'],
    ['{"sql": "  "}', 'sql: empty statement'],
    ['{"sql": "SELECT 1", "params": "1"}', 'params: expected an array'],
    ['{"sql": "SELECT ?", "params": [[1]]}', 'params[0]: expected null, a boolean'],
    ['{"sql": "SELECT ?", "params": [{"$bytes": 1}]}', 'params[0]: expected null, a boolean'],
    ['{"sql": "SELECT 1", "param": [1]}', 'param: unknown field'],
    ['{"sql": "SELECT 1", "min_offset": -1}', 'min_offset: expected an offset'],
    ['{"sql": "SELECT 1", "min_offset": "3"}', 'min_offset: expected an offset'],
    ['{"sql": "SELECT 1", "wait_ms": 1e9}', 'wait_ms: expected milliseconds'],
    ['{"sql": "SELECT 1", "db": 3}', 'db: expected a database name'],
    ['{"statements": {}}', 'statements: expected an array'],
    ['{"statements": []}', 'statements: expected at least one statement'],
    ['{"statements": ["SELECT 1"]}', 'statements[0]: expected an object'],
    ['{"statements": [{"sql": "SELECT 1"}, {"params": []}]}', 'statements[1].sql: missing'],
    ['{"statements": [{"sql": "SELECT 1", "db": "x"}]}', 'statements[0].db: unknown field'],
    ['{"statements": [{"sql": "SELECT ?", "params": [{}]}]}', 'statements[0].params[0]: expected null'],
    ['{"sql": "SELECT 1", "statements": [{"sql": "SELECT 1"}]}', 'statements: give either sql'],
  ])('%s is 400 BAD_REQUEST', async (text, message) => {
    const { status, body } = await send(handler, post(text))
    expect(status).toBe(400)
    expect(body.error.code).toBe('BAD_REQUEST')
    expect(body.error.message).toStartWith(message)
  })

  test('params with several statements is 400 USAGE', async () => {
    const { status, body } = await send(handler, post({ sql: 'SELECT ?; SELECT ?', params: [1] }))
    expect(status).toBe(400)
    expect(body.error.code).toBe('USAGE')
  })

  test('a body over the limit by Content-Length is 413 BODY_TOO_LARGE', async () => {
    expect(MAX_BODY_BYTES).toBe(16 * 1024 * 1024)
    const req = new Request('http://x/sql', {
      method: 'POST',
      body: '{}',
      headers: { 'content-length': String(MAX_BODY_BYTES + 1) },
    })
    const { status, body } = await send(handler, req)
    expect(status).toBe(413)
    expect(body.error.code).toBe('BODY_TOO_LARGE')
  })

  test('a streamed body over the limit is 413 while reading, without reading it all', async () => {
    let pulled = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled++
        if (pulled > 1000) return c.close()
        c.enqueue(new Uint8Array(100).fill(0x20))
      },
    })
    const req = new Request('http://x/sql', { method: 'POST', body: stream })
    expect(req.headers.get('content-length')).toBeNull()
    const { status, body } = await send(createHttpHandler(fakeNode(), { maxBodyBytes: 1000 }), req)
    expect(status).toBe(413)
    expect(body.error.code).toBe('BODY_TOO_LARGE')
    expect(pulled).toBeLessThan(20)
  })

  test('unknown path is 404 NOT_FOUND, wrong method on /sql is 405', async () => {
    const notFound = await send(handler, new Request('http://x/nope'))
    expect(notFound.status).toBe(404)
    expect(notFound.body.error.code).toBe('NOT_FOUND')
    const wrong = await send(handler, new Request('http://x/sql', { method: 'PUT', body: '{}' }))
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('GET, POST')
  })
})

describe('error statuses', () => {
  test.each([
    ['UPDATE t SET a = random()', 409, 'UNSAFE_STATEMENT'],
    ['GRANT ALL ON *.* TO x', 409, 'UNSUPPORTED'],
    ['SET @a = 1', 409, 'UNSUPPORTED'],
    ['COMMIT; COMMIT', 200, ''],
  ])('%s answers %d %s', async (sql, expected, code) => {
    const { status, body } = await send(createHttpHandler(fakeNode()), post({ sql }))
    expect(status).toBe(expected)
    if (code) expect(body.error.code).toBe(code)
  })

  test('a nested BEGIN is 409 TRANSACTION_OPEN, and the open transaction rolls back', async () => {
    const node = fakeNode()
    const { status, body } = await send(
      createHttpHandler(node),
      post({ sql: 'BEGIN; INSERT INTO t VALUES (1); BEGIN' }),
    )
    expect(status).toBe(409)
    expect(body.error.code).toBe('TRANSACTION_OPEN')
    expect(node.calls.at(-1)).toBe('rollback')
  })

  test('a statement the database rejected is 422; a store that failed is 500', async () => {
    const rejected = fakeNode({
      read: async () => {
        throw new StoreError('no such table: t', { rejectedByServer: true })
      },
    })
    const down = fakeNode({
      read: async () => {
        throw new StoreError('connection lost')
      },
    })
    expect((await send(createHttpHandler(rejected), post({ sql: 'SELECT * FROM t' }))).status).toBe(422)
    const failed = await send(createHttpHandler(down), post({ sql: 'SELECT * FROM t' }))
    expect(failed.status).toBe(500)
    expect(failed.body.error).toEqual({ code: 'STORE', message: 'connection lost' })
  })

  test('an unexpected error is 500 INTERNAL without a stack trace, and is logged', async () => {
    const lines: string[] = []
    const logger = createLogger({}, { write: (l) => lines.push(l) })
    const node = fakeNode({
      status: () => {
        throw new TypeError('boom')
      },
    })
    const { status, body } = await send(createHttpHandler(node, { logger }), new Request('http://x/status'))
    expect(status).toBe(500)
    expect(body).toEqual({ error: { code: 'INTERNAL', message: 'internal error: boom' } })
    expect(lines.join('')).toContain('http request failed')
  })

  test('a DdbError of another code is 500 with its code', async () => {
    const node = fakeNode({
      read: async () => {
        throw new DdbError('CONNECTION_LOST', 'lost it', { hint: 'retry' })
      },
    })
    const { status, body } = await send(createHttpHandler(node), post({ sql: 'SELECT 1' }))
    expect(status).toBe(500)
    expect(body).toEqual({ error: { code: 'CONNECTION_LOST', message: 'lost it', hint: 'retry' } })
  })
})

describe('secret', () => {
  const handler = createHttpHandler(fakeNode(), { secret: 's3cret' })

  test.each([
    ['no Authorization', {}],
    ['a wrong secret', { authorization: 'Bearer nope' }],
    ['another scheme', { authorization: 'Basic czNjcmV0' }],
  ])('%s is 401 AUTH on every path', async (_, headers) => {
    for (const path of ['/status', '/sql?q=SELECT+1', '/nope']) {
      const { status, body, headers: answer } = await send(handler, new Request(`http://x${path}`, { headers }))
      expect(status).toBe(401)
      expect(body.error.code).toBe('AUTH')
      expect(answer.get('www-authenticate')).toStartWith('Bearer')
    }
  })

  test('the right secret as a Bearer token is let in', async () => {
    const { status } = await send(
      handler,
      new Request('http://x/status', { headers: { authorization: 'Bearer s3cret' } }),
    )
    expect(status).toBe(200)
  })
})

describe('startHttpServer', () => {
  const logger = createLogger({}, { write: () => {} })

  test('serves the handler on a real socket, and close() is safe twice', async () => {
    const server = await startHttpServer({ host: '127.0.0.1', port: 0 }, createHttpHandler(fakeNode()), logger)
    try {
      expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/)
      const res = await fetch(`http://${server.address}/status`)
      expect(res.status).toBe(200)
      expect(((await res.json()) as NodeStatus).role).toBe('master')
      const big = await fetch(`http://${server.address}/sql`, { method: 'POST', body: 'x'.repeat(MAX_BODY_BYTES + 10) })
      expect(big.status).toBe(413)
      expect(((await big.json()) as { error: { code: string } }).error.code).toBe('BODY_TOO_LARGE')
      expect((await fetch(`http://${server.address}/status`)).status).toBe(200)
    } finally {
      await server.close()
      await server.close()
    }
  })

  test('a port another API holds is a LISTEN error', async () => {
    const first = await startHttpServer({ host: '127.0.0.1', port: 0 }, createHttpHandler(fakeNode()), logger)
    try {
      const port = Number(first.address.split(':')[1])
      const err = await startHttpServer({ host: '127.0.0.1', port }, createHttpHandler(fakeNode()), logger).then(
        async (second) => {
          await second.close()
          return null
        },
        (e: unknown) => e,
      )
      expect((err as DdbError | null)?.code).toBe('LISTEN')
    } finally {
      await first.close()
    }
  })

  test('a port in use is a one-line LISTEN error', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()))
    const port = (blocker.address() as { port: number }).port
    try {
      const err = await startHttpServer({ host: '127.0.0.1', port }, createHttpHandler(fakeNode()), logger).then(
        () => null,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(DdbError)
      expect((err as DdbError).code).toBe('LISTEN')
      expect((err as DdbError).message).toBe(`http listen 127.0.0.1:${port}: address already in use`)
      expect((err as DdbError).hint).toContain('--http')
    } finally {
      blocker.close()
    }
  })
})
