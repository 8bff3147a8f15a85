import { dlopen, FFIType } from 'bun:ffi'
import { closeSync, openSync } from 'node:fs'

const LOCK_EX = 2
const LOCK_NB = 4

// flock(2) from the C library: Bun has no binding of its own. Loaded on first use.
let flock: ((fd: number, operation: number) => number) | null = null

function flockFn(): (fd: number, operation: number) => number {
  if (!flock) {
    const libc = dlopen(process.platform === 'darwin' ? 'libc.dylib' : 'libc.so.6', {
      flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    })
    flock = (fd, operation) => libc.symbols.flock(fd, operation)
  }
  return flock
}

/**
 * An exclusive flock(2) on a file, held while this process keeps it: the
 * kernel drops it when the process dies, however it dies, so a kill -9 never
 * leaves a stale lock behind. flock locks are separate from the POSIX record
 * locks SQLite takes, so SQLite readers in other processes are not affected.
 * Release it only after closing every SQLite connection to the file: closing
 * any descriptor of a file drops this process's POSIX locks on it.
 */
export class FileLock {
  readonly #fd: number
  #held = true

  private constructor(fd: number) {
    this.#fd = fd
  }

  /** Locks `path` (creating an empty file if there is none); null when another process holds it. */
  static tryAcquire(path: string): FileLock | null {
    const fd = openSync(path, 'a+')
    if (flockFn()(fd, LOCK_EX | LOCK_NB) !== 0) {
      closeSync(fd)
      return null
    }
    return new FileLock(fd)
  }

  release(): void {
    if (!this.#held) return
    this.#held = false
    closeSync(this.#fd)
  }
}
