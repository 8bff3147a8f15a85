/**
 * Synchronous replication (`ddb master --sync-replicas K`): a write's answer waits until
 * its entry is committed on the master AND applied by K slaves (committed in their store
 * with their offset), as their acks say. One ack covers every entry up to its offset, so
 * a group-committed batch is released by one ack.
 *
 * When no K slaves acknowledge within the timeout, the policy decides: `async` answers
 * the write anyway and every write after it without waiting (a WARN line, `ddb status`
 * and a counter say so), until K slaves are at the log's head again; `block` keeps
 * writes waiting until K slaves have them, however long that takes (a WARN line each
 * timeout says why).
 */
import { DdbError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { SyncStatus } from '../wire/messages.ts'

export interface SyncPolicy {
  /** Slaves that must have applied a write before it is answered; 0: asynchronous. */
  replicas: number
  timeoutMs: number
  /** On timeout: answer without waiting until the slaves catch up (async), or keep waiting (block). */
  fallback: 'async' | 'block'
}

/** MySQL semi-sync's default timeout (rpl_semi_sync_master_timeout). */
export const SYNC_TIMEOUT_MS = 10_000

export const ASYNCHRONOUS: SyncPolicy = { replicas: 0, timeoutMs: SYNC_TIMEOUT_MS, fallback: 'async' }

/** What SyncAcks needs of the master: what each connected slave applied, and the log's head. */
export interface SyncSources {
  applied(): number[]
  published(): number
}

interface Waiter {
  offset: number
  /** Slaves it waits for: the policy's, or its request's own. */
  replicas: number
  since: number
  resolve(): void
  reject(err: Error): void
}

export class SyncAcks {
  readonly policy: SyncPolicy
  readonly #sources: SyncSources
  readonly #logger: Logger
  #waiting: Waiter[] = []
  #timer: ReturnType<typeof setTimeout> | null = null
  /** Since when writes are answered without waiting (the async fallback), or null. */
  #fallenBackAt: number | null = null
  /** How many slaves the writes that timed out waited for: that many at the head make it synchronous again. */
  #fallbackReplicas = 0
  #fallbacks = 0
  /** Why writes that wait are no longer acknowledged (stopping, fenced), or null. */
  #closed: Error | null = null
  /** Set when a newer master exists: no write is acknowledged any more. */
  #fenced: Error | null = null

  constructor(policy: SyncPolicy, sources: SyncSources, logger: Logger) {
    this.policy = policy
    this.#sources = sources
    this.#logger = logger
  }

  /**
   * Resolves once `offset` is on `replicas` slaves (default the policy's; a request may ask
   * for more or fewer): at once for 0, or while fallen back.
   */
  wait(offset: number, replicas = this.policy.replicas): Promise<void> {
    if (this.#fenced) return Promise.reject(this.#fenced)
    if (replicas === 0 || this.#fallenBackAt !== null || this.#holding(offset, replicas)) return Promise.resolve()
    if (this.#closed) return Promise.reject(this.#closed)
    return new Promise((resolve, reject) => {
      this.#waiting.push({ offset, replicas, since: Date.now(), resolve, reject })
      this.#timer ??= setTimeout(() => this.#timedOut(), this.policy.timeoutMs)
    })
  }

  /** A slave acknowledged: writes it covers go, and a fallen-back master is synchronous again once K slaves are at the head. */
  acked(): void {
    if (this.#fallenBackAt !== null) {
      if (!this.#holding(this.#sources.published(), this.#fallbackReplicas)) return
      this.#logger.info('synchronous again: enough slaves are at the head of the log', {
        replicas: this.#fallbackReplicas,
        asynchronousMs: Date.now() - this.#fallenBackAt,
      })
      this.#fallenBackAt = null
      return
    }
    if (this.#waiting.length === 0) return // the common case: an ack no write waits for
    const applied = this.#sources.applied()
    const still: Waiter[] = []
    for (const w of this.#waiting) {
      if (applied.filter((a) => a >= w.offset).length >= w.replicas) w.resolve()
      else still.push(w)
    }
    this.#waiting = still
    this.#restartTimer()
  }

  status(): SyncStatus {
    return {
      replicas: this.policy.replicas,
      timeoutMs: this.policy.timeoutMs,
      fallback: this.policy.fallback,
      state: this.#fallenBackAt !== null ? 'fallen-back' : this.policy.replicas === 0 ? 'async' : 'sync',
      fallbacks: this.#fallbacks,
      waiting: this.#waiting.length,
    }
  }

  /** The master is stopping: waiting writes are answered with an error (they are committed on the master). */
  close(): void {
    this.#closed ??= this.#abandoned()
    this.#rejectWaiting()
  }

  /** A newer master exists: writes waiting, and every write after (asynchronous ones too), are refused with `err`. */
  fence(err: Error): void {
    this.#fenced = err
    this.#closed ??= err
    this.#rejectWaiting()
  }

  #rejectWaiting(): void {
    if (this.#timer) clearTimeout(this.#timer)
    for (const w of this.#waiting) w.reject(this.#closed!)
    this.#waiting = []
  }

  /** Whether `replicas` slaves have applied `offset`. */
  #holding(offset: number, replicas: number): boolean {
    return this.#sources.applied().filter((a) => a >= offset).length >= replicas
  }

  /** The timer runs while writes wait: it fires when the one waiting longest has waited the timeout. */
  #restartTimer(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#waiting.length === 0) return
    const oldest = Math.min(...this.#waiting.map((w) => w.since))
    this.#timer = setTimeout(() => this.#timedOut(), Math.max(0, oldest + this.policy.timeoutMs - Date.now()))
  }

  #timedOut(): void {
    this.#timer = null
    if (this.#waiting.length === 0) return
    const oldest = Math.min(...this.#waiting.map((w) => w.since))
    if (Date.now() - oldest < this.policy.timeoutMs) return this.#restartTimer()
    const replicas = Math.max(...this.#waiting.map((w) => w.replicas))
    const fields = {
      replicas,
      timeoutMs: this.policy.timeoutMs,
      waiting: this.#waiting.length,
      connected: this.#sources.applied().length,
    }
    if (this.policy.fallback === 'block') {
      this.#logger.warn('writes are waiting: fewer slaves than --sync-replicas have applied them', fields)
      for (const w of this.#waiting) w.since = Date.now() // said once a timeout, not on every ack after it
      this.#restartTimer()
      return
    }
    this.#logger.warn(
      'falling back to asynchronous replication: fewer slaves than --sync-replicas acknowledged in time; writes are answered without waiting until enough are at the head again',
      fields,
    )
    this.#fallenBackAt = Date.now()
    this.#fallbackReplicas = replicas
    this.#fallbacks++
    for (const w of this.#waiting) w.resolve()
    this.#waiting = []
  }

  #abandoned(): Error {
    return new DdbError(
      'SYNC_ABORTED',
      'the master stopped before enough slaves applied this write: it is committed on the master, and may not be on them',
    )
  }
}
