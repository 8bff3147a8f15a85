import {
  CONNECTIONS,
  type FrontDoorResults,
  TARGETS,
  type TargetKey,
  WORKLOADS,
  type WorkloadKey,
} from './front-door.ts'
import { median, percentile } from './measure.ts'
import { READ_ROWS } from './mysql-load.ts'
import { count } from './progress.ts'
import type { Figure } from './report.ts'
import type { Settings } from './settings.ts'
import { FRONT_DATABASE } from './systems.ts'

const MiB = 2 ** 20

/** What the phases measured, raw: rates per second, lags and times in ms, memory in bytes. */
export interface Results {
  /** Rows/s per round: ddb with a MySQL or SQLite store, MariaDB direct; 1 and 16 clients. */
  throughput: Record<
    'mysql1' | 'native1' | 'mysql16' | 'native16' | 'sqlite1' | 'sqlite16' | 'sync1' | 'semi1' | 'sync16' | 'semi16',
    number[]
  >
  /** Each write's lag, per round. */
  lag: { ddb: number[][]; native: number[][] }
  /** Entries applied per second: ddb into MySQL and SQLite, native serial and parallel. */
  catchUp: { mysql: number; sqlite: number; serial: number; parallel: number }
  /** Peak RSS of the master and of the largest slave. */
  memory: { master: number; slave: number }
  /** Spawn to first line, per run. */
  tail: { middle: number[]; end: number[] }
  /** `ddb promote` to the first accepted write, per run (ms). */
  promote: number[]
}

/** The table's rows, with the targets the issue set. */
export function toFigures(r: Results, s: Settings): Figure[] {
  const t = r.throughput
  const lag = `Lag at ${s.lagPerSecond} writes/s`
  const catchUp = `Catch-up of ${count(s.catchUpEntries)} entries`
  // Each lag figure is the median over rounds of that round's percentile.
  const lagOf = (rounds: number[][], p: number) =>
    rounds.map((lags) => (p === 100 ? Math.max(...lags) : percentile(lags, p)))
  const lagFigure = (p: number) => ({
    ddb: median(lagOf(r.lag.ddb, p)),
    mariadb: median(lagOf(r.lag.native, p)),
    rounds: { ddb: lagOf(r.lag.ddb, p), mariadb: lagOf(r.lag.native, p) },
  })
  const [ddbP99, nativeP99] = [median(lagOf(r.lag.ddb, 99)), median(lagOf(r.lag.native, 99))]
  const { mysql, sqlite, serial, parallel } = r.catchUp
  return [
    throughput('Replicated writes, 1 client (MySQL store)', t.mysql1, t.native1, 0.8),
    throughput('Replicated writes, 16 clients (MySQL store)', t.mysql16, t.native16, 1.5),
    throughput('Replicated writes, 1 client (SQLite store)', t.sqlite1),
    throughput('Replicated writes, 16 clients (SQLite store)', t.sqlite16),
    throughput('Synchronous writes, 1 client (MySQL stores; MariaDB: semi-sync)', t.sync1, t.semi1),
    latency('Synchronous write latency, 1 client (mean)', t.sync1, t.semi1, 1),
    throughput('Synchronous writes, 16 clients (MySQL stores; MariaDB: semi-sync)', t.sync16, t.semi16),
    latency('Synchronous write latency, 16 clients (mean)', t.sync16, t.semi16, 16),
    { name: `${lag}, p50`, unit: 'ms', ...lagFigure(50) },
    {
      name: `${lag}, p99`,
      unit: 'ms',
      ...lagFigure(99),
      target: '≤ 2× MariaDB and ≤ 5 ms',
      pass: ddbP99 <= 2 * nativeP99 && ddbP99 <= 5,
    },
    { name: `${lag}, max`, unit: 'ms', ...lagFigure(100) },
    {
      name: `${catchUp} into MySQL (MariaDB: serial)`,
      unit: 'per-second',
      ddb: mysql,
      mariadb: serial,
      target: '≥ 3× MariaDB and ≥ 20,000/s',
      pass: mysql >= 3 * serial && mysql >= 20_000,
    },
    { name: `${catchUp} into MySQL (MariaDB: 4 parallel threads)`, unit: 'per-second', ddb: mysql, mariadb: parallel },
    { name: `${catchUp} into SQLite`, unit: 'per-second', ddb: sqlite, target: '≥ 100,000/s', pass: sqlite >= 100_000 },
    memory(`Peak RSS of the master, 3 slaves catching up ${count(s.historyEntries)} entries`, r.memory.master),
    memory('Peak RSS of a slave (the largest of the 3)', r.memory.slave),
    tail(`\`ddb log tail --from ${s.historyEntries / 2} -n 1\`, to first line`, r.tail.middle),
    tail(`\`ddb log tail --from ${s.historyEntries - 10}\`, to first line`, r.tail.end),
    {
      name: '`ddb promote` to the first accepted write (SQLite stores)',
      unit: 'ms',
      ddb: median(r.promote),
      rounds: { ddb: r.promote },
    },
  ]
}

