import { afterEach, describe, expect, test } from 'bun:test'
import net from 'node:net'
import { DdbError } from '../errors.ts'
import type { Message } from './messages.ts'
import { connectPeer, Peer, type PeerOptions } from './peer.ts'

/** One end of a connection, with what it received and how it closed. */
interface End {
  peer: Peer
  received: unknown[]
  closes: Array<string | null>
  closed: Promise<string | null>
}

/** What an End records of each message; tests sending big messages keep a summary only. */
type Summarize = (msg: Message) => unknown

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

function recorder(summarize: Summarize = (m) => m): Omit<End, 'peer'> & { options: PeerOptions } {
  const received: unknown[] = []
  const closes: Array<string | null> = []
  let settle!: (reason: string | null) => void
  const closed = new Promise<string | null>((resolve) => (settle = resolve))
  const onClose = (reason: string | null) => {
    closes.push(reason)
    settle(reason)
  }
  return { received, closes, closed, options: { onMessage: (m) => received.push(summarize(m)), onClose } }
}

async function startServer(options: { paused?: boolean; summarize?: Summarize } = {}) {
  const accepted: End[] = []
  const server = net.createServer((socket) => {
    const { options: peerOptions, ...rest } = recorder(options.summarize)
    const peer = new Peer(socket, peerOptions)
    if (options.paused) peer.pause()
    accepted.push({ peer, ...rest })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => {
    for (const end of accepted) end.peer.close()
    server.close()
  })
  return { server, accepted, port: (server.address() as net.AddressInfo).port }
}

async function connect(port: number): Promise<End> {
  const { options, ...rest } = recorder()
  const peer = await connectPeer({ host: '127.0.0.1', port }, { ...options, timeoutMs: 2_000 })
  cleanups.push(() => peer.close())
  return { peer, ...rest }
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('waitFor: timed out')
    await Bun.sleep(5)
  }
}

