import { afterEach, describe, expect, test } from 'bun:test'
import net from 'node:net'
import { DdbError } from '../errors.ts'
import { createLogger } from '../logger.ts'
import { describeForeign } from './foreign.ts'
import { PRE_AUTH_FRAME_BYTES } from './frames.ts'
import { greet, hello } from './handshake.ts'
import type { Message } from './messages.ts'

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

/** A TCP server on a free port that does `onConnection` with each socket. */
async function server(onConnection: (socket: net.Socket) => void): Promise<number> {
  const sockets: net.Socket[] = []
  const s = net.createServer((socket) => {
    sockets.push(socket)
    socket.on('error', () => {})
    onConnection(socket)
  })
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy()
    s.close()
  })
  return (s.address() as net.AddressInfo).port
}

/** A ddb handshake server (greet) that welcomes every client and records what it sends after. */
async function ddbServer(received: Message[], log: string[] = []): Promise<number> {
  const logger = createLogger({}, { write: (line) => log.push(line) })
  return server((socket) => {
    greet(socket, {
      role: 'master',
      secret: '',
      logger,
      accept: () => ({
        logId: 'log',
        offset: 0,
        onMessage: (m) => received.push(m),
        onClose: () => {},
      }),
      onEnd: () => {},
    })
  })
}

const ignore = { onMessage: () => {}, onClose: () => {} }

async function helloError(port: number, timeoutMs = 5_000): Promise<DdbError> {
  const err = await hello({ host: '127.0.0.1', port }, { secret: '', hello: { peer: 'client' }, timeoutMs, ...ignore })
    .then(() => null)
    .catch((e: unknown) => e)
  if (!(err instanceof DdbError)) throw new Error(`expected a DdbError, got ${String(err)}`)
  return err
}

/** The start of a MariaDB server's greeting packet, as mariadbd sends it. */
const MARIADB_GREETING = Buffer.concat([
  Buffer.from([0x5b, 0x00, 0x00, 0x00, 0x0a]),
  Buffer.from('5.5.5-10.11.6-MariaDB-0+deb12u1\0'),
])

describe('hello() against a port that is not ddb', () => {
  test('a MySQL server: says it sent a MySQL server greeting', async () => {
    const port = await server((socket) => socket.write(MARIADB_GREETING))
    const err = await helloError(port)
    expect(err.code).toBe('PROTOCOL')
    expect(err.message).toBe(`127.0.0.1:${port} is not a ddb port (it sent a MySQL server greeting)`)
  })

  test('a text protocol: quotes the line it sent', async () => {
    const port = await server((socket) => socket.write('-ERR unknown command\r\n'))
    expect((await helloError(port)).message).toBe(
      `127.0.0.1:${port} is not a ddb port (it sent "-ERR unknown command")`,
    )
  })

  test('a server that waits for the client to speak: a handshake timeout that says no greeting came', async () => {
    const port = await server(() => {})
    const err = await helloError(port, 300)
    expect(err.code).toBe('HANDSHAKE_TIMEOUT')
    expect(err.message).toBe(`127.0.0.1:${port} sent no greeting within 300 ms`)
  })

  test('a server that closes at once: the connection was lost during the handshake', async () => {
    const port = await server((socket) => socket.end())
    const err = await helloError(port)
    expect(err.code).toBe('CONNECTION_LOST')
    expect(err.message).toStartWith(`connection to 127.0.0.1:${port} lost during the handshake`)
  })
})

describe('greet() before authentication', () => {
  test('a frame header over the pre-auth cap ends the connection before its body is sent', async () => {
    const log: string[] = []
    const port = await ddbServer([], log)
    const socket = net.connect({ port, host: '127.0.0.1' })
    socket.on('data', () => {})
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    socket.on('error', () => {})
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    const header = Buffer.alloc(4)
    header.writeUInt32BE(1024 * 1024)
    socket.write(header)
    await closed
    expect(log.join('')).toContain(
      `reason="read frame: length 1048576 exceeds the maximum of ${PRE_AUTH_FRAME_BYTES} bytes"`,
    )
  })

  test('the cap is lifted after the welcome: a welcomed client may send a large frame', async () => {
    const received: Message[] = []
    const port = await ddbServer(received)
    const { peer } = await hello(
      { host: '127.0.0.1', port },
      { secret: '', hello: { peer: 'client' }, onMessage: () => {}, onClose: () => {} },
    )
    cleanups.push(() => peer.close())
    const sql = `SELECT '${'x'.repeat(PRE_AUTH_FRAME_BYTES * 4)}'`
    await peer.send({ type: 'query', id: 1, sql, params: [] })
    for (let i = 0; i < 200 && received.length === 0; i++) await Bun.sleep(10)
    expect(received).toEqual([{ type: 'query', id: 1, sql, params: [] }])
  })
})

describe('describeForeign', () => {
  const head = (bytes: number[] | string) => new Uint8Array(typeof bytes === 'string' ? Buffer.from(bytes) : bytes)

  test('a MySQL error packet before the greeting, with its message', () => {
    const packet = [0x17, 0, 0, 0, 0xff, 0x10, 0x04, ...Buffer.from('Too many connections')]
    expect(describeForeign(head(packet), PRE_AUTH_FRAME_BYTES)).toBe('it sent a MySQL error: Too many connections')
  })

  test('bytes that are neither MySQL nor text, in hex', () => {
    expect(describeForeign(head([0x16, 0x03, 0x01, 0x02, 0x00]), PRE_AUTH_FRAME_BYTES)).toBe(
      'it sent bytes that are not a ddb greeting: 1603010200',
    )
  })

  test('null for what could be a ddb frame, or too few bytes to tell', () => {
    expect(describeForeign(head([0, 0, 0, 40, 0x7b]), PRE_AUTH_FRAME_BYTES)).toBeNull()
    expect(describeForeign(head([0, 0]), PRE_AUTH_FRAME_BYTES)).toBeNull()
  })
})
