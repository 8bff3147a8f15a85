/** How a wait for an offset ended. */
export type OffsetWait = 'reached' | 'timeout' | 'closed'

/**
 * OffsetWatch is a node's newest offset (the master's published one, a slave's
 * applied one) and the callers waiting for it to reach some offset: readers
 * asking to read their writes, streamers waiting for the next entry.
 */
export class OffsetWatch {
  #current: number
  #closed = false
  readonly #waiters = new Set<{ offset: number; done(how: OffsetWait): void }>()

  constructor(current: number) {
    this.#current = current
  }

  get current(): number {
    return this.#current
  }

  /** Sets the offset and wakes every wait it satisfies. */
  publish(offset: number): void {
    this.#current = offset
    for (const w of [...this.#waiters]) if (offset >= w.offset) w.done('reached')
  }

  /** Resolves 'reached' once the offset is at least `offset`, 'timeout' after timeoutMs, 'closed' on close(). */
  wait(offset: number, timeoutMs: number): Promise<OffsetWait> {
    if (this.#current >= offset) return Promise.resolve('reached')
    if (this.#closed) return Promise.resolve('closed')
    return new Promise((resolve) => {
      const waiter = {
        offset,
        done: (how: OffsetWait) => {
          clearTimeout(timer)
          this.#waiters.delete(waiter)
          resolve(how)
        },
      }
      const timer = setTimeout(() => waiter.done('timeout'), timeoutMs)
      this.#waiters.add(waiter)
    })
  }

  /** Ends every wait ('closed'); later waits for an offset not yet reached end at once. */
  close(): void {
    this.#closed = true
    for (const w of [...this.#waiters]) w.done('closed')
  }
}