describe('Peer', () => {
  test('exchanges 10,000 messages each way, in order', async () => {
    const server = await startServer()
    const client = await connect(server.port)
    await waitFor(() => server.accepted.length === 1)
    const remote = server.accepted[0]!
    const count = 10_000
    for (let id = 0; id < count; id++) {
      void client.peer.send({ type: 'status', id })
      void remote.peer.send({ type: 'ack', applied: id, error: null })
    }
    await waitFor(() => remote.received.length === count && client.received.length === count)
    expect(remote.received).toEqual(Array.from({ length: count }, (_, id) => ({ type: 'status', id })))
    expect(client.received).toEqual(
      Array.from({ length: count }, (_, applied) => ({ type: 'ack', applied, error: null })),
    )
  })

  test('applies back-pressure: send() stalls while the reader is paused, then everything arrives in order', async () => {
    const server = await startServer({
      paused: true,
      summarize: (m) => (m.type === 'entries' ? [m.entries[0]!.offset, m.entries[0]!.statements[0]!.sql.length] : m),
    })
    const client = await connect(server.port)
    const sql = 'x'.repeat(1024 * 1024)
    const total = 300
    let sent = 0
    let sawCongested = false
    const sender = (async () => {
      for (let offset = 1; offset <= total; offset++) {
        const done = client.peer.send({
          type: 'entries',
          entries: [
            {
              offset,
              ts: 0,
              db: null,
              statements: [{ sql, params: [] }],
              affected: [0],
              epoch: 1,
              hash: '',
              checksum: 0,
            },
          ],
        })
        sawCongested ||= client.peer.congested
        await done
        sent = offset
      }
    })()
    await waitFor(() => client.peer.congested)
    const stalledAt = sent
    await Bun.sleep(300)
    expect(sent).toBe(stalledAt)
    expect(sent).toBeLessThan(total)
    expect(client.peer.congested).toBe(true)
    const remote = server.accepted[0]!
    expect(remote.received).toEqual([])

    remote.peer.resume()
    await sender
    await waitFor(() => remote.received.length === total)
    expect(sawCongested).toBe(true)
    expect(remote.received).toEqual(Array.from({ length: total }, (_, i) => [i + 1, sql.length]))
  })

  test('closes a connection that sends garbage, with the reason, and keeps accepting others', async () => {
    const server = await startServer()
    const raw = net.connect(server.port, '127.0.0.1')
    const rawClosed = new Promise((resolve) => raw.on('close', resolve))
    raw.on('error', () => {})
    raw.write('GET / HTTP/1.1\r\nHost: ddb\r\n\r\n')
    await waitFor(() => server.accepted.length === 1)
    expect(await server.accepted[0]!.closed).toBe('read frame: length 1195725856 exceeds the maximum of 67108864 bytes')
    await rawClosed

    const client = await connect(server.port)
    await client.peer.send({ type: 'status', id: 1 })
    await waitFor(() => server.accepted[1]?.received.length === 1)
    expect(server.accepted[1]!.received).toEqual([{ type: 'status', id: 1 }])
    expect(server.accepted[1]!.peer.closed).toBe(false)
  })

  test('closes on a well-framed message that is not valid', async () => {
    const server = await startServer()
    const raw = net.connect(server.port, '127.0.0.1')
    raw.on('error', () => {})
    const body = Buffer.from('{"type":"ack","applied":"lots","error":null}')
    const header = Buffer.alloc(4)
    header.writeUInt32BE(body.length)
    raw.write(Buffer.concat([header, body]))
    await waitFor(() => server.accepted.length === 1)
    expect(await server.accepted[0]!.closed).toBe('malformed ack: field applied must be a non-negative integer')
    raw.destroy()
  })

  test('reports a reset connection', async () => {
    const server = await startServer()
    const raw = net.connect(server.port, '127.0.0.1')
    await new Promise((resolve) => raw.on('connect', resolve))
    await waitFor(() => server.accepted.length === 1)
    raw.resetAndDestroy()
    expect(await server.accepted[0]!.closed).toBe('connection reset by peer')
  })

  test('close() flushes what was sent, and both ends see one normal close', async () => {
    const server = await startServer()
    const client = await connect(server.port)
    await waitFor(() => server.accepted.length === 1)
    const remote = server.accepted[0]!
    void remote.peer.send({ type: 'error', id: null, code: 'AUTH', message: 'hello refused' })
    remote.peer.close()
    remote.peer.close('again')
    expect(remote.peer.closed).toBe(true)
    expect(await client.closed).toBeNull()
    expect(client.received).toEqual([{ type: 'error', id: null, code: 'AUTH', message: 'hello refused' }])
    await Bun.sleep(20)
    expect(remote.closes).toEqual([null])
    expect(client.closes).toEqual([null])
  })

  test('close(reason) reports the reason once; send() afterwards rejects', async () => {
    const server = await startServer()
    const client = await connect(server.port)
    client.peer.close('slave stopped')
    client.peer.close()
    expect(client.closes).toEqual(['slave stopped'])
    const err = await client.peer.send({ type: 'status', id: 1 }).catch((e) => e)
    expect(err).toBeInstanceOf(DdbError)
    expect(err.code).toBe('CONNECTION_CLOSED')
    expect(err.message).toBe(`send status to 127.0.0.1:${server.port}: connection closed`)
  })

  test('remoteAddress is host:port', async () => {
    const server = await startServer()
    const client = await connect(server.port)
    expect(client.peer.remoteAddress).toBe(`127.0.0.1:${server.port}`)
    await waitFor(() => server.accepted.length === 1)
    expect(server.accepted[0]!.peer.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/)
  })
})

describe('connectPeer', () => {
  test('rejects with UNREACHABLE when the connection is refused', async () => {
    const server = await startServer()
    server.server.close()
    await Bun.sleep(10)
    const err = await connect(server.port).catch((e) => e)
    expect(err).toBeInstanceOf(DdbError)
    expect(err.code).toBe('UNREACHABLE')
    expect(err.message).toBe(`connect 127.0.0.1:${server.port}: connection refused`)
  })

  test('rejects with UNREACHABLE when the connection does not complete in time', async () => {
    const { options } = recorder()
    // 100::/64 is the IPv6 discard prefix: the connect hangs, or fails at once where there is no IPv6 route.
    const err = await connectPeer({ host: '100::1', port: 9 }, { ...options, timeoutMs: 200 }).catch((e) => e)
    expect(err).toBeInstanceOf(DdbError)
    expect(err.code).toBe('UNREACHABLE')
    expect(err.message).toStartWith('connect [100::1]:9: ')
  })
})
