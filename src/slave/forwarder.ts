import { formatHostPort, type HostPort } from '../config.ts'
import type { Statement, WriteResult } from '../entry.ts'
import { DdbError, formatError } from '../errors.ts'
import { Client } from '../wire/client.ts'

/**
 * WriteForwarder passes a slave's client writes on to its master (--forward-writes),
 * through the master's normal write path, on ONE connection opened on first use
 * and again after it drops. A write whose answer was lost is not retried: it may
 * have been applied.
 */
export class WriteForwarder {
  readonly #master: HostPort
  readonly #masterAddress: string
  readonly #secret: string
  #forwarder: Client | null = null
  #forwarderOpening: Promise<Client> | null = null
  #closed = false

  constructor(master: HostPort, secret: string) {
    this.#master = master
    this.#masterAddress = formatHostPort(master)
    this.#secret = secret
  }

  /** Sends one statement to the master, in database `db`; resolves with the master's answer. */
  async forward(db: string | null, statement: Statement): Promise<WriteResult> {
    const client = await this.#forwardingClient()
    let answer
    try {
      answer = await client.query(statement.sql, statement.params, { db })
    } catch (err) {
      if (!(err instanceof DdbError) || err.code !== 'CONNECTION_LOST') throw err // the master's own answer: pass it on
      if (this.#forwarder === client) this.#forwarder = null
      throw new DdbError('MASTER_UNAVAILABLE', `forward write: lost the connection to the master at ${this.#masterAddress} before it answered`, {
        cause: err,
        hint: 'the write may or may not have been applied: check on the master before retrying',
      })
    }
    const [first] = answer
    if (answer.length !== 1 || first?.kind !== 'write') throw new DdbError('PROTOCOL', `forward write: the master answered ${first?.kind ?? 'nothing'}, not a write`)
    return { offset: first.offset, affectedRows: first.affectedRows, insertId: first.insertId }
  }

  /** The forwarding connection: the open one, or a new one (shared by writes that arrive while it opens). */
  async #forwardingClient(): Promise<Client> {
    if (this.#forwarder && !this.#forwarder.closed) return this.#forwarder
    this.#forwarder = null
    this.#forwarderOpening ??= this.#openForwarder().finally(() => (this.#forwarderOpening = null))
    return this.#forwarderOpening
  }

  async #openForwarder(): Promise<Client> {
    let client: Client
    try {
      client = await Client.connect(this.#master, this.#secret)
    } catch (err) {
      throw new DdbError('MASTER_UNAVAILABLE', `forward write: cannot reach the master at ${this.#masterAddress}: ${formatError(err)}`, {
        cause: err,
        hint: 'the write was not applied; retry when the master is back, or send it to the master directly',
      })
    }
    if (client.role !== 'master') {
      client.close()
      throw new DdbError('NOT_MASTER', `forward write: ${this.#masterAddress} is not a master (it is a ${client.role}); writes are not forwarded twice`)
    }
    if (this.#closed) {
      client.close()
      throw new DdbError('MASTER_UNAVAILABLE', 'forward write: this slave is shutting down')
    }
    this.#forwarder = client
    return client
  }

  /** Closes the connection; later forwards are refused. */
  async close(): Promise<void> {
    this.#closed = true
    this.#forwarder?.close()
    await this.#forwarderOpening?.then((c) => c.close(), () => {})
  }
}
