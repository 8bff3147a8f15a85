import { formatHostPort, type HostPort } from '../config.ts'
import type { Statement, WriteResult } from '../entry.ts'
import { DdbError, formatError } from '../errors.ts'
import { Client } from '../wire/client.ts'
import type { QueryAnswer } from '../wire/messages.ts'

/**
 * How many connections to the master forwarded writes may use at once: each
 * carries one write at a time, so writes from several clients travel side by
 * side and share the master's group commit.
 */
const FORWARD_CONNECTIONS = 8

/**
 * WriteForwarder passes a slave's client writes on to its master (--forward-writes),
 * through the master's normal write path, on up to FORWARD_CONNECTIONS connections
 * opened on demand and kept for the next writes. A write whose answer was lost is
 * not retried: it may have been applied.
 */
export class WriteForwarder {
  /** The master the slave follows now, and the highest epoch it has seen: a master of a lower one is not written to. */
  readonly #target: () => { master: HostPort; epoch: number }
  readonly #secret: string
  /** Open connections no write is using, with the address each was opened to. */
  #idle: Array<{ client: Client; address: string }> = []
  /** Connections in use or opening. */
  #busy = 0
  /** Writes waiting for a connection, first come first served. */
  #waiting: Array<() => void> = []
  #closed = false

  constructor(target: () => { master: HostPort; epoch: number }, secret: string) {
    this.#target = target
    this.#secret = secret
  }

  get #masterAddress(): string {
    return formatHostPort(this.#target().master)
  }

  /** Sends one statement to the master, in database `db`; resolves with the master's answer. */
  async forward(db: string | null, statement: Statement): Promise<WriteResult> {
    const { client, address } = await this.#take()
    let answer: QueryAnswer
    try {
      answer = await client.query(statement.sql, statement.params, { db })
    } catch (err) {
      if (!(err instanceof DdbError) || err.code !== 'CONNECTION_LOST') throw err // the master's own answer: pass it on
      throw new DdbError(
        'MASTER_UNAVAILABLE',
        `forward write: lost the connection to the master at ${this.#masterAddress} before it answered`,
        {
          cause: err,
          hint: 'the write may or may not have been applied: check on the master before retrying',
        },
      )
    } finally {
      this.#give(client, address)
    }
    const [first] = answer
    if (answer.length !== 1 || first?.kind !== 'write')
      throw new DdbError('PROTOCOL', `forward write: the master answered ${first?.kind ?? 'nothing'}, not a write`)
    return { offset: first.offset, affectedRows: first.affectedRows, insertId: first.insertId }
  }

  /** An idle open connection, a new one while fewer than FORWARD_CONNECTIONS are in use, or the next one given back. */
  async #take(): Promise<{ client: Client; address: string }> {
    for (;;) {
      if (this.#closed) throw new DdbError('MASTER_UNAVAILABLE', 'forward write: this slave is shutting down')
      const idle = this.#idle.pop()
      if (idle && !idle.client.closed && idle.address === this.#masterAddress) {
        this.#busy++
        return idle
      }
      if (idle) {
        idle.client.close() // it dropped while idle, or the slave follows another master now: try the next
        continue
      }
      if (this.#busy < FORWARD_CONNECTIONS) break
      await new Promise<void>((resolve) => this.#waiting.push(resolve))
    }
    this.#busy++
    try {
      return await this.#open()
    } catch (err) {
      this.#busy--
      this.#waiting.shift()?.()
      throw err
    }
  }

  /** Returns a connection after a write: kept if it is still open, and the next waiting write goes ahead. */
  #give(client: Client, address: string): void {
    this.#busy--
    if (this.#closed || client.closed) client.close()
    else this.#idle.push({ client, address })
    this.#waiting.shift()?.()
  }

  async #open(): Promise<{ client: Client; address: string }> {
    const { master, epoch } = this.#target()
    const address = formatHostPort(master)
    let client: Client
    try {
      client = await Client.connect(master, this.#secret)
    } catch (err) {
      throw new DdbError(
        'MASTER_UNAVAILABLE',
        `forward write: cannot reach the master at ${this.#masterAddress}: ${formatError(err)}`,
        {
          cause: err,
          hint: 'the write was not applied; retry when the master is back, or send it to the master directly',
        },
      )
    }
    if (client.role !== 'master') {
      client.close()
      throw new DdbError(
        'NOT_MASTER',
        `forward write: ${this.#masterAddress} is not a master (it is a ${client.role}); writes are not forwarded twice`,
      )
    }
    if (client.epoch < epoch) {
      client.close()
      throw new DdbError(
        'FENCED',
        `forward write: the master at ${address} is of epoch ${client.epoch}, but a master of epoch ${epoch} exists: it is fenced`,
        { hint: 'the write was not applied; retry once this slave follows the new master' },
      )
    }
    if (this.#closed) {
      client.close()
      throw new DdbError('MASTER_UNAVAILABLE', 'forward write: this slave is shutting down')
    }
    return { client, address }
  }

  /** Closes the idle connections (busy ones close when their write ends); later forwards are refused. */
  async close(): Promise<void> {
    this.#closed = true
    for (const { client } of this.#idle.splice(0)) client.close()
    for (const wake of this.#waiting.splice(0)) wake()
  }
}
