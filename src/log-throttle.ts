/** How often a repeated log line gets through by default: once a minute. */
export const LOG_REPEAT_MS = 60_000

/** Most keys remembered; past this, keys not seen for an interval are forgotten. */
const MAX_KEYS = 1_000

/**
 * Keeps a line that repeats (a retry's failure, a flood of refused connections)
 * from flooding the log: per key, one occurrence an interval gets through, and
 * it learns how many were held back since.
 */
export class LogThrottle {
  readonly #intervalMs: number
  readonly #keys = new Map<string, { passed: number; held: number }>()

  constructor(intervalMs = LOG_REPEAT_MS) {
    this.#intervalMs = intervalMs
  }

  /** null: hold this one back; else it may be logged, and this many like it were held back since the last. */
  pass(key: string, now = Date.now()): number | null {
    const seen = this.#keys.get(key)
    if (seen && now - seen.passed < this.#intervalMs) {
      seen.held++
      return null
    }
    if (!seen && this.#keys.size >= MAX_KEYS) this.#forget(now)
    this.#keys.set(key, { passed: now, held: 0 })
    return seen?.held ?? 0
  }

  #forget(now: number): void {
    for (const [key, seen] of this.#keys) if (now - seen.passed >= this.#intervalMs) this.#keys.delete(key)
    if (this.#keys.size >= MAX_KEYS) this.#keys.clear()
  }
}
