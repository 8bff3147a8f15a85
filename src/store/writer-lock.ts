/** Serializes a store's writer: acquire() resolves with a release function once every earlier holder has released. */
export class WriterLock {
  #tail: Promise<void> = Promise.resolve()

  acquire(): Promise<() => void> {
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const ready = this.#tail
    this.#tail = ready.then(() => held)
    return ready.then(() => release)
  }
}
