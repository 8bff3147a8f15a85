import { DdbError, formatError } from '../errors.ts'
import type { ReplicaRecord, ReplicaRegistry } from '../log/replica-registry.ts'
import { LogThrottle } from '../log-throttle.ts'
import type { Logger } from '../logger.ts'
import type { ReplicaSession } from '../stream/replica-session.ts'
import type { ReplicaHold } from '../stream/retention.ts'
import type { ReplicaStatus } from '../wire/messages.ts'

/** How often what the connected slaves acknowledged is written to the registry: at most once a second each, never per ack. */
export const REGISTRY_SAVE_MS = 1_000

/**
 * ReplicaRoster is every slave the master knows: the ones attached since it started
 * (their ReplicaSession) and the ones the registry remembers from before. The
 * registry is written when a slave attaches, once a second with what the connected
 * ones acknowledged, when one disconnects, and at shutdown: never on the write path.
 */
export class ReplicaRoster {
  readonly #registry: ReplicaRegistry
  readonly #logger: Logger
  /** What the registry holds, as last written. */
  readonly #saved = new Map<string, ReplicaRecord>()
  readonly #sessions = new Map<string, ReplicaSession>()
  readonly #saveTimer: ReturnType<typeof setInterval>
  readonly #saveFailures = new LogThrottle()
  #closed = false

  constructor(registry: ReplicaRegistry, logger: Logger) {
    this.#registry = registry
    this.#logger = logger
    for (const r of registry.list()) this.#saved.set(r.id, r)
    this.#saveTimer = setInterval(() => this.save(), REGISTRY_SAVE_MS)
    this.#saveTimer.unref()
  }

  /** The session of a slave's previous connection, which the new one replaces. */
  session(id: string): ReplicaSession | undefined {
    return this.#sessions.get(id)
  }

  /** Takes on a newly attached slave, and registers it at once. */
  attach(session: ReplicaSession): void {
    this.#sessions.set(session.id, session)
    this.save([session])
  }

  /** A slave's connection ended: what it acknowledged last is written now (unless a newer connection replaced it). */
  detached(session: ReplicaSession): void {
    if (this.#sessions.get(session.id) === session) this.save([session])
  }

  /** Writes what the given sessions (default: all) know that the registry does not yet. */
  save(sessions: Iterable<ReplicaSession> = this.#sessions.values()): void {
    if (this.#closed) return // the log is closing or closed: the last save was close()'s
    const changed: ReplicaRecord[] = []
    for (const s of sessions) {
      const now = { id: s.id, address: s.address, applied: s.applied, lastSeen: s.lastSeen }
      const before = this.#saved.get(s.id)
      if (
        before &&
        before.applied === now.applied &&
        before.lastSeen === now.lastSeen &&
        before.address === now.address
      )
        continue
      changed.push(now)
    }
    try {
      this.#registry.save(changed)
      for (const r of changed) this.#saved.set(r.id, r)
    } catch (err) {
      // The log's disk is full, say: the registry catches up once it can be written; nothing else waits for it.
      const held = this.#saveFailures.pass(formatError(err))
      if (held !== null)
        this.#logger.warn('cannot save the replica registry', { error: err, ...(held ? { timesSinceLast: held } : {}) })
    }
  }

  /** Removes a slave that is not connected from the registry; refuses a connected one, or an id no one has. */
  forget(id: string): void {
    if (this.#sessions.get(id)?.connected) {
      throw new DdbError(
        'REPLICA_CONNECTED',
        `slave ${id} is connected: a slave is forgotten only once it has stopped`,
        {
          hint: 'stop that slave first; it registers again whenever it attaches',
        },
      )
    }
    if (!this.#saved.has(id) && !this.#sessions.has(id)) {
      const known = [...this.#saved.keys()]
      throw new DdbError('REPLICA_UNKNOWN', `no slave ${id} is registered`, {
        hint: known.length ? `registered: ${known.join(', ')}` : 'no slave is registered',
      })
    }
    this.#registry.forget(id)
    this.#saved.delete(id)
    this.#sessions.delete(id)
    this.#logger.info('slave forgotten', { slave: id })
  }

  /** Every registered slave as the pruner weighs it. */
  holds(): ReplicaHold[] {
    return this.#all().map((r) => ({ id: r.id, applied: r.applied, connected: r.connected, lastSeen: r.lastSeen }))
  }

  /** What each connected slave that is still applying has applied: the acks synchronous writes wait for. */
  appliedByConnected(): number[] {
    return [...this.#sessions.values()].filter((s) => s.connected && s.error === null).map((s) => s.applied)
  }

  /** Every registered slave's status, connected or not; one whose position the log no longer holds says so. */
  statuses(logStart: number): ReplicaStatus[] {
    return this.#all().map((r) => {
      const status: ReplicaStatus = r.session?.status() ?? {
        id: r.id,
        address: r.address,
        applied: r.applied,
        connected: false,
        lagEntries: null,
        lagSeconds: null,
        error: null,
        stopped: false,
      }
      status.lastSeen = r.lastSeen
      if (!r.connected && r.applied < logStart && status.error === null) {
        status.error = `its offset ${r.applied} is before the log's start (${logStart}): it needs a snapshot when it returns`
      }
      return status
    })
  }

  /** Ends every slave's connection, stops the periodic save and writes what is left (the master is shutting down). */
  close(reason: string): void {
    clearInterval(this.#saveTimer)
    for (const session of this.#sessions.values()) session.close(reason)
    this.save()
    this.#closed = true
  }

  /** The registry's slaves, with the live state of those attached since the master started. */
  #all(): Array<ReplicaRecord & { connected: boolean; session: ReplicaSession | undefined }> {
    const ids = new Set([...this.#saved.keys(), ...this.#sessions.keys()])
    return [...ids].map((id) => {
      const session = this.#sessions.get(id)
      if (session)
        return {
          id,
          address: session.address,
          applied: session.applied,
          lastSeen: session.lastSeen,
          connected: session.connected,
          session,
        }
      return { ...this.#saved.get(id)!, connected: false, session }
    })
  }
}
