import type { ChecksumForm } from '../checksum.ts'
import type { Param, ReadResult, WriteOptions, WriteResult } from '../entry.ts'
import { DdbError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { Master, type MasterRunOptions } from '../master/master.ts'
import type { Slave } from '../slave/slave.ts'
import type { Peer } from '../wire/peer.ts'
import type { NodeApi, NodePosition, ReplicaHandler, SlaveHello, Transaction, WriteStatement } from './api.ts'

/**
 * PromotableNode is what a slave process's front ends serve: the slave, until `ddb
 * promote` makes it the master in place, at the next epoch, with the same store, log,
 * ports and client connections (each request goes to whichever role the node has now).
 */
export class PromotableNode implements NodeApi {
  #node: Slave | Master
  readonly #options: MasterRunOptions
  readonly #logger: Logger
  #promoting: Promise<{ epoch: number; offset: number }> | null = null

  constructor(slave: Slave, options: MasterRunOptions) {
    this.#node = slave
    this.#options = options
    this.#logger = options.logger
  }

  get role(): 'master' | 'slave' {
    return this.#node.role
  }

  get defaultDb(): string | null {
    return this.#node.defaultDb
  }

  get dialect(): 'mysql' | 'sqlite' {
    return this.#node.dialect
  }

  get store(): NodeApi['store'] {
    return this.#node.store
  }

  get synchronous(): boolean | undefined {
    return this.#node.role === 'master' ? this.#node.synchronous : undefined
  }

  write(db: string | null, statements: WriteStatement[], options?: WriteOptions): Promise<WriteResult> {
    return this.#node.write(db, statements, options)
  }

  read(db: string | null, sql: string, params: Param[], settings?: Record<string, Param>): Promise<ReadResult> {
    return this.#node.read(db, sql, params, settings)
  }

  waitForOffset(offset: number, timeoutMs: number): Promise<void> {
    return this.#node.waitForOffset(offset, timeoutMs)
  }

  get beginTransaction(): ((db: string | null) => Promise<Transaction>) | undefined {
    const node = this.#node
    return node.role === 'master' ? (db) => node.beginTransaction(db) : undefined
  }

  attachReplica(peer: Peer, hello: SlaveHello): ReplicaHandler {
    return this.#node.attachReplica(peer, hello)
  }

  get forgetReplica(): ((id: string) => void) | undefined {
    const node = this.#node
    return node.role === 'master' ? (id) => node.forgetReplica(id) : undefined
  }

  pruneLog(before: number): Promise<{ start: number; removed: number }> {
    return this.#node.pruneLog(before)
  }

  get logHashes(): ((offsets: number[]) => Array<string | null>) | undefined {
    const node = this.#node
    return node.role === 'master' ? (offsets) => node.logHashes(offsets) : undefined
  }

  get fence(): ((epoch: number, by: string) => void) | undefined {
    const node = this.#node
    return node.role === 'master' ? (epoch, by) => node.fence(epoch, by) : undefined
  }

  get promote(): (() => Promise<{ epoch: number; offset: number }>) | undefined {
    return this.#node.role === 'slave' || this.#promoting ? () => this.#promote() : undefined
  }

  status(): ReturnType<NodeApi['status']> {
    return this.#node.status()
  }

  position(): NodePosition {
    return this.#node.position()
  }

  checksumOpen(): Promise<{ offset: number; token: string }> {
    return this.#node.checksumOpen()
  }

  checksum(at: { token?: string; offset?: number; forms?: ChecksumForm[] }): ReturnType<NodeApi['checksum']> {
    return this.#node.checksum(at)
  }

  /** Once: the slave hands over its store and log, the epoch goes up, and a Master takes them. */
  #promote(): Promise<{ epoch: number; offset: number }> {
    this.#promoting ??= (async () => {
      const slave = this.#node
      if (slave.role !== 'slave') throw new DdbError('NOT_SLAVE', 'this node is already a master')
      const { store, log } = await slave.handOver()
      const epoch = log.epoch + 1
      try {
        log.raiseEpoch(epoch) // durable before the first write of the new epoch
        this.#node = await Master.promoted(store, log, this.#options)
      } catch (err) {
        this.#options.onFatal(err) // neither a slave any more nor a master: the process ends, saying why
        throw err
      }
      this.#logger.info('promoted: this node is the master now', { epoch, offset: log.lastOffset(), log: log.path })
      return { epoch, offset: log.lastOffset() }
    })()
    return this.#promoting
  }

  close(): Promise<void> {
    return this.#node.close()
  }
}
