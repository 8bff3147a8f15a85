/**
 * The front door: what applications see through a MySQL port. The same
 * workloads, through mysql2 and sysbench, against ddb's master (MySQL and
 * SQLite stores), MariaDB as a native replication master with its slaves
 * attached, and a plain mariadbd; rounds interleaved, CPU metered per process.
 */
import { closedLoop, openAll } from './load.ts'
import {
  createFrontTables,
  insertRow,
  type MysqlConn,
  openMysql,
  pointSelect,
  READ_ROWS,
  readOnlyTransaction,
  WriteCount,
} from './mysql-load.ts'
import { count, progress } from './progress.ts'
import type { CpuRow } from './report.ts'
import type { Settings } from './settings.ts'
import { haveSysbench, sysbenchPrepare, sysbenchRun } from './sysbench.ts'
import type { FrontDoor } from './systems.ts'
import { measureRounds, type RoundCase } from './throughput.ts'

/** The setups measured, in the tables' column order. */
export const TARGETS = {
  ddbMysql: 'ddb, MySQL store',
  ddbSqlite: 'ddb, SQLite store',
  binlog: 'MariaDB binlog master',
  plain: 'plain MariaDB',
} as const
export type TargetKey = keyof typeof TARGETS

/** The workloads, in the tables' row order: what one operation is. */
export const WORKLOADS = {
  writes: { label: 'Single-row insert', unit: 'rows' },
  points: { label: 'Point select', unit: 'selects' },
  readOnly: { label: 'Read-only transaction', unit: 'transactions' },
  readWrite: { label: 'sysbench oltp_read_write', unit: 'transactions' },
} as const
export type WorkloadKey = keyof typeof WORKLOADS

/** Client connections (sysbench: threads) each workload runs with. */
export const CONNECTIONS = [1, 16] as const

/** One measured cell: a workload at a connection count on a setup. */
export interface FrontDoorCell {
  workload: WorkloadKey
  connections: number
  target: TargetKey
  /** Operations per second, per round. */
  perSecond: number[]
}

/** What the front door measured. */
export interface FrontDoorResults {
  cells: FrontDoorCell[]
  /** CPU per operation of every case, for the CPU table. */
  cpu: CpuRow[]
  /** Single-row writes each setup acknowledged (the rows its writes table must hold). */
  writes: Record<TargetKey, number>
  /** Whether sysbench ran (it is skipped when not installed). */
  sysbench: boolean
}

/** mysql2's operations, by workload. */
const OPERATIONS: Record<Exclude<WorkloadKey, 'readWrite'>, (c: MysqlConn, writes: WriteCount) => Promise<void>> = {
  writes: insertRow,
  points: (c) => pointSelect(c),
  readOnly: (c) => readOnlyTransaction(c),
}

/**
 * Creates the front door's tables on every setup (through its MySQL port),
 * then measures each workload at 1 and 16 connections on each setup:
 * mysql2's in `s.frontRounds` rounds, then sysbench's in `s.sysbenchRounds`.
 */
export async function measureFrontDoor(targets: Record<TargetKey, FrontDoor>, s: Settings): Promise<FrontDoorResults> {
  const keys = Object.keys(TARGETS) as TargetKey[]
  progress('front door', `creating the tables through each MySQL port, ${count(READ_ROWS)} rows to read`)
  for (const key of keys) {
    const t = targets[key]
    await createFrontTables(t.mysqlPort, t.database, t.createDatabase)
  }
  const useSysbench = haveSysbench()
  if (useSysbench) {
    progress('front door', 'sysbench oltp_read_write prepare on each setup')
    for (const key of keys) await sysbenchPrepare(targets[key].mysqlPort, targets[key].database)
  } else {
    progress('front door', 'sysbench is not installed (apt-get install -y sysbench): oltp_read_write is skipped')
  }
  for (const key of keys) await targets[key].settle()

  const counts = Object.fromEntries(keys.map((k) => [k, new WriteCount()])) as Record<TargetKey, WriteCount>
  const cases = new Map<RoundCase, Omit<FrontDoorCell, 'perSecond'>>()
  const add = (cell: Omit<FrontDoorCell, 'perSecond'>, open: RoundCase['open']) => {
    const target = targets[cell.target]
    const plural = cell.connections === 1 ? '' : 's'
    const rc: RoundCase = {
      label: `${WORKLOADS[cell.workload].label}, ${cell.connections} connection${plural}, ${TARGETS[cell.target]}`,
      unit: WORKLOADS[cell.workload].unit,
      open,
      processes: () => target.processes(),
      settle: () => target.settle(),
    }
    cases.set(rc, cell)
    return rc
  }

  const mysql2Cases = (Object.keys(OPERATIONS) as Array<keyof typeof OPERATIONS>).flatMap((workload) =>
    CONNECTIONS.flatMap((connections) =>
      keys.map((key) =>
        add({ workload, connections, target: key }, async () => {
          const { mysqlPort, database } = targets[key]
          const conns = await openAll(() => openMysql(mysqlPort, database), connections)
          const op = OPERATIONS[workload]
          return {
            run: (more) => closedLoop(conns, (c) => op(c, counts[key]), more),
            close: () => {
              for (const c of conns) c.close()
            },
          }
        }),
      ),
    ),
  )
  progress(
    'front door',
    `mysql2: ${mysql2Cases.length} cases, ${s.frontRounds} rounds of ${s.frontRoundMs / 1000} s each, cases interleaved`,
  )
  const results = await measureRounds(mysql2Cases, s.frontRounds, s.frontRoundMs, {
    phase: 'front door',
    warmUpMs: s.frontWarmUpMs,
  })

  if (useSysbench) {
    const sysbenchCases = CONNECTIONS.flatMap((threads) =>
      keys.map((key) =>
        add({ workload: 'readWrite', connections: threads, target: key }, async (durationMs) => {
          // sysbench starts when the round runs (after the meter started) and ends by itself.
          const seconds = Math.max(1, Math.round(durationMs / 1000))
          return {
            run: async () => {
              const { transactions, ms, cpuSeconds } = await sysbenchRun(
                targets[key].mysqlPort,
                targets[key].database,
                threads,
                seconds,
              )
              return { ops: transactions, ms, loadCpuSeconds: cpuSeconds }
            },
            close: () => {},
          }
        }),
      ),
    )
    progress(
      'front door',
      `sysbench: ${sysbenchCases.length} cases, ${s.sysbenchRounds} rounds of ${s.sysbenchRoundMs / 1000} s each`,
    )
    for (const [rc, r] of await measureRounds(sysbenchCases, s.sysbenchRounds, s.sysbenchRoundMs, {
      phase: 'front door',
      warmUpMs: s.sysbenchWarmUpMs,
    }))
      results.set(rc, r)
  }

  return {
    cells: [...results].map(([rc, r]) => ({ ...cases.get(rc)!, perSecond: r.perSecond })),
    cpu: [...results].map(([rc, r]) => ({
      label: rc.label,
      clients: cases.get(rc)!.connections,
      cpu: r.cpu,
    })),
    writes: Object.fromEntries(keys.map((k) => [k, counts[k].acknowledged])) as Record<TargetKey, number>,
    sysbench: useSysbench,
  }
}