/** A closed loop's mean latency per write, from its rate: `clients` writes in flight at every moment. */
function latency(name: string, ddb: number[], mariadb: number[], clients: number): Figure {
  const ms = (rates: number[]) => rates.map((r) => (clients * 1000) / r)
  return {
    name,
    unit: 'ms',
    ddb: median(ms(ddb)),
    mariadb: median(ms(mariadb)),
    rounds: { ddb: ms(ddb), mariadb: ms(mariadb) },
  }
}

/** How each figure was measured, in words, for BENCHMARKS.md. */
export function method(s: Settings): string[] {
  return [
    "Every mariadbd is private to the run, with innodb_flush_log_at_trx_commit=1 and sync_binlog=1, except the stores of ddb's asynchronous MySQL setup. MariaDB native: a master with the binlog on (GTID, binlog_format=MIXED, log_slave_updates) and two GTID slaves, one serial (slave_parallel_threads=0), one with 4 optimistic parallel threads. ddb: the compiled binary; its MySQL master store is its own mariadbd without a binlog (ddb's log replaces it), reached by its Unix socket (`?socket=`, as a node beside its server connects; every client, ddb's slaves and MariaDB's own slaves connect over TCP), log commits fsynced (--log-sync full). One durable log, not two (issue 12): the master and slave stores of ddb's asynchronous MySQL setup run innodb_flush_log_at_trx_commit=2 (no fsync of their own per commit: ddb's log is the durable record, and recovery applies again what a store lost; README, \"Durability\"); the synchronous setup's stores flush at each commit.",
    `Replicated writes: single-row \`INSERT INTO t (id, v) VALUES (?, ?)\` with a 100-byte v, each client a separate connection with one write outstanding, acknowledged once durable (ddb: in the log and committed on the master's store). MariaDB: the same insert, autocommit, straight into the native master. Both masters have their slaves attached and applying (ddb MySQL: one MySQL slave; native: both slaves; ddb SQLite: one SQLite slave; each slave's store of its master's kind). One unmeasured warm-up round per case (up to 1 s), then ${s.rounds} rounds of ${s.roundMs / 1000} s per case, cases interleaved, slaves caught up between rounds; the figure is the median. The CPU table sums each process's user and system time (/proc) over those rounds.`,
    "Synchronous writes (issue 14): the same inserts and rounds, interleaved with the others. ddb: `ddb master --sync-replicas 1 --sync-fallback block` on its own mariadbd, one MySQL slave on another; a write is answered once the slave has applied it (committed in its store with its offset). MariaDB semi-sync: a binlog master with rpl_semi_sync_master_enabled and wait point AFTER_SYNC and one slave with rpl_semi_sync_slave_enabled (on before the rounds: Rpl_semi_sync_master_status ON, one client); a commit is answered once the slave has received it (written to its relay log), not applied it. Latency is the closed loop's mean, clients ÷ rate.",
    `Lag: ${s.lagRounds} rounds per system, ddb and MariaDB interleaved, each ${s.lagPerSecond} writes/s on a schedule for ${s.lagMs / 1000} s, spread over 8 connections; each figure is the median over rounds of that round's percentile (or maximum); the bench records each id's acknowledgement time and a poller on its own connection to the slave's mariadbd loops \`SELECT MAX(id) FROM t\`; each id's lag is the time MAX(id) first covered it minus its acknowledgement, on the bench's clock (0 if the slave showed it first). ddb: MySQL master store, MySQL slave; MariaDB: master, serial slave.`,
    `Catch-up: the slaves are stopped (ddb: the slave process; MariaDB: STOP SLAVE), ${count(s.catchUpEntries)} rows are written through the master by 16 clients, then each slave is started alone and timed until it has applied everything (into MySQL: the MySQL master's slave; into SQLite: the SQLite master's) (ddb: from the process's spawn until its status says applied = the master's offset; MariaDB: from START SLAVE until gtid_slave_pos = the master's gtid_binlog_pos).`,
    `Memory: a ${count(s.historyEntries)}-entry history (CREATE TABLE, then single-row inserts) is written into the master's log and SQLite store with the library; then the master and three SQLite slaves start at once. Peak RSS is the larger of VmHWM at the end and VmRSS sampled every 200 ms.`,
    `Log tail: \`ddb log tail\` on that log, from spawn to the first line on stdout, median of ${s.tailRuns} runs.`,
    `Promote: a master with --sync-replicas 1 and one slave (SQLite stores), 100 writes, the master killed -9; the time from spawning \`ddb promote --to SLAVE\` (a process of its own, which first asks the old master, unreachable) until a client retrying every millisecond has its first INSERT accepted by the promoted slave, median of ${s.tailRuns} runs. MariaDB has no promotion of its own to compare with.`,
    'At the end every master is compared with each of its slaves row by row (ordered dumps, SHA-1): the run fails if any differ.',
  ]
}

