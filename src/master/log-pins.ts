/**
 * LogPins: offsets that something in the master still reads the log from (a
 * snapshot sent at offset S streams from S+1 once it is loaded), so the pruner
 * never removes an entry after the lowest of them.
 */
export class LogPins {
  readonly #pins = new Map<symbol, { offset: number; by: string }>()

  /** Holds the entries after `offset` until the returned function is called (calling it twice is harmless). */
  pin(offset: number, by: string): () => void {
    const key = Symbol(by)
    this.#pins.set(key, { offset, by })
    return () => void this.#pins.delete(key)
  }

  /** The lowest pinned offset and who pinned it; null when nothing is pinned. */
  floor(): { offset: number; by: string } | null {
    let lowest: { offset: number; by: string } | null = null
    for (const p of this.#pins.values()) if (!lowest || p.offset < lowest.offset) lowest = p
    return lowest
  }
}
