import type { HostPort } from '../config.ts'
import type { Param, ReadResult, WriteResult } from '../entry.ts'
import { DdbError, StaleReadError } from '../errors.ts'
import { type LogSync, ReplicationLog } from '../log/replication-log.ts'
import type { Logger } from '../logger.ts'
import { type Server, type SlaveHello, startServer } from '../server/server.ts'
import type { NodeApi } from '../server/session.ts'
import { openStore } from '../store/open-store.ts'
import type { Store } from '../store/store.ts'
import type { NodeStatus } from '../wire/messages.ts'
import type { Peer } from '../wire/peer.ts'
import { ClientTransaction } from './client-transaction.ts'
import { recover } from './recovery.ts'
import { ReplicaSession } from './replica-session.ts'
import { Writer, type WriteStatement } from './writer.ts'

export interface MasterOptions {
  /** Store URL: sqlite:<file> or mysql://user:pass@host:port/db. */
  db: string
  /** Replication log file. */
  log: string
  logSync: LogSync
  listen: HostPort
  /** Shared secret slaves and clients must prove; '' for none. */
  secret: string
  logger: Logger
  /** Called when the master cannot go on (its store cannot apply its own log). */
  onFatal(err: unknown): void
  /** A client transaction idle this long is rolled back, in ms (default TRANSACTION_IDLE_MS). */
  transactionIdleMs?: number
}

/**
 * Master owns the store, the replication log, the single writer and the port.
 * start() opens and recovers before it listens, so nobody is served from a
 * store and log that disagree.
 */
export class Master implements NodeApi {
  readonly role = 'master'
  readonly store: Store
  readonly log: ReplicationLog
  readonly #writer: Writer
  readonly #replicas = new Map<string, ReplicaSession>()
  readonly #logger: Logger
  readonly #transactionIdleMs: number | undefined
  #server: Server | null = null

  private constructor(store: Store, log: ReplicationLog, options: MasterOptions) {
    this.store = store
    this.log = log
    this.#logger = options.logger
    this.#transactionIdleMs = options.transactionIdleMs
    this.#writer = new Writer(store, log, options.logger.child({ component: 'writer' }), options.onFatal)
  }

  /** Opens the store and log, recovers, and starts serving on options.listen. */
  static async start(options: MasterOptions): Promise<Master> {
    const log = ReplicationLog.open(options.log, { sync: options.logSync })
    let store: Store | null = null
    try {
      store = await openStore(options.db)
      await recover(store, log, options.logger.child({ component: 'recovery' }))
      const master = new Master(store, log, options)
      master.#server = await startServer({
        listen: options.listen,
        role: 'master',
        secret: options.secret,
        node: master,
        logger: options.logger,
        welcome: () => ({ logId: log.id, offset: master.#writer.published }),
        attachSlave: (peer, hello) => master.#attachSlave(peer, hello),
      })
      options.logger.info('master started', {
        listen: master.address,
        store: store.displayUrl,
        log: log.path,
        offset: log.lastOffset(),
      })
      return master
    } catch (err) {
      await store?.close()
      log.close()
      throw err
    }
  }

  get defaultDb(): string | null {
    return this.store.defaultDb
  }

  /** The address the port is bound to. */
  get address(): string {
    return this.#server?.address ?? ''
  }

  get dialect(): 'mysql' | 'sqlite' {
    return this.store.kind
  }

  write(db: string | null, statements: WriteStatement[]): Promise<WriteResult> {
    return this.#writer.submit({ db, statements })
  }

  read(db: string | null, sql: string, params: Param[]): Promise<ReadResult> {
    return this.store.read(db, sql, params)
  }

  /** Resolves once `offset` is published (a write in flight may still publish it); else STALE_READ after timeoutMs. */
  async waitForOffset(offset: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.#writer.published < offset) {
      const left = deadline - Date.now()
      if (left <= 0) throw new StaleReadError('master', this.#writer.published, offset, timeoutMs)
      await this.#writer.waitBeyond(this.#writer.published, left)
    }
  }

  async beginTransaction(db: string | null): Promise<ClientTransaction> {
    return new ClientTransaction(
      () => this.store.beginClientTransaction(),
      this.#writer,
      db ?? this.store.defaultDb,
      this.#transactionIdleMs,
    )
  }

  status(): NodeStatus {
    return {
      role: 'master',
      offset: this.#writer.published,
      logId: this.log.id,
      store: this.store.displayUrl,
      replicas: [...this.#replicas.values()].map((r) => r.status()),
    }
  }

  #attachSlave(peer: Peer, hello: SlaveHello) {
    const published = this.#writer.published
    if (hello.logId !== null && hello.logId !== this.log.id) {
      throw new DdbError(
        'LOG_MISMATCH',
        `slave ${hello.slaveId} holds entries of log ${hello.logId}, but this master's log is ${this.log.id}`,
        {
          hint: "rebuild the slave from an empty store (or a copy of the master's), or point it at its own master",
        },
      )
    }
    if (hello.position > published || (hello.logId === null && hello.position !== 0)) {
      throw new DdbError(
        'SLAVE_AHEAD',
        `slave ${hello.slaveId} is at offset ${hello.position}, but this master's log ends at ${published}`,
        {
          hint: 'the slave belongs to another history; rebuild it from an empty store',
        },
      )
    }
    this.#replicas.get(hello.slaveId)?.close('replaced by a new connection from the same slave')
    const session = new ReplicaSession(
      peer,
      hello,
      this.log,
      this.#writer,
      this.#logger.child({ component: 'streamer' }),
    )
    this.#replicas.set(hello.slaveId, session)
    peer.send({ type: 'welcome', role: 'master', logId: this.log.id, offset: published }).catch(() => {})
    this.#logger.info('slave attached', {
      slave: hello.slaveId,
      address: session.address,
      position: hello.position,
      offset: published,
    })
    session.stream().catch((err) => peer.close(`stream failed: ${(err as Error).message}`))
    return session
  }

  /** Stops serving, finishes queued writes, closes store and log. Safe twice. */
  async close(): Promise<void> {
    const server = this.#server
    this.#server = null
    await server?.close()
    await this.#writer.close()
    await this.store.close()
    this.log.close()
  }
}