function throughput(name: string, ddb: number[], mariadb?: number[], atLeast?: number): Figure {
  const d = median(ddb)
  const m = mariadb && median(mariadb)
  const target =
    m !== undefined && atLeast !== undefined ? { target: `≥ ${atLeast}× MariaDB`, pass: d >= atLeast * m } : {}
  return { name, unit: 'per-second', ddb: d, mariadb: m, ...target, rounds: { ddb, mariadb } }
}

function memory(name: string, bytes: number): Figure {
  return { name, unit: 'MB', ddb: bytes, target: '< 150 MB', pass: bytes < 150 * MiB }
}

function tail(name: string, times: number[]): Figure {
  const ms = median(times)
  return { name, unit: 'ms', ddb: ms, target: '< 100 ms', pass: ms < 100, rounds: { ddb: times } }
}

/** A front-door target: at least `atLeast` × the figure of `against`, at one workload and connection count. */
interface FrontDoorTarget {
  workload: WorkloadKey
  connections: number
  against: 'binlog' | 'plain'
  atLeast: number
}

/** The issue's targets for the front door (ddb through its MySQL port). */
const FRONT_DOOR_TARGETS: FrontDoorTarget[] = [
  { workload: 'writes', connections: 1, against: 'binlog', atLeast: 0.8 },
  { workload: 'writes', connections: 16, against: 'binlog', atLeast: 1.2 },
  { workload: 'points', connections: 16, against: 'plain', atLeast: 0.7 },
  { workload: 'readOnly', connections: 16, against: 'plain', atLeast: 0.7 },
]

/** One row of the front-door table: a workload at a connection count, each setup's median and rounds, and the target. */
export interface FrontDoorRow {
  workload: WorkloadKey
  connections: number
  /** Operations per second (median over rounds), by setup; NaN when not measured. */
  median: Record<TargetKey, number>
  rounds: Record<TargetKey, number[]>
  target?: { text: string; met: Record<'ddbMysql' | 'ddbSqlite', boolean> }
}

