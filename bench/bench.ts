/**
 * `bun run bench [--quick]`: ddb against MariaDB's native replication, on
 * private mariadbd instances and the compiled ddb binary, all started and
 * removed by this run. Prints a table of figures (medians over rounds, the
 * ratio ddb / MariaDB, PASS/MISS against the targets), the front door's
 * (mysql2 and sysbench through ddb's MySQL port, MariaDB's binlog master and a
 * plain mariadbd; ratios, met/missed) and the snapshot bootstrap's (against
 * mariadb-dump | mariadb), writes them into BENCHMARKS.md, and exits non-zero
 * if any master and slave differ.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Mariadb, startMariadb } from '../test/support/mariadb.ts'
import { ddbCatchUp, nativeCatchUp } from './catch-up.ts'
import { frontDoorMethod, frontDoorRows, method, toFigures } from './figures.ts'
import { measureFrontDoor, TARGETS, type TargetKey } from './front-door.ts'
import { measureLag } from './lag.ts'
import { timeToFirstLine } from './log-tail.ts'
import { now, percentile } from './measure.ts'
import { measureMemory } from './memory.ts'
import { READ_ROWS, READS, WRITES } from './mysql-load.ts'
import { buildDdb } from './nodes.ts'
import { count, progress } from './progress.ts'
import { measurePromote } from './promote.ts'
import {
  environment,
  renderCpuTable,
  renderFrontDoor,
  renderFrontDoorTable,
  renderReport,
  renderSnapshot,
  renderSnapshotDetails,
  renderSnapshotTable,
  renderTable,
  writeBenchmarks,
} from './report.ts'
import { guardTempDir, Resources } from './resources.ts'
import { FULL, QUICK } from './settings.ts'
import { measureSnapshots, snapshotMethod } from './snapshot.ts'
import { SYSBENCH_TABLE } from './sysbench.ts'
import { DdbReplication, FRONT_DATABASE, NativeReplication, PlainMariadb } from './systems.ts'
import { measureThroughput } from './throughput.ts'
import { compareCopies, mysqlCopy, sqliteCopy, T, type Table } from './verify.ts'

async function main(args: string[], resources: Resources): Promise<number> {
  const unknown = args.filter((a) => a !== '--quick')
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown argument ${unknown[0]}\nusage: bun run bench [--quick]\n`)
    return 2
  }
  const s = args.includes('--quick') ? QUICK : FULL
  const started = now()

  const dir = await mkdtemp(join(tmpdir(), 'ddb-bench-'))
  resources.defer('temp dir', () => rm(dir, { recursive: true, force: true }))
  const file = (name: string) => join(dir, name)
  progress('setup', `${s.mode} mode; building the ddb binary`)
  const binary = await buildDdb(dir)
  guardTempDir(dir, binary)

  progress(
    'setup',
    'starting 10 private mariadbd: native master and 2 native slaves, a semi-sync master and slave, ddb master and slave stores (asynchronous and synchronous), plain MariaDB',
  )
  const server = (p: Promise<Mariadb>, what: string) =>
    p.then((m) => {
      resources.defer(what, () => m.stop())
      return m
    })
  const [native, semiSync, masterStore, slaveStore, syncMasterStore, syncSlaveStore, plain] = await Promise.all([
    NativeReplication.start({ serial: 0, parallel: 4 }).then((n) => {
      resources.defer('native replication', () => n.close())
      return n
    }),
    NativeReplication.start({ semi: 0 }, true).then((n) => {
      resources.defer('semi-sync replication', () => n.close())
      return n
    }),
    server(startMariadb({ serverArgs: ONE_DURABLE_LOG }), 'ddb master store'),
    server(startMariadb({ serverArgs: ONE_DURABLE_LOG }), 'ddb slave store'),
    server(startMariadb(), 'ddb synchronous master store'),
    server(startMariadb(), 'ddb synchronous slave store'),
    PlainMariadb.start().then((p) => {
      resources.defer('plain MariaDB', () => p.close())
      return p
    }),
  ])
  progress('setup', 'starting ddb masters and slaves')
  const ddbMysql = await DdbReplication.start(
    'ddb (MySQL)',
    binary,
    bySocket(masterStore, 'bench'),
    file('mysql-master-log.sqlite'),
    // Its slave is MySQL too: like with like against MariaDB's own replication.
    { mysql: bySocket(slaveStore, 'bench') },
    { master: masterStore, slaves: [slaveStore] },
  )
  resources.defer('ddb (MySQL)', () => ddbMysql.close())
  const ddbSqlite = await DdbReplication.start(
    'ddb (SQLite)',
    binary,
    `sqlite:${file('sqlite-master.sqlite')}`,
    file('sqlite-master-log.sqlite'),
    {
      sqlite: `sqlite:${file('sqlite-slave.sqlite')}`,
    },
  )
  resources.defer('ddb (SQLite)', () => ddbSqlite.close())
  const ddbSync = await DdbReplication.start(
    'ddb (MySQL, --sync-replicas 1)',
    binary,
    bySocket(syncMasterStore, 'bench'),
    file('sync-master-log.sqlite'),
    { sync: bySocket(syncSlaveStore, 'bench') },
    { master: syncMasterStore, slaves: [syncSlaveStore] },
    {},
    ['--sync-replicas', '1', '--sync-fallback', 'block'],
  )
  resources.defer('ddb (MySQL, --sync-replicas 1)', () => ddbSync.close())

  // 1. Durable replicated write throughput.
  progress('throughput', `${s.rounds} rounds of ${s.roundMs / 1000} s per case`)
  const cases = {
    mysql1: { label: 'ddb, MySQL store, 1 client', system: ddbMysql, clients: 1 },
    native1: { label: 'MariaDB direct, 1 connection', system: native, clients: 1 },
    mysql16: { label: 'ddb, MySQL store, 16 clients', system: ddbMysql, clients: 16 },
    native16: { label: 'MariaDB direct, 16 connections', system: native, clients: 16 },
    sqlite1: { label: 'ddb, SQLite store, 1 client', system: ddbSqlite, clients: 1 },
    sqlite16: { label: 'ddb, SQLite store, 16 clients', system: ddbSqlite, clients: 16 },
    sync1: { label: 'ddb --sync-replicas 1, MySQL stores, 1 client', system: ddbSync, clients: 1 },
    semi1: { label: 'MariaDB semi-sync (AFTER_SYNC), 1 connection', system: semiSync, clients: 1 },
    sync16: { label: 'ddb --sync-replicas 1, MySQL stores, 16 clients', system: ddbSync, clients: 16 },
    semi16: { label: 'MariaDB semi-sync (AFTER_SYNC), 16 connections', system: semiSync, clients: 16 },
  }
  const rounds = await measureThroughput(Object.values(cases), s.rounds, s.roundMs)
  const throughput = Object.fromEntries(
    Object.entries(cases).map(([key, c]) => [key, rounds.get(c)!.perSecond]),
  ) as Record<keyof typeof cases, number[]>
  const cpuTable = renderCpuTable(
    Object.values(cases).map((c) => ({ label: c.label, clients: c.clients, cpu: rounds.get(c)!.cpu })),
  )

  // 1b. The front door: mysql2 and sysbench through ddb's MySQL port, MariaDB's binlog master and plain MariaDB.
  const frontDoor = await measureFrontDoor({ ddbMysql: ddbMysql, ddbSqlite: ddbSqlite, binlog: native, plain }, s)

  // 2. Replication lag at a steady rate: ddb with MySQL stores, and native.
  progress(
    'lag',
    `${s.lagRounds} rounds of ${s.lagPerSecond} writes/s for ${s.lagMs / 1000} s each, ddb and MariaDB interleaved`,
  )
  const lag = { ddb: [] as number[][], native: [] as number[][] }
  for (let round = 1; round <= s.lagRounds; round++) {
    lag.ddb.push(await measureLag(ddbMysql, slaveStore.port, s.lagPerSecond, s.lagMs))
    lag.native.push(await measureLag(native, native.slave('serial').port, s.lagPerSecond, s.lagMs))
    for (const [name, rounds] of Object.entries(lag)) {
      const lags = rounds[rounds.length - 1]!
      progress(
        'lag',
        `round ${round}/${s.lagRounds}, ${name}: p50 ${percentile(lags, 50).toFixed(2)} ms, p99 ${percentile(lags, 99).toFixed(2)} ms, max ${Math.max(...lags).toFixed(2)} ms over ${count(lags.length)} writes`,
      )
    }
  }

  // 3. Catch-up from far behind.
  progress('catch-up', `slaves ${count(s.catchUpEntries)} entries behind`)
  const mysqlRates = await ddbCatchUp(ddbMysql, ['mysql'], s.catchUpEntries)
  const sqliteRates = await ddbCatchUp(ddbSqlite, ['sqlite'], s.catchUpEntries)
  const nativeRates = await nativeCatchUp(native, ['serial', 'parallel'], s.catchUpEntries)

  // 4. Memory while three slaves catch up on a long history; 5. `ddb log tail` on that history.
  const memory = await measureMemory(binary, dir, s.historyEntries, resources)
  const tail = async (args: string[]) => {
    const times: number[] = []
    for (let i = 0; i < s.tailRuns; i++) times.push(await timeToFirstLine(binary, memory.logPath, args))
    progress('log tail', `${args.join(' ')}: ${times.map((t) => t.toFixed(0)).join(', ')} ms`)
    return times
  }

  const figures = toFigures(
    {
      throughput,
      lag,
      catchUp: {
        mysql: mysqlRates.get('mysql')!,
        sqlite: sqliteRates.get('sqlite')!,
        serial: nativeRates.get('serial')!,
        parallel: nativeRates.get('parallel')!,
      },
      memory: { master: memory.masterPeak, slave: Math.max(...memory.slavePeaks) },
      tail: {
        middle: await tail(['--from', String(s.historyEntries / 2), '-n', '1']),
        end: await tail(['--from', String(s.historyEntries - 10)]),
      },
      // 7. Failover: `ddb promote` to the first accepted write.
      promote: await measurePromote(binary, dir, s.tailRuns),
    },
    s,
  )

  // 6. Snapshot bootstrap: a new slave of a master that adopted a big table, against a dump and load.
  const snapshots = await measureSnapshots(binary, dir, s.mode, resources)

  // Every master and its slaves hold the same rows.
  progress('check', 'comparing every master with its slaves, row by row')
  await Promise.all([
    ddbMysql.settle(),
    ddbSqlite.settle(),
    ddbSync.settle(),
    native.settle(),
    semiSync.settle(),
    plain.settle(),
  ])
  // Each setup's copies of a table in `database`: its master first, then its slaves.
  const copies = (table: Table, database: string) => ({
    ddbMysql: [
      mysqlCopy('master store', masterStore.port, database, table),
      mysqlCopy('MySQL slave', slaveStore.port, database, table),
    ],
    ddbSqlite: [
      sqliteCopy('master store', file('sqlite-master.sqlite'), table),
      sqliteCopy('slave', file('sqlite-slave.sqlite'), table),
    ],
    binlog: [
      mysqlCopy('master', native.master.port, database, table),
      mysqlCopy('serial slave', native.slave('serial').port, database, table),
      mysqlCopy('parallel slave', native.slave('parallel').port, database, table),
    ],
    plain: [mysqlCopy('server', plain.mysqlPort, database, table)],
  })
  const frontTables: Array<{ table: Table; rows: (key: TargetKey) => number | null }> = [
    { table: WRITES, rows: (key) => frontDoor.writes[key] },
    { table: READS, rows: () => READ_ROWS },
    ...(frontDoor.sysbench ? [{ table: SYSBENCH_TABLE, rows: () => null }] : []),
  ]
  const t = copies(T, 'bench')
  const failures = (
    await Promise.all([
      compareCopies('ddb (MySQL)', ddbMysql.ids.last, t.ddbMysql),
      compareCopies('ddb (SQLite)', ddbSqlite.ids.last, t.ddbSqlite),
      compareCopies('MariaDB native', native.ids.last, t.binlog),
      compareCopies('ddb (MySQL, --sync-replicas 1)', ddbSync.ids.last, [
        mysqlCopy('master store', syncMasterStore.port, 'bench', T),
        mysqlCopy('synchronous slave', syncSlaveStore.port, 'bench', T),
      ]),
      compareCopies('MariaDB semi-sync', semiSync.ids.last, [
        mysqlCopy('master', semiSync.master.port, 'bench', T),
        mysqlCopy('semi-sync slave', semiSync.slave('semi').port, 'bench', T),
      ]),
      ...frontTables.flatMap(({ table, rows }) =>
        Object.entries(copies(table, FRONT_DATABASE)).map(([key, list]) =>
          compareCopies(`${TARGETS[key as TargetKey]}, ${table.name}`, rows(key as TargetKey), list),
        ),
      ),
      compareCopies('ddb history', s.historyEntries - 1, [
        sqliteCopy('master store', memory.masterStore),
        ...memory.slaveStores.map((path, i) => sqliteCopy(`slave ${i + 1}`, path)),
      ]),
    ])
  )
    .flat()
    .concat(snapshots.failures)

  const seconds = (now() - started) / 1000
  const frontRows = frontDoorRows(frontDoor)
  const frontCpuTable = renderCpuTable(frontDoor.cpu, 'operation in the front-door rounds')
  console.log(
    `${renderTable(figures)}\n\n${cpuTable}\n\n${renderFrontDoorTable(frontRows)}\n\n${frontCpuTable}\n\n${renderSnapshotTable(snapshots)}\n\n${renderSnapshotDetails(snapshots).join('\n')}`,
  )
  if (failures.length > 0) {
    process.stderr.write(
      `\nbench FAILED: masters and slaves differ, so BENCHMARKS.md was not written:\n${failures.map((f) => `  ${f}\n`).join('')}`,
    )
    return 1
  }
  progress('check', 'every master equals its slaves, row for row')
  const env = await environment(String((await native.master.query('SELECT VERSION() AS v'))[0].v))
  const frontSection = renderFrontDoor(frontRows, frontCpuTable, frontDoorMethod(s, frontDoor.sysbench))
  const snapshotSection = renderSnapshot(snapshots, snapshotMethod(snapshots))
  await writeBenchmarks(renderReport(figures, cpuTable, env, s.mode, method(s), seconds, frontSection, snapshotSection))
  progress('report', `wrote BENCHMARKS.md; the run took ${seconds.toFixed(0)} s`)
  return 0
}

/**
 * ddb's asynchronous MySQL setup runs its stores as issue 12 item 2 allows: no fsync of
 * their own per commit (the OS writes InnoDB's redo log out about once a second), since
 * ddb's log, fsynced per commit, is the durable record and recovery applies again what
 * a store lost (test/store-flush.test.ts kills such servers -9 under writes). Every other
 * mariadbd, MariaDB's own setups among them, flushes at each commit.
 */
const ONE_DURABLE_LOG = ['--innodb-flush-log-at-trx-commit=2']

/** A --db URL for a store on `m` by its Unix socket, as a node beside its MySQL server connects (cheaper per round trip than TCP). */
const bySocket = (m: Mariadb, db: string) => `${m.url(db)}?socket=${m.socket}`

const resources = new Resources()
/** The exit status a signal asked for, once one arrived. */
const interrupted: { status: number | null } = { status: null }
for (const [signal, status] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.on(signal, () => {
    if (interrupted.status !== null) return
    interrupted.status = status
    process.stderr.write(`\nbench: ${signal}: stopping every process and removing the temp files\n`)
    void resources.closeAll().finally(() => process.exit(status))
  })
}

let status: number
try {
  status = await main(process.argv.slice(2), resources)
} catch (err) {
  // After a signal, the phase in progress fails as its servers go away: that is not news.
  if (interrupted.status === null) process.stderr.write(`\nbench FAILED: ${(err as Error).stack ?? err}\n`)
  status = 1
}
await resources.closeAll()
process.exit(interrupted.status ?? status)
