import { existsSync, readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import type { FrontDoorRow } from './figures.ts'
import { TARGETS, type TargetKey, WORKLOADS } from './front-door.ts'
import type { SnapshotCase, SnapshotResults } from './snapshot.ts'
import type { CpuPerOp } from './throughput.ts'

const ROOT = join(import.meta.dir, '..')
/** The file the bench writes its results into. */
const BENCHMARKS_MD = join(ROOT, 'BENCHMARKS.md')
const BEGIN = '<!-- bench:begin -->'
const END = '<!-- bench:end -->'

/** One row of the results table. */
export interface Figure {
  name: string
  /** How values print: a rate (rows or entries per second), milliseconds, or megabytes. */
  unit: 'per-second' | 'ms' | 'MB'
  ddb: number
  /** MariaDB's figure, when there is one to compare with. */
  mariadb?: number
  /** The target, in words, when there is one. */
  target?: string
  /** Whether ddb meets the target. */
  pass?: boolean
  /** The values the figure is the median of, per round, ddb then MariaDB. */
  rounds?: { ddb: number[]; mariadb?: number[] }
}

/** Where and with what the bench ran. */
export interface Environment {
  cpus: number
  cpuModel: string
  memoryGiB: number
  bun: string
  mariadb: string
  ddbVersion: string
  commit: string
  date: string
}

/** Collects the machine's and the software's description; `mariadbVersion` is what the server's VERSION() said. */
export async function environment(mariadbVersion: string): Promise<Environment> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  const meminfo = readFileSync('/proc/meminfo', 'utf8')
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const git = async (...args: string[]) =>
    (await new Response(Bun.spawn(['git', ...args], { cwd: ROOT, stderr: 'ignore' }).stdout).text()).trim()
  const [head, dirty] = await Promise.all([
    git('rev-parse', '--short', 'HEAD'),
    git('status', '--porcelain', '--', 'bin', 'src', 'package.json'),
  ])
  return {
    cpus: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    memoryGiB: Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0) / 2 ** 20,
    bun: Bun.version,
    mariadb: mariadbVersion,
    ddbVersion: pkg.version,
    commit: head ? `${head}${dirty ? ' with uncommitted changes to bin/, src/ or package.json' : ''}` : 'unknown',
    date: new Date().toISOString(),
  }
}

/** The results as a Markdown table: figure, ddb, MariaDB, ratio, target, PASS/MISS. */
export function renderTable(figures: Figure[]): string {
  const lines = ['| Figure | ddb | MariaDB | ddb / MariaDB | Target | |', '|---|---:|---:|---:|---|---|']
  for (const f of figures) {
    const ratio = f.mariadb === undefined ? '' : `${(f.ddb / f.mariadb).toFixed(2)}×`
    const verdict = f.pass === undefined ? '' : f.pass ? 'PASS' : '**MISS**'
    lines.push(
      `| ${f.name} | ${format(f.ddb, f.unit)} | ${f.mariadb === undefined ? '' : format(f.mariadb, f.unit)} | ${ratio} | ${f.target ?? ''} | ${verdict} |`,
    )
  }
  return lines.join('\n')
}

/** A throughput case's CPU use, for the CPU table. */
export interface CpuRow {
  label: string
  clients: number
  cpu: CpuPerOp
}

/**
 * CPU per acknowledged write in the throughput rounds, by process, and how busy
 * the machine was: what says whether a figure is bound by CPU or by waiting
 * (round trips, fsyncs).
 */
export function renderCpuTable(rows: CpuRow[], what = 'acknowledged write in the throughput rounds'): string {
  const µs = (seconds: number | undefined) => (seconds ? `${Math.round(seconds * 1e6)} µs` : '')
  const lines = [
    `CPU per ${what} (user + system time of each process, all its threads), and how busy the machine’s cores were (idle and iowait count as not busy):`,
    '',
    "| Case | master | master's store (mysqld) | slaves and their stores | load generator | total | machine busy |",
    '|---|---:|---:|---:|---:|---:|---:|',
  ]
  for (const { label, cpu } of rows) {
    const p = cpu.perOp
    const total = Object.values(p).reduce((a, b) => a + b, 0)
    lines.push(
      `| ${label} | ${µs(p.master)} | ${µs(p['master store'])} | ${µs(p.slaves)} | ${µs(p['load generator'])} | ${µs(total)} | ${(cpu.busy * 100).toFixed(0)}% |`,
    )
  }
  return lines.join('\n')
}

/**
 * The front door's table: each workload's median per setup (operations per
 * second), ddb's ratios to the binlog master and to plain MariaDB, and the
 * target met or missed by ddb on each store.
 */
