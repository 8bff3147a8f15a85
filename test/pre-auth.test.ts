/**
 * Bounded before trust: before the handshake succeeds, ddb's port accepts only
 * small frames, and only so many connections at once (issue 11, part 2).
 */
import { expect, test } from 'bun:test'
import net from 'node:net'
import { join } from 'node:path'
import { MAX_UNAUTHENTICATED } from '../src/front/ddb-port.ts'
import { FrameReader, PRE_AUTH_FRAME_BYTES } from '../src/wire/frames.ts'
import type { Message } from '../src/wire/messages.ts'
import { rowsOf, startMaster, statusOf } from './support/ddb.ts'
import { tempDir, waitFor } from './support/util.ts'

/** A raw connection to a node's port: the messages it got, and whether the node closed it. */
interface Raw {
  socket: net.Socket
  messages: Message[]
  closed: Promise<void>
}

async function connectRaw(address: string): Promise<Raw> {
  const [host, port] = address.split(':')
  const socket = net.connect({ host, port: Number(port) })
  const reader = new FrameReader()
  const messages: Message[] = []
  socket.on('data', (chunk: Buffer) => {
    reader.push(chunk)
    for (let m = reader.next(); m !== null; m = reader.next()) messages.push(m)
  })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve())
    socket.once('error', reject)
  })
  return { socket, messages, closed }
}

test('a frame header announcing 1 MiB before the hello drops the connection before the body comes', async () => {
  await using dir = await tempDir('ddb-pre-auth-')
  await using master = await startMaster(`sqlite:${join(dir.path, 'm.sqlite')}`, join(dir.path, 'log.sqlite'))
  const raw = await connectRaw(master.address)
  await waitFor(() => raw.messages[0]?.type === 'greeting', { timeoutMs: 10_000, what: 'the greeting' })
  const header = Buffer.alloc(4)
  header.writeUInt32BE(1024 * 1024)
  raw.socket.write(header)
  await raw.closed
  // Closed for the length, not by the handshake timeout (the log line may come a moment after the close).
  const reason = `read frame: length 1048576 exceeds the maximum of ${PRE_AUTH_FRAME_BYTES} bytes`
  await waitFor(() => master.log().includes(reason), { timeoutMs: 10_000, what: 'the reason in the log' })
  expect(master.log()).not.toContain('handshake timed out')
  expect((await statusOf(master)).role).toBe('master')
})

test(`past ${MAX_UNAUTHENTICATED} idle connections in the handshake a new one is refused, while an authenticated client works`, async () => {
  await using dir = await tempDir('ddb-pre-auth-')
  await using master = await startMaster(`sqlite:${join(dir.path, 'm.sqlite')}`, join(dir.path, 'log.sqlite'))
  const client = await master.client()
  const idle: Raw[] = []
  try {
    for (let i = 0; i < MAX_UNAUTHENTICATED; i++) idle.push(await connectRaw(master.address))
    await waitFor(() => idle.every((r) => r.messages[0]?.type === 'greeting'), {
      timeoutMs: 10_000,
      what: 'every idle connection to be greeted',
    })
    const extra = await connectRaw(master.address)
    await extra.closed
    expect(extra.messages).toEqual([
      {
        type: 'error',
        id: null,
        code: 'BUSY',
        message: `refused: ${MAX_UNAUTHENTICATED} connections are already in the handshake`,
        hint: 'retry in a few seconds',
      },
    ])
    const second = await connectRaw(master.address)
    await second.closed
    expect(second.messages[0]).toMatchObject({ type: 'error', code: 'BUSY' })
    // The authenticated client is served meanwhile; the refusals are logged once, not once each.
    await client.query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
    expect(rowsOf(await client.query('SELECT COUNT(*) AS n FROM t'))).toEqual([{ n: 0 }])
    const refusals = () => master.log().split('too many connections in the handshake').length - 1
    await waitFor(() => refusals() > 0, { timeoutMs: 10_000, what: 'the refusal in the log' })
    expect(refusals()).toBe(1)
  } finally {
    for (const r of idle) r.socket.destroy()
  }
  // Once they are gone, new connections are welcome again.
  await waitFor(() => statusOf(master), { timeoutMs: 10_000, what: 'a new client to be accepted' })
})
