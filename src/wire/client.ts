import type { ChecksumForm } from '../checksum.ts'
import { formatHostPort, type HostPort } from '../config.ts'
import type { Param } from '../entry.ts'
import { DdbError } from '../errors.ts'
import { hello } from './handshake.ts'
import type { ChecksumResult, Message, NodeRole, NodeStatus, QueryAnswer, Welcome } from './messages.ts'
import type { Peer } from './peer.ts'

type Waiter = { resolve: (m: Message) => void; reject: (err: unknown) => void }

/** How a query runs besides its SQL: see the query message in messages.ts. */
export interface QueryOptions {
  /** Run in this database for this query only (null or absent: the session's current one). */
  db?: string | null
  /** Read-your-writes: the node must first reach this offset… */
  minOffset?: number
  /** …within this many milliseconds (default DEFAULT_WAIT_MS, on the node). */
  waitMs?: number
  /** Its writes are answered once this many slaves applied them (instead of the master's --sync-replicas). */
  syncReplicas?: number
}

/**
 * Client is a `ddb sql` / `ddb status` connection to a master or a slave:
 * greeting, hello, welcome, then requests answered by id.
 */
export class Client {
  readonly role: NodeRole
  /** The node's epoch, from its welcome (1 from a node that does not say). */
  readonly epoch: number
  readonly #peer: Peer
  readonly #waiting: Map<number, Waiter>
  #nextId = 1

  private constructor(peer: Peer, welcome: Welcome, waiting: Map<number, Waiter>) {
    this.#peer = peer
    this.role = welcome.role
    this.epoch = welcome.epoch ?? 1
    this.#waiting = waiting
  }

  /** Connects and authenticates; rejects with a one-line DdbError. */
  static async connect(address: HostPort, secret: string): Promise<Client> {
    const waiting = new Map<number, Waiter>()
    const where = formatHostPort(address)
    const { peer, welcome } = await hello(address, {
      secret,
      hello: { peer: 'client' },
      onMessage: (m) => {
        const id = 'id' in m && typeof m.id === 'number' ? m.id : null
        const w = id === null ? undefined : waiting.get(id)
        if (!w || id === null) return
        waiting.delete(id)
        w.resolve(m)
      },
      onClose: (reason) => {
        const lost = new DdbError('CONNECTION_LOST', `connection to ${where} lost${reason ? `: ${reason}` : ''}`)
        for (const w of waiting.values()) w.reject(lost)
        waiting.clear()
      },
    })
    return new Client(peer, welcome, waiting)
  }

  /** True once the connection has ended; a closed client answers every request with CONNECTION_LOST. */
  get closed(): boolean {
    return this.#peer.closed
  }

  /** Runs a statement (or several separated by ';'); rejects with the node's error. */
  async query(sql: string, params: Param[] = [], options: QueryOptions = {}): Promise<QueryAnswer> {
    const m = await this.#request({
      type: 'query',
      id: this.#nextId++,
      sql,
      params,
      ...(options.db != null ? { db: options.db } : {}),
      ...(options.minOffset !== undefined ? { minOffset: options.minOffset } : {}),
      ...(options.waitMs !== undefined ? { waitMs: options.waitMs } : {}),
      ...(options.syncReplicas !== undefined ? { syncReplicas: options.syncReplicas } : {}),
    })
    if (m.type !== 'result') throw new DdbError('PROTOCOL', `expected result, got ${m.type}`)
    return m.result
  }

  async status(): Promise<NodeStatus> {
    const m = await this.#request({ type: 'status', id: this.#nextId++ })
    if (m.type !== 'status-result') throw new DdbError('PROTOCOL', `expected status-result, got ${m.type}`)
    return m.status
  }

  /** Removes a slave that is not connected from the master's replica registry. */
  async forgetReplica(replica: string): Promise<void> {
    const m = await this.#request({ type: 'forget-replica', id: this.#nextId++, replica })
    if (m.type !== 'forgotten') throw new DdbError('PROTOCOL', `expected forgotten, got ${m.type}`)
  }

  /** The master's log's hashes of the entries at `offsets` (null where it holds none, or has not published it). */
  async logHashes(offsets: number[]): Promise<Array<string | null>> {
    const m = await this.#request({ type: 'log-hashes', id: this.#nextId++, offsets })
    if (m.type !== 'log-hashes-result') throw new DdbError('PROTOCOL', `expected log-hashes-result, got ${m.type}`)
    return m.hashes
  }

  /** Tells a master that a master of `epoch` exists (a slave found it behind): it is fenced if its own is lower. */
  async fence(epoch: number, by: string): Promise<void> {
    const m = await this.#request({ type: 'fence', id: this.#nextId++, epoch, by })
    if (m.type !== 'fenced') throw new DdbError('PROTOCOL', `expected fenced, got ${m.type}`)
  }

  /** `ddb promote`: the slave becomes the master; its new epoch and its log's offset. */
  async promote(): Promise<{ epoch: number; offset: number }> {
    const m = await this.#request({ type: 'promote', id: this.#nextId++ })
    if (m.type !== 'promoted') throw new DdbError('PROTOCOL', `expected promoted, got ${m.type}`)
    return { epoch: m.epoch, offset: m.offset }
  }

  /** Asks the node to remove its log's entries before `before`; resolves with where the log starts now. */
  async pruneLog(before: number): Promise<{ start: number; removed: number }> {
    const m = await this.#request({ type: 'prune-log', id: this.#nextId++, before })
    if (m.type !== 'pruned') throw new DdbError('PROTOCOL', `expected pruned, got ${m.type}`)
    return { start: m.start, removed: m.removed }
  }

  /** `ddb checksum` step 1 (see NodeApi.checksumOpen). */
  async checksumOpen(): Promise<{ offset: number; token: string }> {
    const m = await this.#request({ type: 'checksum-open', id: this.#nextId++ })
    if (m.type !== 'checksum-opened') throw new DdbError('PROTOCOL', `expected checksum-opened, got ${m.type}`)
    return { offset: m.offset, token: m.token }
  }

  /** `ddb checksum` step 2 (see NodeApi.checksum). */
  async checksum(at: { token?: string; offset?: number; forms?: ChecksumForm[] }): Promise<ChecksumResult> {
    const m = await this.#request({ type: 'checksum', id: this.#nextId++, ...at })
    if (m.type !== 'checksum-result') throw new DdbError('PROTOCOL', `expected checksum-result, got ${m.type}`)
    const { type: _, id: __, ...result } = m
    return result
  }

  close(): void {
    this.#peer.close(null)
  }

  async #request(msg: Extract<Message, { id: number }>): Promise<Message> {
    if (this.#peer.closed) throw new DdbError('CONNECTION_LOST', 'connection closed')
    const answer = new Promise<Message>((resolve, reject) => this.#waiting.set(msg.id, { resolve, reject }))
    await this.#peer.send(msg)
    const m = await answer
    if (m.type === 'error') throw new DdbError(m.code, m.message, { hint: m.hint })
    return m
  }
}
