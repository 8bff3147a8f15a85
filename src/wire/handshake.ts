/**
 * The handshake of ddb's port, both sides of it:
 *
 *   server → peer    greeting { protocol, role, nonce }      (the server speaks first)
 *   peer   → server  hello    { protocol, peer, auth, … }    (auth proves the shared secret)
 *   server → peer    welcome  { role, logId, offset, dialect, sync, epoch } or error { id: null } and close
 *
 * After the welcome the connection belongs to its owner: a slave's stream, a
 * client's requests. Messages that arrive right behind the welcome go to the
 * owner's handlers, never lost between the two.
 */
import type net from 'node:net'
import { formatHostPort, HANDSHAKE_TIMEOUT_MS, type HostPort } from '../config.ts'
import { DdbError, formatError } from '../errors.ts'
import { LogThrottle } from '../log-throttle.ts'
import type { Logger } from '../logger.ts'
import { authProof, checkProof, newNonce } from './auth.ts'
import { describeForeign } from './foreign.ts'
import { MAX_FRAME_BYTES, PRE_AUTH_FRAME_BYTES } from './frames.ts'
import { type Message, type NodeRole, PROTOCOL_VERSION, type SlaveHello, type Welcome } from './messages.ts'
import { connectPeer, Peer } from './peer.ts'

/** A hello that passed the checks: a client's, or a slave's with its position. */
export type Hello = Extract<Message, { type: 'hello' }>

/** What comes after a peer's welcome: its handlers, and what the welcome tells it. */
export interface Accepted {
  logId: string | null
  offset: number
  /** The SQL the node's store speaks (what its log's statements are written in). */
  dialect?: 'mysql' | 'sqlite'
  /** To a slave: writes wait for its acks, so it acks each batch at once. */
  sync?: boolean
  /** The node's epoch (a master's, or the highest a slave has seen). */
  epoch?: number
  onMessage(m: Message): void
  onClose(reason: string | null): void
  /** Called once the welcome is on its way (a slave's stream may start). */
  start?(): void
}

export interface GreetOptions {
  role: NodeRole
  /** The shared secret a peer must prove; '' accepts everyone. */
  secret: string
  logger: Logger
  /** Decides what a peer that said a valid hello becomes; a thrown DdbError refuses it. */
  accept(peer: Peer, hello: Hello): Accepted
  /** Called once when the connection ends, whatever the stage. */
  onEnd(peer: Peer): void
  timeoutMs?: number
}

/** Refusals logged per peer host and reason once a minute: a slave retrying with a wrong secret does not flood the log. */
const refusals = new LogThrottle()

/** Server side: greets a new connection, checks its hello, then hands it to what accept() returned. */
export function greet(socket: net.Socket, options: GreetOptions): Peer {
  const { logger } = options
  const nonce = newNonce()
  let onMessage: (m: Message) => void = onHello
  let onClose: (reason: string | null) => void = () => {}
  const peer = new Peer(socket, {
    maxFrameBytes: PRE_AUTH_FRAME_BYTES,
    onMessage: (m) => onMessage(m),
    onClose: (reason) => {
      clearTimeout(timer)
      if (reason) logger.warn('connection closed', { peer: peer.remoteAddress, reason })
      onClose(reason)
      options.onEnd(peer)
    },
  })
  const timer = setTimeout(() => peer.close('handshake timed out'), options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS)
  void peer.send({ type: 'greeting', protocol: PROTOCOL_VERSION, role: options.role, nonce }).catch(() => {})

  function refuse(err: DdbError): void {
    const held = refusals.pass(`${socket.remoteAddress}|${err.message}`)
    if (held !== null) {
      logger.warn('connection refused', {
        peer: peer.remoteAddress,
        reason: err.message,
        ...(held > 0 ? { refusedSinceLast: held } : {}),
      })
    }
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
    let accepted: Accepted
    try {
      accepted = options.accept(peer, m)
    } catch (err) {
      return refuse(err instanceof DdbError ? err : new DdbError('INTERNAL', formatError(err)))
    }
    peer.maxFrameBytes = MAX_FRAME_BYTES
    onMessage = (msg) => accepted.onMessage(msg)
    onClose = (reason) => accepted.onClose(reason)
    const { logId, offset, dialect, sync, epoch } = accepted
    void peer
      .send({
        type: 'welcome',
        role: options.role,
        logId,
        offset,
        ...(dialect ? { dialect } : {}),
        ...(sync ? { sync } : {}),
        ...(epoch ? { epoch } : {}),
      })
      .catch(() => {})
    accepted.start?.()
  }
  return peer
}