/** The front door's rows, in the order of WORKLOADS and CONNECTIONS, with the targets the issue set. */
export function frontDoorRows(r: FrontDoorResults): FrontDoorRow[] {
  const keys = Object.keys(TARGETS) as TargetKey[]
  return (Object.keys(WORKLOADS) as WorkloadKey[]).flatMap((workload) =>
    CONNECTIONS.flatMap((connections) => {
      const cells = r.cells.filter((c) => c.workload === workload && c.connections === connections)
      if (cells.length === 0) return []
      const rounds = Object.fromEntries(
        keys.map((k) => [k, cells.find((c) => c.target === k)?.perSecond ?? []]),
      ) as Record<TargetKey, number[]>
      const m = Object.fromEntries(keys.map((k) => [k, median(rounds[k])])) as Record<TargetKey, number>
      const t = FRONT_DOOR_TARGETS.find((t) => t.workload === workload && t.connections === connections)
      const row: FrontDoorRow = { workload, connections, median: m, rounds }
      if (t) {
        const bar = t.atLeast * m[t.against]
        row.target = {
          text: `≥ ${t.atLeast}× ${t.against === 'binlog' ? 'binlog master' : 'plain MariaDB'}`,
          met: { ddbMysql: m.ddbMysql >= bar, ddbSqlite: m.ddbSqlite >= bar },
        }
      }
      return [row]
    }),
  )
}

/** How the front door was measured, in words, for BENCHMARKS.md. */
export function frontDoorMethod(s: Settings, sysbench: boolean): string[] {
  return [
    `Every figure goes through a MySQL port: ddb's master's \`--mysql-listen\` (the compiled binary and the setups of the tables above, slaves attached and applying), MariaDB's native binlog master (its two GTID slaves attached and applying), and a plain mariadbd without binlog or slaves; every one of MariaDB's mariadbd with innodb_flush_log_at_trx_commit=1 and sync_binlog=1; ddb's log fsynced per commit, its MySQL stores at innodb_flush_log_at_trx_commit=2 (one durable log, as above). All run on this machine, in this run, the tables in a database \`${FRONT_DATABASE}\` of their own. ddb on the SQLite store: its SQLite slave applies them. ddb on the MySQL store: its MySQL slave applies them.`,
    `The client is mysql2 as an application uses it: one connection per client, text protocol (client-side placeholders), autocommit, one operation outstanding per connection, back to back. Single-row writes: \`INSERT INTO front_writes (c) VALUES (?)\`, an AUTO_INCREMENT key and a short value, acknowledged once durable. Point selects: \`SELECT c FROM front_reads WHERE id = ?\`, a random id of ${count(READ_ROWS)} rows filled through the same port before any round. Read-only transactions: \`BEGIN\`, 10 such point selects, \`SELECT c FROM front_reads WHERE id BETWEEN ? AND ?\` (10 rows), \`COMMIT\`, each its own round trip (as sysbench's oltp_read_only sends them).`,
    sysbench
      ? `sysbench oltp_read_write: Debian's sysbench 1.0 and its stock script, one table of 10,000 rows prepared through each port, its defaults otherwise (prepared statements, 10 point selects, 4 range selects, 2 updates, a delete and an insert per transaction; deadlocks retried); ${s.sysbenchRounds} round${s.sysbenchRounds === 1 ? '' : 's'} of ${s.sysbenchRoundMs / 1000} s per case${s.sysbenchWarmUpMs > 0 ? ` after a ${s.sysbenchWarmUpMs / 1000} s warm-up run` : ''}; the figure is sysbench's transactions over its total time, and its process counts as the load generator.`
      : 'sysbench oltp_read_write: skipped, sysbench is not installed.',
    `mysql2 workloads: one unmeasured warm-up round per case (up to ${s.frontWarmUpMs / 1000} s), then ${s.frontRounds} rounds of ${s.frontRoundMs / 1000} s per case, all cases interleaved, slaves caught up after each round; each figure is the median over rounds. Ratios divide ddb's median by the other setup's. The targets are issue 12's, judged for ddb on each store (read-only transactions, like point selects, at 16 connections); a missed one does not fail the run (a crash or a slave that differs does). The CPU table sums each process's user and system time (/proc) over the rounds and divides by the operations done; the bench process (mysql2) is the load generator.`,
    `At the end the front door's tables (and sysbench's sbtest1) on every master are compared with each of its slaves that applies them, row by row, as t is; the insert table must hold every acknowledged insert, the read table its ${count(READ_ROWS)} rows.`,
  ]
}
