import { existsSync, rmSync } from 'node:fs'
import { FileLock } from '../file-lock.ts'

/** Those of these SQLite files (null: not a file) that do not exist yet: what a start may create. */
export function newFiles(paths: Array<string | null>): string[] {
  return paths.filter((p): p is string => p !== null && !existsSync(p))
}

/**
 * Removes SQLite files a failed start created, with their WAL and shared-memory
 * files. A file another process has locked meanwhile (a node that started at the
 * same moment and won) is its own, and stays.
 */
export function removeNewFiles(paths: string[]): void {
  for (const path of paths) {
    if (!existsSync(path)) continue
    const lock = FileLock.tryAcquire(path)
    if (!lock) continue
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true })
    lock.release()
  }
}
