import { describe, expect, test } from 'bun:test'
import net from 'node:net'
import mysql from 'mysql2/promise'
import { type FakeNode, fakeNode as sharedFakeNode } from '../../../test/support/fake-node.ts'
import { createLogger } from '../../logger.ts'
import { CLIENT, framePacket, nativePasswordResponse } from '../../mysql-protocol.ts'
import type { NodeApi } from '../../node/api.ts'
import { type Packet, PacketReader, PayloadReader, PayloadWriter } from './packets.ts'
import { type MysqlListener, startMysqlListener } from './server.ts'

/** The shared fake node, answering reads with three columns and writes with insert id 7. */
function fakeNode(role: 'master' | 'slave' = 'master'): FakeNode {
  return sharedFakeNode({
    role,
    insertId: 7,
    readResult: {
      columns: ['n', 's', 'z'],
      rows: [
        [1, 'a', null],
        [2, 'b', null],
      ],
    },
  })
}

async function withListener(
  node: NodeApi,
  fn: (port: number, listener: MysqlListener) => Promise<void>,
  password = '',
  maxMessageBytes?: number,
): Promise<void> {
  const listener = await startMysqlListener({
    maxMessageBytes,
    partialPacketTimeoutMs: 200,
    handshakeTimeoutMs: 1_000,
    listen: { host: '127.0.0.1', port: 0 },
    node,
    users: [{ name: 'root', password }],
    logger: createLogger({}, { write: () => {} }),
  })
  try {
    await fn(Number(listener.address.split(':')[1]), listener)
  } finally {
    await listener.close()
  }
}

/** Connects a bare socket; returns a function that yields the next packet. */
async function raw(port: number): Promise<{ socket: net.Socket; next: () => Promise<Packet> }> {
  const socket = net.connect(port, '127.0.0.1')
  const reader = new PacketReader()
  const queue: Packet[] = []
  const waiters: Array<(p: Packet) => void> = []
  socket.on('data', (c: Buffer) => {
    for (const p of reader.push(c)) {
      const waiter = waiters.shift()
      if (waiter) waiter(p)
      else queue.push(p)
    }
  })
  await new Promise((r) => socket.once('connect', r))
  return { socket, next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))) }
}

