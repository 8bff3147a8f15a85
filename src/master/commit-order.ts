import { WriterLock } from '../store/writer-lock.ts'

/**
 * CommitOrder keeps the master's commits in log order (each commit takes its
 * offsets and commits the store while holding the turn), and lets a reconcile
 * (a commit that failed after its entries were logged) have the store's writer:
 * a batch holds the writer while it waits for its turn, so when a reconcile
 * starts, waiting batches give their turn up (and roll back), and no batch
 * starts until the reconcile ends.
 */
export class CommitOrder {
  readonly #lock = new WriterLock()
  #reconciling: Promise<void> | null = null
  /** Batches waiting for their turn, told when a reconcile starts. */
  readonly #onReconcile = new Set<() => void>()

  /** Resolves with the turn's release; for commits that do not hold the store's writer while they wait (client transactions, DDL). */
  acquire(): Promise<() => void> {
    return this.#lock.acquire()
  }

  /** A batch's turn: resolves with its release, or null if a reconcile is running or starts before the turn comes. */
  batchTurn(): Promise<(() => void) | null> {
    if (this.#reconciling) return Promise.resolve(null)
    const turn = this.#lock.acquire()
    return new Promise((resolve) => {
      const giveUp = () => {
        this.#onReconcile.delete(giveUp)
        void turn.then((release) => release())
        resolve(null)
      }
      this.#onReconcile.add(giveUp)
      void turn.then((release) => {
        if (this.#onReconcile.delete(giveUp)) resolve(release)
      })
    })
  }

  /** The reconcile in progress, to wait for before starting a batch; null when none is. */
  get reconciling(): Promise<void> | null {
    return this.#reconciling
  }

  /** Runs `work` (the caller holds the turn) as a reconcile: waiting batches give up their turns, and none starts until it ends. */
  async reconcile(work: () => Promise<void>): Promise<void> {
    let done!: () => void
    this.#reconciling = new Promise((resolve) => (done = resolve))
    for (const giveUp of [...this.#onReconcile]) giveUp()
    try {
      await work()
    } finally {
      this.#reconciling = null
      done()
    }
  }
}
