/**
 * Hostile connections to a node's ports: random bytes, a length header far
 * beyond any frame (and one just under the limit, followed by a fast body, to
 * see what the node buffers before authentication), and slowloris: half-open
 * connections that trickle a byte a second and never finish a message. The
 * node must go on serving everyone else.
 */
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'

export type PortKind = 'ddb' | 'mysql' | 'http'

/** The attacks, each the first bytes sent on a fresh connection and whether it then trickles. */
function openings(kind: PortKind): Array<{ what: string; first: () => Buffer; trickle: boolean; again: boolean }> {
  const huge =
    kind === 'ddb'
      ? Buffer.from([0xff, 0xff, 0xff, 0xff]) // a 4 GiB frame
      : kind === 'mysql'
        ? Buffer.from([0xff, 0xff, 0xff, 0x01]) // a 16 MiB packet, sequence 1 (a login reply)
        : Buffer.from('POST /sql HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n')
  const nearLimit =
    kind === 'ddb'
      ? Buffer.from([0x03, 0xff, 0xff, 0xff]) // just under 64 MiB: then a fast body
      : kind === 'mysql'
        ? Buffer.from([0xfe, 0xff, 0xff, 0x01])
        : Buffer.from('POST /sql HTTP/1.1\r\nHost: x\r\nContent-Length: 60000000\r\n\r\n')
  const slow = kind === 'http' ? Buffer.from('GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: ') : Buffer.alloc(0)
  return [
    {
      what: 'random bytes',
      first: () => randomBytes(1 + Math.floor(Math.random() * 65_536)),
      trickle: false,
      again: true,
    },
    { what: 'huge length', first: () => huge, trickle: true, again: true },
    {
      what: 'near-limit length and a fast body',
      first: () => Buffer.concat([nearLimit, randomBytes(8 << 20)]),
      trickle: false,
      // Once: 8 MiB each time would cost the 2-core machine more than the node.
      again: false,
    },
    { what: 'slowloris', first: () => slow, trickle: true, again: true },
  ]
}

/** The attack on one port, until stop(). */
export interface Attack {
  /** Connections opened. */
  readonly connections: number
  stop(): void
}

/** Opens `perKind` connections of each attack on host:port, re-opening any the node closes, until stop(). */
export function attack(address: string, kind: PortKind, perKind: number): Attack {
  const [host, port] = address.split(':')
  const sockets = new Set<Socket>()
  let connections = 0
  let stopped = false
  const open = (o: ReturnType<typeof openings>[number]) => {
    if (stopped) return
    connections++
    const s = connect({ host: host!, port: Number(port) })
    sockets.add(s)
    let timer: Timer | undefined
    s.on('connect', () => {
      s.write(o.first())
      if (o.trickle) timer = setInterval(() => s.write(randomBytes(1)), 1_000)
    })
    s.on('data', () => {}) // read what the node says, so it never blocks on us
    s.on('error', () => {})
    s.on('close', () => {
      clearInterval(timer)
      sockets.delete(s)
      // The node closed it (as it should for garbage): come back after a while, as an attacker would.
      if (!stopped && o.again) setTimeout(() => open(o), 500)
    })
  }
  for (const o of openings(kind)) for (let i = 0; i < perKind; i++) open(o)
  return {
    get connections() {
      return connections
    },
    stop() {
      stopped = true
      for (const s of sockets) s.destroy()
    },
  }
}
