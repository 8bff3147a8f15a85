import { readFileSync } from 'node:fs'

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The p-th percentile (0–100) of `values`, nearest-rank; NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/** A process's memory figures from /proc/<pid>/status, in bytes: current (VmRSS) and peak (VmHWM). */
function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

/** Samples the RSS of some processes every `intervalMs`; peak() is the most seen, or VmHWM if higher. */
export class RssSampler {
  readonly #pids: Set<number>
  readonly #max = new Map<number, number>()
  readonly #timer: ReturnType<typeof setInterval>

  constructor(pids: number[], intervalMs = 200) {
    this.#pids = new Set(pids)
    this.#sample()
    this.#timer = setInterval(() => this.#sample(), intervalMs)
  }

  /** Starts sampling `pid` too. */
  add(pid: number): void {
    this.#pids.add(pid)
    this.#sample()
  }

  /** Peak resident memory of `pid` so far, in bytes (VmHWM read now, or the highest sample). */
  peak(pid: number): number {
    this.#sample()
    let hwm = 0
    try {
      hwm = memoryOf(pid).hwm
    } catch {
      // the process is gone: the samples are all there is
    }
    return Math.max(hwm, this.#max.get(pid) ?? 0)
  }

  /** Stops sampling. */
  stop(): void {
    clearInterval(this.#timer)
  }

  #sample(): void {
    for (const pid of this.#pids) {
      try {
        this.#max.set(pid, Math.max(this.#max.get(pid) ?? 0, memoryOf(pid).rss))
      } catch {
        // exited between samples
      }
    }
  }
}

/** Milliseconds on the bench's one clock (monotonic). */
export function now(): number {
  return performance.now()
}