export function renderFrontDoorTable(rows: FrontDoorRow[]): string {
  const keys = Object.keys(TARGETS) as TargetKey[]
  const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '')
  const verdict = (met: boolean | undefined) => (met === undefined ? '' : met ? 'met' : '**missed**')
  const lines = [
    `| Workload | conns | ${keys.map((k) => TARGETS[k]).join(' | ')} | MySQL store ÷ binlog | MySQL store ÷ plain | SQLite store ÷ binlog | SQLite store ÷ plain | Target | MySQL store | SQLite store |`,
    `|---|---:|${keys.map(() => '---:|').join('')}---:|---:|---:|---:|---|---|---|`,
  ]
  for (const r of rows) {
    const m = r.median
    lines.push(
      `| ${WORKLOADS[r.workload].label} | ${r.connections} | ${keys.map((k) => format(m[k], 'per-second')).join(' | ')} | ${ratio(m.ddbMysql, m.binlog)} | ${ratio(m.ddbMysql, m.plain)} | ${ratio(m.ddbSqlite, m.binlog)} | ${ratio(m.ddbSqlite, m.plain)} | ${r.target?.text ?? ''} | ${verdict(r.target?.met.ddbMysql)} | ${verdict(r.target?.met.ddbSqlite)} |`,
    )
  }
  return lines.join('\n')
}

/** The front door's section of BENCHMARKS.md: table, per-round values, CPU table, how it was measured. */
export function renderFrontDoor(rows: FrontDoorRow[], cpuTable: string, method: string[]): string {
  const keys = Object.keys(TARGETS) as TargetKey[]
  const rounds = rows.map(
    (r) =>
      `- ${WORKLOADS[r.workload].label}, ${r.connections}: ${keys.map((k) => `${TARGETS[k]} ${r.rounds[k].map((v) => format(v, 'per-second')).join(', ')}`).join('; ')}`,
  )
  return [
    '### Front door (MySQL port)',
    '',
    "Operations per second through a MySQL port with a real client (mysql2, sysbench): ddb's master, MariaDB as a native replication master with its slaves attached, and plain MariaDB; ratios are ddb's over the other setup's.",
    '',
    ...measured(renderFrontDoorTable(rows), rounds, cpuTable, 'How it was measured:', method),
  ].join('\n')
}

/** A results table, the rounds its medians come from, its CPU table, and how it was measured, as lines. */
function measured(
  table: string,
  rounds: string[],
  cpuTable: string,
  methodHeading: string,
  method: string[],
): string[] {
  return [
    table,
    '',
    'Rounds (each figure above is the median of these):',
    '',
    ...rounds,
    '',
    cpuTable,
    '',
    methodHeading,
    '',
    ...method.map((m) => `- ${m}`),
  ]
}

/** The generated part of BENCHMARKS.md: table, per-round values, CPU table, method, the front door, environment. */
export function renderReport(
  figures: Figure[],
  cpuTable: string,
  env: Environment,
  mode: string,
  method: string[],
  wallSeconds: number,
  frontDoor: string,
  snapshot: string,
): string {
  const rounds = figures
    .filter((f) => f.rounds)
    .map((f) => {
      const list = (values: number[]) => values.map((v) => format(v, f.unit)).join(', ')
      return `- ${f.name}: ddb ${list(f.rounds!.ddb)}${f.rounds!.mariadb ? `; MariaDB ${list(f.rounds!.mariadb)}` : ''}`
    })
  return [
    `Generated by \`bun run bench${mode === 'quick' ? ' --quick' : ''}\` (${mode} mode, ${wallSeconds.toFixed(0)} s) on ${env.date}.`,
    '',
    ...measured(renderTable(figures), rounds, cpuTable, '### How it was measured', method),
    '',
    frontDoor,
    '',
    snapshot,
    '',
    '### Environment',
    '',
    `- Machine: ${env.cpus} CPUs (nproc), ${env.cpuModel}, ${env.memoryGiB.toFixed(1)} GiB memory`,
    `- Software: ddb ${env.ddbVersion} (git ${env.commit}), bun ${env.bun}, MariaDB ${env.mariadb}`,
  ].join('\n')
}

/** The memory the issue allows each of the master and the slave during a snapshot of a 1,000,000-row table, in bytes. */
const SNAPSHOT_RSS_TARGET = 150 * 2 ** 20

/**
 * The snapshot table: per store kind, ddb's snapshot into a new slave (timed from the
 * slave's start to its "snapshot loaded") and the dump-and-load baseline on the same data.
 */
