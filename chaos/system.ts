/**
 * What the chaos run asks of the operating system, as root: commands (ip,
 * mount), a tmpfs for the master's log, and a guard that undoes all of it if
 * this process dies without running its own clean-up (SIGKILL, a crash).
 */
import { mkdirSync, readFileSync } from 'node:fs'

/** Runs a command to completion; throws with its stderr unless `check` is false. */
export function sh(cmd: string[], { check = true, quiet = false } = {}): string {
  const r = Bun.spawnSync(cmd, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const err = r.stderr.toString().trim()
  if (r.exitCode !== 0) {
    if (check) throw new Error(`${cmd.join(' ')} exited with ${r.exitCode}: ${err}`)
    if (!quiet && err) process.stderr.write(`chaos: ${cmd.join(' ')}: ${err}\n`)
  }
  return r.stdout.toString()
}

/** Mounts a tmpfs of `mib` MiB at `dir` (created if missing). */
export function mountTmpfs(dir: string, mib: number): void {
  mkdirSync(dir, { recursive: true })
  sh(['mount', '-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir])
}

/** Unmounts `dir` (lazily, so a process still holding a file cannot block it); safe twice. */
export function unmount(dir: string): void {
  sh(['umount', '-l', dir], { check: false, quiet: true })
}

/** Free bytes on the file system holding `path`. */
export function freeBytes(path: string): number {
  const out = sh(['df', '--output=avail', '-B1', path]).trim().split('\n')
  return Number(out[out.length - 1])
}

/** The resident memory of a process in bytes (0 once it is gone). */
export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024
  } catch {
    return 0
  }
}

/**
 * Once this process is gone, however it ended, runs `script` (sh): the last
 * line of defence for namespaces and mounts, which outlive every process.
 */
export function afterExit(script: string): void {
  Bun.spawn(['sh', '-c', `while kill -0 "$0" 2>/dev/null; do sleep 1; done; ${script}`, String(process.pid)], {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'ignore',
  }).unref()
}
