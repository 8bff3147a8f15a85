import { CATCH_UP_PAGE_ENTRIES, HEARTBEAT_MS, PEER_TIMEOUT_MS } from '../config.ts'
import type { Entry } from '../entry.ts'
import type { ReplicationLog } from '../log/replication-log.ts'
import type { Logger } from '../logger.ts'
import { encodeFrame } from '../wire/frames.ts'
import type { Message, ReplicaStatus, SlaveHello } from '../wire/messages.ts'
import type { Peer } from '../wire/peer.ts'
import type { Writer } from './writer.ts'

/**
 * ReplicaSession streams the log to one attached slave: from the slave's
 * position, page by page from disk (catch-up), then each newly published entry
 * (live). Every send waits for the socket to drain when it is full, so however
 * far behind the slave is, the master holds at most one page for it.
 */
export class ReplicaSession {
  readonly id: string
  readonly address: string
  applied: number
  error: string | null = null
  #peer: Peer | null
  #lastHeard = Date.now()
  readonly #log: ReplicationLog
  readonly #writer: Writer
  readonly #logger: Logger

  constructor(peer: Peer, hello: SlaveHello, log: ReplicationLog, writer: Writer, logger: Logger) {
    this.#peer = peer
    this.id = hello.slaveId
    this.address = hello.listen ?? peer.remoteAddress
    this.applied = hello.position
    this.#log = log
    this.#writer = writer
    this.#logger = logger.child({ slave: this.id })
  }

  get connected(): boolean {
    return this.#peer !== null
  }

  /** Starts streaming, once the slave's welcome is on its way. */
  start(): void {
    this.#stream().catch((err) => this.#peer?.close(`stream failed: ${(err as Error).message}`))
  }

  /** Sends entries after the slave's position until the connection ends. */
  async #stream(): Promise<void> {
    const peer = this.#peer
    let sent = this.applied
    while (peer && !peer.closed) {
      const published = this.#writer.published.current
      if (sent < published) {
        const entries =
          this.#writer.publishedAfter(sent) ??
          this.#log.readAfter(sent, Math.min(CATCH_UP_PAGE_ENTRIES, published - sent))
        await peer.sendFrame(entriesFrame(entries))
        sent = entries[entries.length - 1]!.offset
        continue
      }
      const waited = await this.#writer.published.wait(sent + 1, HEARTBEAT_MS)
      if (waited === 'closed') return peer.close('master shutting down')
      if (waited === 'reached' || peer.closed) continue
      if (Date.now() - this.#lastHeard > PEER_TIMEOUT_MS) return peer.close(`slave silent for ${PEER_TIMEOUT_MS} ms`)
      await peer.send({ type: 'heartbeat', offset: published, ts: Date.now() })
    }
  }

  onMessage(m: Message): void {
    this.#lastHeard = Date.now()
    if (m.type !== 'ack') return this.#peer?.close(`unexpected ${m.type} message from a slave`)
    if (m.error && m.error !== this.error)
      this.#logger.error('slave stopped applying', { applied: m.applied, error: m.error })
    this.applied = m.applied
    this.error = m.error
  }

  onClose(reason: string | null): void {
    this.#peer = null
    this.#logger.info('slave disconnected', { applied: this.applied, reason: reason ?? 'closed' })
  }

  /** Ends the connection (a newer connection from the same slave replaces it). */
  close(reason: string): void {
    this.#peer?.close(reason)
  }

  status(): ReplicaStatus {
    const published = this.#writer.published.current
    const next = this.applied < published ? this.#log.get(this.applied + 1) : null
    return {
      id: this.id,
      address: this.address,
      applied: this.applied,
      connected: this.connected,
      lagEntries: Math.max(0, published - this.applied),
      lagSeconds: next ? Math.max(0, (Date.now() - next.ts) / 1000) : 0,
      error: this.error,
    }
  }
}

/** Entry pages already encoded, by page: the last published batch goes to every live slave, encoded once. */
const encodedPages = new WeakMap<Entry[], Uint8Array>()

function entriesFrame(entries: Entry[]): Uint8Array {
  let frame = encodedPages.get(entries)
  if (!frame) {
    frame = encodeFrame({ type: 'entries', entries })
    encodedPages.set(entries, frame)
  }
  return frame
}
