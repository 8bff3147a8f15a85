/**
 * ddb's own port: one TCP port serves slaves (the master streams its log to
 * them) and clients (`ddb sql`, `ddb status`, forwarded writes), each client on
 * a Session of its own.
 */
import net from 'node:net'
import { formatHostPort, type HostPort } from '../config.ts'
import { DdbError, formatError } from '../errors.ts'
import { LogThrottle } from '../log-throttle.ts'
import type { Logger } from '../logger.ts'
import type { NodeApi } from '../node/api.ts'
import { Session } from '../node/session.ts'
import { encodeFrame } from '../wire/frames.ts'
import { type Accepted, greet, type Hello } from '../wire/handshake.ts'
import { DEFAULT_WAIT_MS, type Message } from '../wire/messages.ts'
import type { Peer } from '../wire/peer.ts'
import { listenTcp } from './listen.ts'

/**
 * Most connections that may be in the handshake at once. Each holds at most a
 * pre-auth frame (64 KiB) for at most the handshake timeout (5 s); past this a
 * new connection is refused at once, so a flood cannot grow the node's memory.
 */
export const MAX_UNAUTHENTICATED = 64

/** What a connection past MAX_UNAUTHENTICATED gets before it is closed. */
const BUSY = encodeFrame({
  type: 'error',
  id: null,
  code: 'BUSY',
  message: `refused: ${MAX_UNAUTHENTICATED} connections are already in the handshake`,
  hint: 'retry in a few seconds',
})

export interface DdbPortOptions {
  listen: HostPort
  /** Shared secret peers must prove; '' accepts everyone. */
  secret: string
  node: NodeApi
  logger: Logger
}

/** A listening ddb port. */
export interface DdbPort {
  /** "host:port" actually bound (port 0 becomes the real port). */
  readonly address: string
  /** Stops listening and ends every connection. */
  close(): Promise<void>
}

/** Starts listening; rejects with a one-line LISTEN error when the address is taken or invalid. */
export async function startDdbPort(options: DdbPortOptions): Promise<DdbPort> {
  const { node, logger } = options
  const peers = new Set<Peer>()
  /** Connections not yet welcomed (or refused): at most MAX_UNAUTHENTICATED. */
  const unauthenticated = new Set<Peer>()
  const throttle = new LogThrottle()
  const server = net.createServer((socket) => {
    if (unauthenticated.size >= MAX_UNAUTHENTICATED) return refuseBusy(socket)
    const peer = greet(socket, {
      role: node.role,
      secret: options.secret,
      logger,
      accept: (p, hello) => {
        unauthenticated.delete(p)
        return accept(node, p, hello)
      },
      onEnd: (p) => {
        peers.delete(p)
        unauthenticated.delete(p)
      },
    })
    if (!peer.closed) {
      peers.add(peer)
      unauthenticated.add(peer)
    }
  })
  /** Says why and closes at once; logged once a minute with how many since, not once per connection. */
  const refuseBusy = (socket: net.Socket) => {
    socket.on('error', () => {})
    socket.end(BUSY)
    setTimeout(() => socket.destroy(), 1_000).unref()
    const held = throttle.pass('busy')
    if (held !== null) {
      logger.warn('too many connections in the handshake; refusing new ones', {
        limit: MAX_UNAUTHENTICATED,
        peer: `${socket.remoteAddress}:${socket.remotePort}`,
        ...(held > 0 ? { refusedSinceLast: held } : {}),
      })
    }
  }
  const address = await listenTcp(server, options.listen, `listen ${formatHostPort(options.listen)}`, '--listen')
  server.on('error', (err) => logger.error('server error', { error: err }))
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of peers) p.close(null)
        server.close(() => resolve())
      }),
  }
}

/** A slave goes to the node's replica streaming (master only); a client gets a Session. */
function accept(node: NodeApi, peer: Peer, hello: Hello): Accepted {
  if (hello.peer === 'slave') {
    if (!node.attachReplica || (hello.masterOnly && node.role !== 'master')) {
      throw new DdbError('NOT_MASTER', 'this node is a slave; slaves attach to the master', {
        hint: 'point --master at the master',
      })
    }
    const replica = node.attachReplica(peer, hello)
    return {
      ...node.position(),
      dialect: node.dialect,
      ...(node.synchronous ? { sync: true } : {}),
      onMessage: (m) => replica.onMessage(m),
      onClose: (reason) => replica.onClose(reason),
      start: () => replica.start(),
    }
  }
  const session = new Session(node)
  return {
    ...node.position(),
    onMessage: clientHandler(peer, session, node),
    onClose: () => void session.close(), // a client gone mid-transaction rolls back
  }
}