export function renderSnapshotTable(r: SnapshotResults): string {
  const lines = [
    `| Copy of ${r.bigRows.toLocaleString('en-US')} rows + 2 small tables | rows | seconds | rows/s | MB/s | write pause | slowest write | master peak RSS | slave peak RSS | ddb ÷ dump (rows/s) | both < 150 MB |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ]
  const rate = (n: number, ms: number) => format(n / (ms / 1000), 'per-second')
  const mbs = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(1)
  let shown: SnapshotCase['baseline'] | null = null
  for (const c of r.cases) {
    const b = 'skipped' in c.baseline ? null : c.baseline
    const ratio = b ? `${(c.rows / c.ms / (b.rows / b.ms)).toFixed(2)}×` : ''
    const met = c.masterPeak < SNAPSHOT_RSS_TARGET && c.slavePeak < SNAPSHOT_RSS_TARGET
    lines.push(
      `| ddb snapshot, ${c.store} store | ${c.rows.toLocaleString('en-US')} | ${(c.ms / 1000).toFixed(1)} | ${rate(c.rows, c.ms)} | ${mbs(c.bytes, c.ms)} | ${format(c.writePauseMs, 'ms')} | ${format(c.maxWriteMs, 'ms')} | ${format(c.masterPeak, 'MB')} | ${format(c.slavePeak, 'MB')} | ${ratio} | ${met ? 'PASS' : '**MISS**'} |`,
    )
    if (c.baseline === shown) continue // the case before it shares this baseline (MySQL → SQLite)
    shown = c.baseline
    lines.push(
      b
        ? `| ${b.tool.replaceAll('|', '\\|')} | ${b.rows.toLocaleString('en-US')} | ${(b.ms / 1000).toFixed(1)} | ${rate(b.rows, b.ms)} | ${mbs(b.bytes, b.ms)} | | | | | | |`
        : `| ${c.store} dump baseline: ${(c.baseline as { skipped: string }).skipped} | | | | | | | | | | |`,
    )
  }
  return lines.join('\n')
}

/** Where each snapshot's time and CPU went, as lines. */
export function renderSnapshotDetails(r: SnapshotResults): string[] {
  return r.cases.map(
    (c) =>
      `- ${c.store} store: ${(c.startMs / 1000).toFixed(1)} s from the slave's start to "snapshot load started", takeover ${c.takeoverMs} ms; ${c.writes.toLocaleString('en-US')} writes acknowledged during the load; master RSS ${format(c.masterBefore, 'MB')} before the slave started; CPU during the load: ${Object.entries(
        c.cpu,
      )
        .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
        .join(
          ', ',
        )}; machine ${(c.busy * 100).toFixed(0)}% busy; ${(c.bytes / 1e6).toFixed(0)} MB sent (rows as JSON)${'skipped' in c.baseline ? '' : `, ${(c.baseline.bytes / 1e6).toFixed(0)} MB of dump SQL`}`,
  )
}

/** The snapshot section of BENCHMARKS.md: table, where the time went, how it was measured. */
export function renderSnapshot(r: SnapshotResults, method: string[]): string {
  return [
    '### Snapshot bootstrap',
    '',
    "A new slave of a master whose store already held the data gets it by snapshot (issue 13), against dumping and loading the same data with the store's own tools.",
    '',
    renderSnapshotTable(r),
    '',
    'Where the time went:',
    '',
    ...renderSnapshotDetails(r),
    '',
    'How it was measured:',
    '',
    ...method.map((m) => `- ${m}`),
  ].join('\n')
}

/**
 * Writes `generated` into BENCHMARKS.md between the bench markers, keeping
 * everything outside them (such as "Where the time goes"); creates the file
 * with that section as a placeholder when it is missing.
 */
export async function writeBenchmarks(generated: string): Promise<void> {
  const block = `${BEGIN}\n${generated}\n${END}`
  const old = existsSync(BENCHMARKS_MD) ? readFileSync(BENCHMARKS_MD, 'utf8') : null
  const begin = old?.indexOf(BEGIN) ?? -1
  const end = old?.indexOf(END) ?? -1
  let text: string
  if (old !== null && begin >= 0 && end > begin) {
    text = old.slice(0, begin) + block + old.slice(end + END.length)
  } else {
    text = [
      '# ddb benchmarks',
      '',
      '`bun run bench` (or `bun run bench --quick`) regenerates the part of this file between the bench markers; the rest is kept.',
      '',
      block,
      '',
      '## Where the time goes',
      '',
      '_To be written: where ddb spends its time on each figure above, and what was changed because of it._',
      '',
      ...(old ? [old] : []),
    ].join('\n')
  }
  await writeFile(BENCHMARKS_MD, text)
}

/** A value as the table prints it. */
function format(value: number, unit: Figure['unit']): string {
  if (!Number.isFinite(value)) return 'n/a'
  switch (unit) {
    case 'per-second':
      return `${Math.round(value).toLocaleString('en-US')}/s`
    case 'ms':
      return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`
    case 'MB':
      return `${(value / 2 ** 20).toFixed(0)} MB`
  }
}
