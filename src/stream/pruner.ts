import { DdbError, formatError } from '../errors.ts'
import type { ReplicationLog } from '../log/replication-log.ts'
import { LogThrottle } from '../log-throttle.ts'
import type { Logger } from '../logger.ts'
import {
  isLive,
  type LogFacts,
  pruneLimit,
  prunes,
  type ReplicaHold,
  type RetentionPolicy,
  safeCut,
} from './retention.ts'

/** How often the pruner looks for entries the policy lets go. */
export const PRUNE_INTERVAL_MS = 1_000
/** Entries removed per commit: each is a short write the writer waits behind, then the writer runs. */
export const PRUNE_BATCH_ENTRIES = 1_000
/** Entries weighed per query when --retain-bytes looks for the oldest ones to remove. */
const SIZE_PAGE_ENTRIES = 1_000

/** What the pruner asks of its node: the offset its store and log both hold, its slaves, its pins. */
export interface PruneSources {
  published(): number
  replicas(): ReplicaHold[]
  pinned(): { offset: number; by: string } | null
}

/** What a prune did. */
export interface PruneResult {
  /** The log now starts after this offset. */
  start: number
  /** Entries removed. */
  removed: number
}

/**
 * Pruner removes the oldest log entries the retention policy lets go and no live
 * slave, pin or unsettled store still needs, in the background, batch by batch,
 * then gives the space back to the file system. `ddb log prune` asks it by hand,
 * under the same safety. One prune runs at a time.
 */
export class Pruner {
  readonly #log: ReplicationLog
  readonly #policy: RetentionPolicy
  readonly #sources: PruneSources
  readonly #logger: Logger
  readonly #startedAt = Date.now()
  readonly #timer: ReturnType<typeof setInterval> | null
  #running: Promise<unknown> = Promise.resolve()
  /** A background round is under way: the next tick skips rather than queue behind it. */
  #inRound = false
  #closed = false
  /** Slaves the log stopped waiting for (away past --replica-timeout), said once each. */
  readonly #released = new Set<string>()
  readonly #throttle = new LogThrottle()

  constructor(log: ReplicationLog, policy: RetentionPolicy, sources: PruneSources, logger: Logger) {
    this.#log = log
    this.#policy = policy
    this.#sources = sources
    this.#logger = logger
    this.#timer = prunes(policy) ? setInterval(() => void this.#background(), PRUNE_INTERVAL_MS) : null
    this.#timer?.unref()
  }

  /**
   * `ddb log prune --before N`: removes the entries before N, if no live slave, pin or
   * unsettled store needs them (PRUNE_REFUSED names what does). The flags play no part.
   */
  pruneBefore(before: number): Promise<PruneResult> {
    return this.#serially(async () => {
      const wanted = before - 1
      const facts = this.#facts()
      if (wanted <= facts.start) return { start: facts.start, removed: 0 }
      const limit = safeCut(wanted, facts, this.#policy.replicaTimeoutMs)
      if (limit.upTo < wanted) {
        throw new DdbError('PRUNE_REFUSED', `prune before offset ${before} refused: ${limit.heldBy}`, {
          hint: 'prune before a lower offset, wait, or forget a slave that is gone for good (ddb replica forget)',
        })
      }
      return this.#remove(wanted, 'by hand')
    })
  }

  /** Stops the background pruning and waits for a prune in flight. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    await this.#running.catch(() => {})
  }

  /** One background round; a failure (the log's disk full …) is logged once a minute, and the next round tries again. */
  async #background(): Promise<void> {
    if (this.#inRound || this.#closed) return
    this.#inRound = true
    try {
      await this.#serially(async () => {
        const facts = this.#facts()
        const limit = pruneLimit(this.#policy, facts)
        this.#sayReleased(facts)
        if (limit.upTo > facts.start) await this.#remove(limit.upTo, 'retention')
      })
    } catch (err) {
      const held = this.#throttle.pass(formatError(err))
      if (held !== null)
        this.#logger.warn('cannot prune the log', { error: err, ...(held ? { timesSinceLast: held } : {}) })
    } finally {
      this.#inRound = false
    }
  }

  /**
   * Removes entries up to `upTo` batch by batch, the writer running between them; before
   * each batch the limit is weighed again (a slave that came back holds what it needs).
   */
  async #remove(upTo: number, why: string): Promise<PruneResult> {
    const from = this.#log.start
    const bytesBefore = this.#log.usedBytes()
    while (!this.#closed) {
      const facts = this.#facts()
      const safe = Math.min(upTo, safeCut(upTo, facts, this.#policy.replicaTimeoutMs).upTo)
      if (safe <= facts.start) break
      this.#log.removeThrough(safe, PRUNE_BATCH_ENTRIES)
      await yieldToWriter()
    }
    const start = this.#log.start
    if (start === from) return { start, removed: 0 }
    const fileBytes = await this.#log.reclaimSpace(yieldToWriter)
    const fields = { why, start, removed: start - from, dataBytesBefore: bytesBefore, fileBytes }
    // Background rounds run each second under steady writes: a line a minute says enough.
    if (why !== 'retention' || this.#throttle.pass('pruned') !== null) this.#logger.info('log pruned', fields)
    return { start, removed: start - from }
  }

  /** Says once per slave when the log stops waiting for it (away longer than --replica-timeout). */
  #sayReleased(facts: LogFacts): void {
    for (const r of facts.replicas) {
      if (isLive(r, facts, this.#policy.replicaTimeoutMs)) {
        this.#released.delete(r.id)
      } else if (!this.#released.has(r.id) && r.applied >= facts.start) {
        this.#released.add(r.id)
        this.#logger.warn('slave away longer than --replica-timeout: the log no longer waits for it', {
          slave: r.id,
          applied: r.applied,
          lastSeen: new Date(r.lastSeen).toISOString(),
          hint: 'once the entries after its offset are pruned, it needs a snapshot to return',
        })
      }
    }
  }

  #facts(): LogFacts {
    const log = this.#log
    const start = log.start
    return {
      start,
      published: this.#sources.published(),
      now: Date.now(),
      startedAt: this.#startedAt,
      newestBefore: (ts) => log.newestBefore(ts),
      usedBytes: log.usedBytes(),
      oldestTaking: (bytes) => {
        let [after, taken] = [start, 0]
        for (;;) {
          const page = log.sizesAfter(after, SIZE_PAGE_ENTRIES)
          if (page.length === 0) return after
          for (const e of page) {
            taken += e.bytes
            after = e.offset
            if (taken >= bytes) return after
          }
        }
      },
      replicas: this.#sources.replicas(),
      pinned: this.#sources.pinned(),
    }
  }

  /** Runs prunes one after another, never two at once. */
  #serially<T>(prune: () => Promise<T>): Promise<T> {
    const next = this.#running.catch(() => {}).then(prune)
    this.#running = next
    return next
  }
}

function yieldToWriter(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
