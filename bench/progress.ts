const started = performance.now()

/** Writes one progress line on stderr: time since the bench started, the phase, what is happening. */
export function progress(phase: string, message: string): void {
  const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(6)
  process.stderr.write(`[${seconds}s] ${phase}: ${message}\n`)
}

/** Calls `fn` every `intervalMs` until the returned function is called. */
export function every(intervalMs: number, fn: () => void): () => void {
  const timer = setInterval(fn, intervalMs)
  return () => clearInterval(timer)
}

/** Formats a count with thousands separators: 100000 → "100,000". */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}
