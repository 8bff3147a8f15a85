import net from 'node:net'
import { formatHostPort, HANDSHAKE_TIMEOUT_MS, type HostPort } from '../config.ts'
import { DdbError, formatError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { checkProof, newNonce } from '../wire/auth.ts'
import { DEFAULT_WAIT_MS, type Message, type NodeRole, PROTOCOL_VERSION } from '../wire/messages.ts'
import { Peer } from '../wire/peer.ts'
import { type NodeApi, Session } from './session.ts'

/** The hello a slave sends. */
export type SlaveHello = Extract<Message, { type: 'hello'; peer: 'slave' }>

/** What the server hands an attached slave's messages and close to. */
export interface SlaveHandler {
  onMessage(m: Message): void
  onClose(reason: string | null): void
}

export interface ServerOptions {
  listen: HostPort
  role: NodeRole
  /** Shared secret peers must prove; '' accepts everyone. */
  secret: string
  node: NodeApi
  logger: Logger
  /** The log id and offset a welcome carries. */
  welcome(): { logId: string | null; offset: number }
  /**
   * Accepts a slave after a valid hello (master only): sends its welcome and
   * returns its handler, or throws a DdbError that refuses it.
   */
  attachSlave?(peer: Peer, hello: SlaveHello): SlaveHandler
}

/** A listening node port: one port serves slaves and `ddb sql` clients. */
export interface Server {
  /** "host:port" actually bound (port 0 becomes the real port). */
  readonly address: string
  close(): Promise<void>
}

/** Starts listening; rejects with a one-line error when the address is taken or invalid. */
export async function startServer(options: ServerOptions): Promise<Server> {
  const peers = new Set<Peer>()
  const server = net.createServer((socket) => accept(socket, options, peers))
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = formatHostPort(options.listen)
      const why =
        err.code === 'EADDRINUSE'
          ? 'address already in use'
          : err.code === 'EADDRNOTAVAIL'
            ? 'address not available on this machine'
            : err.message
      reject(new DdbError('LISTEN', `listen ${where}: ${why}`, { hint: 'pick another address with --listen' }))
    })
    server.listen(options.listen.port, options.listen.host, () => resolve())
  })
  server.on('error', (err) => options.logger.error('server error', { error: err }))
  const bound = server.address() as net.AddressInfo
  return {
    address: formatHostPort({ host: bound.address, port: bound.port }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of peers) p.close(null)
        server.close(() => resolve())
      }),
  }
}

/** Greets a new connection, checks its hello, then routes it as a slave or a client. */
function accept(socket: net.Socket, options: ServerOptions, peers: Set<Peer>): void {
  const { logger } = options
  const nonce = newNonce()
  let onMessage: (m: Message) => void = onHello
  let onClose: (reason: string | null) => void = () => {}
  const peer = new Peer(socket, {
    onMessage: (m) => onMessage(m),
    onClose: (reason) => {
      clearTimeout(timer)
      peers.delete(peer)
      if (reason) logger.warn('connection closed', { peer: peer.remoteAddress, reason })
      onClose(reason)
    },
  })
  peers.add(peer)
  const timer = setTimeout(() => peer.close('handshake timed out'), HANDSHAKE_TIMEOUT_MS)
  peer.send({ type: 'greeting', protocol: PROTOCOL_VERSION, role: options.role, nonce }).catch(() => {})

  function refuse(err: DdbError): void {
    logger.warn('connection refused', { peer: peer.remoteAddress, reason: err.message })
    peer
      .send({ type: 'error', id: null, code: err.code, message: err.message, hint: err.hint })
      .finally(() => peer.close(null))
      .catch(() => {})
  }

  function onHello(m: Message): void {
    clearTimeout(timer)
    onMessage = () => {}
    if (m.type !== 'hello') return peer.close(`expected hello, got ${m.type}`)
    if (m.protocol !== PROTOCOL_VERSION) {
      return refuse(
        new DdbError(
          'PROTOCOL_VERSION',
          `protocol version ${m.protocol} is not supported; this node speaks ${PROTOCOL_VERSION}`,
          { hint: 'run the same ddb version on every node' },
        ),
      )
    }
    if (!checkProof(options.secret, nonce, m.auth)) {
      return refuse(
        new DdbError('AUTH', 'authentication failed: wrong secret', {
          hint: 'give every node the same --secret (or DDB_SECRET)',
        }),
      )
    }
    if (m.peer === 'slave') {
      if (!options.attachSlave) {
        return refuse(
          new DdbError('NOT_MASTER', 'this node is a slave; slaves attach to the master', {
            hint: 'point --master at the master',
          }),
        )
      }
      try {
        const handler = options.attachSlave(peer, m)
        onMessage = (msg) => handler.onMessage(msg)
        onClose = (reason) => handler.onClose(reason)
      } catch (err) {
        refuse(err instanceof DdbError ? err : new DdbError('INTERNAL', formatError(err)))
      }
      return
    }
    const { logId, offset } = options.welcome()
    peer.send({ type: 'welcome', role: options.role, logId, offset }).catch(() => {})
    const session = new Session(options.node)
    onMessage = clientHandler(peer, session, options.node)
    onClose = () => void session.close() // a client gone mid-transaction rolls back
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
              const result = await session.execute(m.sql, m.params, { db: m.db ?? null })
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
      default:
        peer.close(`unexpected ${m.type} message from a client`)
    }
  }
}

/** The error message a request gets; unexpected errors keep their message, never a stack. */
export function errorMessage(id: number | null, err: unknown): Message {
  if (err instanceof DdbError) return { type: 'error', id, code: err.code, message: err.message, hint: err.hint }
  return { type: 'error', id, code: 'INTERNAL', message: formatError(err) }
}
