/**
 * sysbench's stock OLTP workloads through ddb's MySQL port, as a benchmark user
 * would run them: prepare, run (1 and 16 threads, prepared statements on as by
 * default, sysbench's default error retry), cleanup. Each run must exit 0 with
 * no FATAL and some transactions, and the slave must end equal to the master.
 * The same runs against a plain mariadbd prove the harness.
 *
 * Needs the Debian package `sysbench` (its Lua scripts in /usr/share/sysbench).
 */
import { expect, test } from 'bun:test'
import {
  type CommandResult,
  DATABASE,
  describeTarget,
  expectSuccess,
  firstError,
  requireProgram,
  runCommand,
  type Target,
  type TargetKind,
  TEST_TIMEOUT_MS,
} from './support.ts'

const WORKLOADS = [
  'oltp_read_write',
  'oltp_read_only',
  'oltp_write_only',
  'oltp_point_select',
  'oltp_insert',
  'oltp_update_index',
  'oltp_update_non_index',
  'oltp_delete',
  'select_random_points',
  'select_random_ranges',
  'bulk_insert',
] as const
const THREADS = [1, 16] as const
/** Each run stops after this many seconds or events, whichever comes first (plain mariadbd: under 2 s each). */
const RUN_SECONDS = 2
const RUN_EVENTS = 2000
/** A sysbench command that has not finished by then is stuck (a lost answer): kill it. */
const COMMAND_TIMEOUT_MS = 20_000

function sysbench(
  target: Target,
  workload: string,
  threads: number,
  command: 'prepare' | 'run' | 'cleanup',
): Promise<CommandResult> {
  const bin = requireProgram('sysbench', 'apt-get install -y sysbench')
  // select_random_points and select_random_ranges refuse --tables > 1.
  const tables = workload.startsWith('select_random') ? 1 : 2
  return runCommand(
    [
      bin,
      workload,
      '--db-driver=mysql',
      `--mysql-host=${target.host}`,
      `--mysql-port=${target.port}`,
      '--mysql-user=root',
      `--mysql-db=${DATABASE}`,
      '--db-ps-mode=auto',
      `--tables=${tables}`,
      '--table-size=1000',
      `--threads=${threads}`,
      `--time=${RUN_SECONDS}`,
      `--events=${RUN_EVENTS}`,
      command,
    ],
    { timeoutMs: COMMAND_TIMEOUT_MS },
  )
}

/** Fails unless sysbench exited 0 and printed no FATAL (a parallel prepare exits 0 after one); a run must count transactions. */
function expectSysbench(result: CommandResult, what: string, target: Target): void {
  const output = `${result.stdout}\n${result.stderr}`
  if (output.includes('FATAL') && result.code === 0) {
    throw new Error(`${what} on ${target.name} exited 0 but failed: ${firstError(output)}\n--- output ---\n${output}`)
  }
  expectSuccess(result, what, target)
  if (!what.endsWith(' run')) return
  const transactions = Number(/transactions:\s+(\d+)/.exec(output)?.[1] ?? 0)
  expect(transactions, `${what} on ${target.name}: transactions\n${output}`).toBeGreaterThan(0)
}

const TARGETS: readonly TargetKind[] = ['mariadb', 'ddb-mysql', 'ddb-sqlite']

for (const kind of TARGETS) {
  describeTarget(kind, 'sysbench', (target) => {
    for (const workload of WORKLOADS) {
      for (const threads of THREADS) {
        const what = `sysbench ${workload} --threads=${threads}`
        test(
          `${workload}, ${threads} thread${threads > 1 ? 's' : ''}: prepare, run, cleanup; the slave equals the master`,
          async () => {
            const t = target()
            let ran = false
            try {
              expectSysbench(await sysbench(t, workload, threads, 'prepare'), `${what} prepare`, t)
              expectSysbench(await sysbench(t, workload, threads, 'run'), `${what} run`, t)
              await t.expectReplicated()
              ran = true
            } finally {
              // Always drop the tables, so the next workload's prepare starts clean.
              const cleanup = await sysbench(t, workload, threads, 'cleanup')
              if (ran) expectSysbench(cleanup, `${what} cleanup`, t)
            }
            await t.expectReplicated()
          },
          TEST_TIMEOUT_MS,
        )
      }
    }
  })
}
