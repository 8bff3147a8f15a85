import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A fresh directory under the OS temp dir; `await using` (or remove()) deletes it with its contents. */
export interface TempDir extends AsyncDisposable {
  readonly path: string
  remove(): Promise<void>
}

/** Creates a TempDir named `<prefix>XXXXXX`. */
export async function tempDir(prefix: string): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  const remove = () => rm(path, { recursive: true, force: true })
  return { path, remove, [Symbol.asyncDispose]: remove }
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago (listen on port 0, then close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => (port ? resolve(port) : reject(new Error('freePort: no port assigned'))))
    })
  })
}

/** Options for waitFor: the deadline, the polling interval (default 50 ms), and what we wait for (for the error). */
export interface WaitForOptions {
  timeoutMs: number
  intervalMs?: number
  what: string
}

/** Polls fn until it returns a truthy value and resolves with it; a throw counts as "not yet". */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitForOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await fn()
      if (value) return value
      last = value
    } catch (err) {
      last = err
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : (JSON.stringify(last) ?? String(last))
      throw new Error(`timed out after ${opts.timeoutMs}ms waiting for ${opts.what} (last: ${detail})`)
    }
    await Bun.sleep(opts.intervalMs ?? 50)
  }
}
