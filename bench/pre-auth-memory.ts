/**
 * The master's memory under an unauthenticated-frame attack (issue 11): 10
 * connections each send a frame header announcing 64 MiB and then stream its
 * body, never saying hello. Prints the master's RSS before, at its peak, and
 * after. Run: `bun bench/pre-auth-memory.ts` (it compiles ddb from this tree).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RssSampler } from './measure.ts'
import { buildDdb, startNode } from './nodes.ts'

const CONNECTIONS = 10
const ANNOUNCED = 64 * 1024 * 1024
const CHUNK = Buffer.alloc(1024 * 1024, 0x20)

/** Sends the header and up to ANNOUNCED - 1 bytes of body, as fast as the socket takes them; resolves when the master closes it or all is sent. */
function attack(port: number): Promise<number> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    let sent = 0
    const done = () => resolve(sent)
    socket.on('error', done)
    socket.on('close', done)
    socket.on('data', () => {}) // the greeting
    socket.once('connect', () => {
      const header = Buffer.alloc(4)
      header.writeUInt32BE(ANNOUNCED)
      socket.write(header)
      const pump = () => {
        while (!socket.destroyed && sent < ANNOUNCED - CHUNK.length) {
          sent += CHUNK.length
          if (!socket.write(CHUNK)) return void socket.once('drain', pump)
        }
      }
      pump()
    })
  })
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`

const dir = await mkdtemp(join(tmpdir(), 'ddb-pre-auth-'))
try {
  const binary = await buildDdb(dir)
  const master = await startNode(binary, 'master', [
    'master',
    '--db',
    `sqlite:${join(dir, 'master.sqlite')}`,
    '--log',
    join(dir, 'log.sqlite'),
  ])
  try {
    const sampler = new RssSampler([master.pid], 20)
    const before = sampler.peak(master.pid)
    const port = Number(master.address.split(':')[1])
    const sent = await Promise.all(Array.from({ length: CONNECTIONS }, () => attack(port)))
    const peak = sampler.peak(master.pid)
    sampler.stop()
    const status = await master.status()
    console.log(
      `${CONNECTIONS} connections, each announcing ${mib(ANNOUNCED)}, sent ${mib(sent.reduce((a, b) => a + b, 0))} in all; ` +
        `master RSS ${mib(before)} before, peak ${mib(peak)}; still serving: ${status.role} at offset ${status.role === 'master' ? status.offset : '?'}`,
    )
  } finally {
    await master.stop()
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
