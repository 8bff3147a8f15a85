/**
 * sysbench's oltp_read_write (Debian's sysbench 1.0, its stock Lua script) on
 * a MySQL port, as a benchmark user runs it: prepare once, then timed runs
 * (prepared statements on, as by default; sysbench's default error retry).
 */
import { existsSync } from 'node:fs'
import type { Table } from './verify.ts'

const SYSBENCH = '/usr/bin/sysbench'
const WORKLOAD = 'oltp_read_write'
/** One table of sysbench's default size. */
const TABLE_SIZE = 10_000
/** The table the workload reads and writes. */
export const SYSBENCH_TABLE: Table = { name: 'sbtest1', columns: ['id', 'k', 'c', 'pad'] }
/** A run that has not ended this long after its time is stuck: it is killed and the bench fails. */
const OVERRUN_MS = 60_000

/** Whether sysbench is installed (Debian's package `sysbench`). */
export function haveSysbench(): boolean {
  return existsSync(SYSBENCH)
}

function args(port: number, database: string, threads: number): string[] {
  return [
    SYSBENCH,
    WORKLOAD,
    '--db-driver=mysql',
    '--mysql-host=127.0.0.1',
    `--mysql-port=${port}`,
    '--mysql-user=root',
    `--mysql-db=${database}`,
    '--tables=1',
    `--table-size=${TABLE_SIZE}`,
    `--threads=${threads}`,
  ]
}

/** Runs a sysbench command; resolves with its output once it exits 0 (else fails), and the CPU it used (seconds, user + system). */
async function sysbench(cmd: string[], timeoutMs: number): Promise<{ text: string; cpuSeconds: number }> {
  const proc = Bun.spawn(cmd, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const killer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
  try {
    const [out, err, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ])
    const text = `${out}\n${err}`
    // A failed prepare may still exit 0 after a FATAL.
    if (code !== 0 || text.includes('FATAL')) throw new Error(`${cmd.join(' ')} failed (exit ${code}):\n${text}`)
    return { text, cpuSeconds: Number(proc.resourceUsage()?.cpuTime.total ?? 0n) / 1e6 }
  } finally {
    clearTimeout(killer)
  }
}

/** Creates and fills sbtest1 in `database` through the MySQL port `port` (`sysbench prepare`). */
export async function sysbenchPrepare(port: number, database: string): Promise<void> {
  await sysbench([...args(port, database, 1), 'prepare'], OVERRUN_MS)
}

/** Runs `seconds` with `threads` threads; resolves with the transactions it committed, how long it ran (ms) and its CPU (seconds). */
export async function sysbenchRun(
  port: number,
  database: string,
  threads: number,
  seconds: number,
): Promise<{ transactions: number; ms: number; cpuSeconds: number }> {
  const { text, cpuSeconds } = await sysbench(
    [...args(port, database, threads), `--time=${seconds}`, '--events=0', '--report-interval=0', 'run'],
    seconds * 1000 + OVERRUN_MS,
  )
  const transactions = Number(/transactions:\s+(\d+)/.exec(text)?.[1])
  const totalSeconds = Number(/total time:\s+([\d.]+)s/.exec(text)?.[1])
  if (!Number.isFinite(transactions) || !Number.isFinite(totalSeconds))
    throw new Error(`sysbench ${WORKLOAD}: no transaction count or total time in its output:\n${text}`)
  return { transactions, ms: totalSeconds * 1000, cpuSeconds }
}
