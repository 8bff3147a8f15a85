import { createHash } from 'node:crypto'
import type { DdbError } from '../errors.ts'
import type { Session } from './mysql-session.ts'
import { storeInUse } from './ownership.ts'

/** How often a lock whose connection dropped is taken again. */
const RETAKE_MS = 1_000

/** GET_LOCK's name for a database's store (MySQL allows 64 characters). */
export function lockName(database: string): string {
  const name = `ddb.store.${database}`
  return name.length <= 64 ? name : `ddb.store.${createHash('sha256').update(database).digest('hex').slice(0, 40)}`
}

/**
 * A store's ownership on a MySQL server: GET_LOCK on a connection of its own,
 * which the server releases when the connection dies (the node killed, the
 * network gone), so it never outlives its node. If the connection drops while
 * the node runs (the server restarted), the lock is taken again; if another node
 * took it meanwhile, `onLost` hears it.
 */
export class MysqlStoreLock {
  readonly #connect: () => Promise<Session>
  readonly #name: string
  readonly #refused: () => Promise<DdbError>
  readonly #onLost: (err: DdbError) => void
  #session: Session
  #closed = false

  private constructor(
    session: Session,
    name: string,
    connect: () => Promise<Session>,
    refused: () => Promise<DdbError>,
    onLost: (err: DdbError) => void,
  ) {
    this.#session = session
    this.#name = name
    this.#connect = connect
    this.#refused = refused
    this.#onLost = onLost
    this.#watch()
  }

  /** Takes the lock, or rejects with `refused()` (which names the holder) when another connection has it. */
  static async take(options: {
    database: string
    displayUrl: string
    connect: () => Promise<Session>
    holder: () => Promise<string | null>
    onLost?: (err: DdbError) => void
  }): Promise<MysqlStoreLock> {
    const name = lockName(options.database)
    const refused = async () => storeInUse(options.displayUrl, await options.holder().catch(() => null))
    const session = await options.connect()
    if (!(await got(session, name))) {
      await session.end()
      throw await refused()
    }
    return new MysqlStoreLock(session, name, options.connect, refused, options.onLost ?? (() => {}))
  }

  async release(): Promise<void> {
    this.#closed = true
    await this.#session.end().catch(() => {})
  }

  #watch(): void {
    const conn = this.#session.conn
    conn.on('error', () => {
      if (!this.#closed) void this.#retake()
    })
  }

  /** The lock's connection broke: take the lock again as soon as the server answers. */
  async #retake(): Promise<void> {
    while (!this.#closed) {
      await Bun.sleep(RETAKE_MS)
      let session: Session
      let taken: boolean
      try {
        session = await this.#connect()
      } catch {
        continue // the server is still away
      }
      try {
        taken = await got(session, this.#name)
      } catch {
        void session.end().catch(() => {})
        continue
      }
      if (this.#closed) return void session.end()
      if (taken) {
        this.#session = session
        return this.#watch()
      }
      await session.end().catch(() => {})
      return this.#onLost(await this.#refused())
    }
  }
}

async function got(session: Session, name: string): Promise<boolean> {
  const [rows] = await session.conn.query('SELECT GET_LOCK(?, 0) AS got', [name])
  return Number((rows as Array<{ got: unknown }>)[0]?.got) === 1
}