/** The hello's own fields, besides protocol and auth: a client's, or a slave's. */
export type HelloFields = { peer: 'client' } | Omit<SlaveHello, 'type' | 'protocol' | 'auth'>

export interface HelloOptions {
  /** The node's shared secret ('' for none). */
  secret: string
  hello: HelloFields
  /** Called with the welcome, before any later message is delivered. */
  onWelcome?(welcome: Welcome, peer: Peer): void
  /** Every message after the welcome, in order. */
  onMessage(m: Message): void
  /** The end of the connection, once it was welcomed. */
  onClose(reason: string | null): void
  timeoutMs?: number
}

/**
 * Client side: connects, answers the greeting with a hello, and resolves with
 * the peer once welcomed. Rejects with a one-line DdbError naming the address:
 * UNREACHABLE, the node's own refusal (AUTH, LOG_MISMATCH, BUSY …), PROTOCOL
 * for a port that is not ddb's (saying what it sent), HANDSHAKE_TIMEOUT, or
 * CONNECTION_LOST when the connection ends first.
 */
export async function hello(address: HostPort, options: HelloOptions): Promise<{ peer: Peer; welcome: Welcome }> {
  const where = formatHostPort(address)
  const timeoutMs = options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS
  let settle: { resolve(w: Welcome): void; reject(err: unknown): void } | null = null
  const welcomed = new Promise<Welcome>((resolve, reject) => {
    settle = { resolve, reject }
  })
  let stage: 'greeting' | 'welcome' | 'open' = 'greeting'
  let timedOut = false
  const fail = (err: DdbError) => {
    settle?.reject(err)
    settle = null
    peer.close(null)
  }
  const peer: Peer = await connectPeer(address, {
    timeoutMs,
    maxFrameBytes: PRE_AUTH_FRAME_BYTES,
    onMessage: (m) => {
      switch (stage) {
        case 'open':
          return options.onMessage(m)
        case 'greeting':
          if (m.type === 'error') return fail(new DdbError(m.code, m.message, { hint: m.hint }))
          if (m.type !== 'greeting') return fail(notDdb(where, `it sent ${m.type} before any greeting`))
          stage = 'welcome'
          return void peer
            .send({
              type: 'hello',
              protocol: PROTOCOL_VERSION,
              auth: authProof(options.secret, m.nonce),
              ...options.hello,
            })
            .catch(() => {})
        case 'welcome':
          if (m.type === 'error') return fail(new DdbError(m.code, m.message, { hint: m.hint }))
          if (m.type !== 'welcome') return fail(new DdbError('PROTOCOL', `${where}: expected welcome, got ${m.type}`))
          stage = 'open'
          peer.maxFrameBytes = MAX_FRAME_BYTES
          options.onWelcome?.(m, peer)
          settle?.resolve(m)
          settle = null
      }
    },
    onClose: (reason) => {
      if (stage === 'open') return options.onClose(reason)
      settle?.reject(handshakeFailure(where, stage, peer.head, timedOut ? timeoutMs : null, reason))
      settle = null
    },
  })
  const timer = setTimeout(() => {
    timedOut = true
    peer.close('handshake timed out')
  }, timeoutMs)
  try {
    return { peer, welcome: await welcomed }
  } finally {
    clearTimeout(timer)
  }
}

function notDdb(where: string, what: string): DdbError {
  return new DdbError('PROTOCOL', `${where} is not a ddb port (${what})`)
}

/** Why a handshake ended before the welcome, from what the other end sent (head) and how it ended. */
function handshakeFailure(
  where: string,
  stage: 'greeting' | 'welcome',
  head: Uint8Array,
  timedOutMs: number | null,
  reason: string | null,
): DdbError {
  const foreign = stage === 'greeting' ? describeForeign(head, PRE_AUTH_FRAME_BYTES) : null
  if (foreign) return notDdb(where, foreign)
  if (timedOutMs !== null) {
    const what =
      head.length === 0
        ? 'sent no greeting'
        : stage === 'greeting'
          ? 'sent no whole greeting'
          : 'did not answer the hello'
    return new DdbError('HANDSHAKE_TIMEOUT', `${where} ${what} within ${timedOutMs} ms`, {
      hint: head.length === 0 ? 'is it a ddb port? a ddb node greets at once' : undefined,
    })
  }
  return new DdbError(
    'CONNECTION_LOST',
    `connection to ${where} lost during the handshake${reason ? `: ${reason}` : ''}`,
  )
}