/** Answers a client's requests in the order they came, each by its id. */
function clientHandler(peer: Peer, session: Session, node: NodeApi): (m: Message) => void {
  let previous = Promise.resolve()
  return (m) => {
    switch (m.type) {
      case 'query':
        previous = previous
          .then(async () => {
            try {
              if (m.minOffset !== undefined) await node.waitForOffset(m.minOffset, m.waitMs ?? DEFAULT_WAIT_MS)
              const result = await session.execute(m.sql, m.params, {
                db: m.db ?? null,
                ...(m.syncReplicas !== undefined ? { syncReplicas: m.syncReplicas } : {}),
              })
              await peer.send({ type: 'result', id: m.id, result })
            } catch (err) {
              await peer.send(errorMessage(m.id, err))
            }
          })
          .catch(() => {})
        return
      case 'status':
        previous = previous
          .then(() => peer.send({ type: 'status-result', id: m.id, status: node.status() }))
          .catch(() => {})
        return
      case 'forget-replica':
        previous = answer(previous, peer, m.id, async () => {
          if (!node.forgetReplica) throw notMaster('forget a slave')
          node.forgetReplica(m.replica)
          return { type: 'forgotten', id: m.id, replica: m.replica }
        })
        return
      case 'prune-log':
        previous = answer(previous, peer, m.id, async () => {
          if (!node.pruneLog) throw notMaster('prune the log')
          const pruned = await node.pruneLog(m.before)
          return { type: 'pruned', id: m.id, ...pruned }
        })
        return
      case 'log-hashes':
        previous = answer(previous, peer, m.id, async () => {
          if (!node.logHashes) throw notMaster("read the master's log")
          return { type: 'log-hashes-result', id: m.id, hashes: node.logHashes(m.offsets) }
        })
        return
      case 'fence':
        previous = answer(previous, peer, m.id, async () => {
          node.fence?.(m.epoch, m.by)
          return { type: 'fenced', id: m.id, epoch: node.position().epoch }
        })
        return
      case 'promote':
        previous = answer(previous, peer, m.id, async () => {
          if (!node.promote) throw new DdbError('NOT_SLAVE', 'this node is already a master: promote a slave')
          return { type: 'promoted', id: m.id, ...(await node.promote()) }
        })
        return
      case 'checksum-open':
        previous = answer(previous, peer, m.id, async () => ({
          type: 'checksum-opened',
          id: m.id,
          ...(await node.checksumOpen()),
        }))
        return
      case 'checksum':
        previous = answer(previous, peer, m.id, async () => ({
          type: 'checksum-result',
          id: m.id,
          ...(await node.checksum({ token: m.token, offset: m.offset, forms: m.forms })),
        }))
        return
      default:
        peer.close(`unexpected ${m.type} message from a client`)
    }
  }
}

/** Answers one request after the ones before it: its answer, or the error it failed with. */
function answer(previous: Promise<void>, peer: Peer, id: number, run: () => Promise<Message>): Promise<void> {
  return previous
    .then(async () => {
      let reply: Message
      try {
        reply = await run()
      } catch (err) {
        reply = errorMessage(id, err)
      }
      await peer.send(reply)
    })
    .catch(() => {})
}

/** What a slave answers a request only the master can do. */
function notMaster(what: string): DdbError {
  return new DdbError('NOT_MASTER', `this node is a slave: only the master can ${what}`, {
    hint: "send it to the master's ddb port with --to",
  })
}

/** The error message a request gets; unexpected errors keep their message, never a stack. */
function errorMessage(id: number | null, err: unknown): Message {
  if (err instanceof DdbError) return { type: 'error', id, code: err.code, message: err.message, hint: err.hint }
  return { type: 'error', id, code: 'INTERNAL', message: formatError(err) }
}