describe('MySQL listener', () => {
  test('logs in with a password and answers a query with a text result set', async () => {
    const node = fakeNode()
    await withListener(
      node,
      async (port) => {
        const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', password: 'pw' })
        const [rows] = await c.query('SELECT n, s, z FROM t')
        expect(rows as unknown).toEqual([
          { n: 1, s: 'a', z: null },
          { n: 2, s: 'b', z: null },
        ])
        const [header] = (await c.query("INSERT INTO t VALUES ('x')")) as unknown as [mysql.ResultSetHeader]
        expect([header.affectedRows, header.insertId, header.info]).toEqual([1, 7, 'offset 1'])
        await c.end()
        const denied = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' }).catch((e) => e)
        expect(denied.errno).toBe(1045)
        expect(denied.message).toContain('(using password: NO)')
      },
      'pw',
    )
  })

  test('asks a client that wants another plugin to switch to mysql_native_password', async () => {
    await withListener(
      fakeNode(),
      async (port) => {
        const { socket, next } = await raw(port)
        const hello = new PayloadReader((await next()).payload)
        hello.int1()
        hello.nulString()
        hello.int4()
        const first = Buffer.from(hello.bytes(8))
        const caps = CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH
        const response = new PayloadWriter()
          .int4(caps)
          .int4(0)
          .int1(45)
          .zeros(23)
          .nulString('root')
          .int1(0)
          .nulString('caching_sha2_password')
          .build()
        socket.write(framePacket(response, 1).bytes)
        const switchRequest = await next()
        expect(switchRequest.sequenceId).toBe(2)
        const r = new PayloadReader(switchRequest.payload)
        expect(r.int1()).toBe(0xfe)
        expect(r.nulString()).toBe('mysql_native_password')
        const scramble = Buffer.from(r.bytes(20))
        expect(scramble.subarray(0, 8).equals(first)).toBe(true)
        socket.write(framePacket(nativePasswordResponse('pw', scramble), 3).bytes)
        const ok = await next()
        expect([ok.sequenceId, ok.payload[0]]).toEqual([4, 0x00])
        socket.destroy()
      },
      'pw',
    )
  })

  test("a slave's refusal is MySQL error 1290; a refused statement is 1235", async () => {
    await withListener(fakeNode('slave'), async (port) => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })
      const err = await c.query('DELETE FROM t').catch((e) => e)
      expect([err.errno, err.sqlState]).toEqual([1290, 'HY000'])
      expect(err.message).toContain('--read-only')
      const lock = await c.query("LOAD DATA INFILE '/tmp/x' INTO TABLE t").catch((e) => e)
      expect(lock.errno).toBe(1235)
      await c.end()
    })
  })

  test('system variables, DATABASE() and harmless SETs never reach the store', async () => {
    const node = fakeNode()
    await withListener(node, async (port) => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })
      const [rows] = await c.query(
        'SELECT @@version_comment, @@session.autocommit AS ac, DATABASE(), CONNECTION_ID() AS id',
      )
      expect((rows as Array<Record<string, unknown>>)[0]).toMatchObject({
        '@@version_comment': 'ddb statement replication',
        ac: 1,
        'DATABASE()': 'main', // a SQLite store's one database, until the client names it
      })
      await c.query('SET SESSION wait_timeout = 100, autocommit = 1')
      await c.query('SET NAMES utf8mb4')
      await c.ping()
      await c.end()
      expect(node.ran).toEqual([])
    })
  })

  test('prepared statements: parameters arrive decoded, rows come back in the binary format', async () => {
    const node = fakeNode()
    await withListener(node, async (port) => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })
      const when = new Date(Date.UTC(2026, 0, 2, 3, 4, 5))
      const [header] = (await c.execute('INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)', [
        's',
        42,
        1.5,
        null,
        Buffer.from([1, 2]),
        true,
      ])) as unknown as [mysql.ResultSetHeader]
      expect(header.affectedRows).toBe(1)
      expect(node.ran.at(-1)).toEqual({
        sql: 'INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)',
        params: ['s', 42, 1.5, null, { $bytes: 'AQI=' }, 1],
      })
      const [rows] = await c.execute('SELECT n, s, z FROM t WHERE d = ?', [when])
      expect(rows as unknown).toEqual([
        { n: 1, s: 'a', z: null },
        { n: 2, s: 'b', z: null },
      ])
      expect(typeof node.ran.at(-1)!.params[0]).toBe('string')
      const [again] = await c.execute('SELECT n, s, z FROM t WHERE d = ?', ['x'])
      expect((again as unknown[]).length).toBe(2)
      await c.end()
    })
  })

  test('the status flags follow BEGIN … COMMIT', async () => {
    await withListener(fakeNode('slave'), async (port) => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })
      const status = async (sql: string) =>
        ((await c.query(sql)) as unknown as [mysql.ResultSetHeader])[0].serverStatus & 0x3
      expect(await status('BEGIN')).toBe(0x3)
      expect(await status('COMMIT')).toBe(0x2)
      await c.end()
    })
  })

  test('a query of 16 MiB and more arrives whole, from continuation packets', async () => {
    const node = fakeNode()
    await withListener(node, async (port) => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })
      const big = 'x'.repeat(17 * 1024 * 1024)
      const sql = `SELECT n, s, z FROM t WHERE s = '${big}'`
      await c.query(sql)
      expect(node.ran.at(-1)!.sql === sql).toBe(true)
      await c.end()
    })
  })

  test('a logged-in client that announces a message over the limit gets ERR 1153 and is closed; others go on', async () => {
    await withListener(
      fakeNode(),
      async (port) => {
        const other = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })
        const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })
        c.on('error', () => {})
        const err = await c.query(`SELECT '${'y'.repeat(2048)}'`).catch((e) => e)
        expect(err.errno).toBe(1153)
        await other.ping()
        await other.end()
      },
      '',
      1024,
    )
  })

  test('pipelined commands are answered in order, however many arrive at once', async () => {
    await withListener(fakeNode(), async (port) => {
      const { socket, next } = await raw(port)
      await next()
      const caps = CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION
      socket.write(
        framePacket(new PayloadWriter().int4(caps).int4(0).int1(45).zeros(23).nulString('root').int1(0).build(), 1)
          .bytes,
      )
      expect((await next()).payload[0]).toBe(0)
      const commands = Array.from(
        { length: 200 },
        (_, i) => framePacket(i % 2 ? Buffer.from([0x0e]) : Buffer.from('\x03SELECT ddb_offset()'), 0).bytes,
      )
      socket.write(Buffer.concat(commands))
      for (let i = 0; i < 200; i++) {
        const first = await next()
        if (i % 2) {
          expect(first.payload[0]).toBe(0x00)
        } else {
          expect(first.payload[0]).toBe(1) // one column; then its definition, EOF, one row, EOF
          for (let k = 0; k < 4; k++) await next()
        }
      }
      socket.destroy()
    })
  })

  test('a packet that never completes, or a login that never comes, times out with an ERR', async () => {
    await withListener(fakeNode(), async (port) => {
      const { socket, next } = await raw(port)
      await next()
      socket.write(Buffer.from([0x40, 0x00, 0x00, 0x01, 0x05]))
      const err = await next()
      expect([err.payload[0], err.payload.readUInt16LE(1)]).toEqual([0xff, 1159])
      const idle = await raw(port)
      await idle.next()
      const timeout = await idle.next()
      expect(timeout.payload.readUInt16LE(1)).toBe(1043)
      socket.destroy()
      idle.socket.destroy()
    })
  })

  test('close ends open connections and is safe to call twice', async () => {
    await withListener(fakeNode(), async (port, listener) => {
      const { socket, next } = await raw(port)
      await next()
      const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      await listener.close()
      await listener.close()
      await ended
    })
  })
})
