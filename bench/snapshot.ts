/**
 * Snapshot bootstrap (issue 13): a master adopts a store that already holds a big
 * table, a new slave receives it by snapshot while clients write to the master, and
 * the bench times it (slave start to "snapshot loaded"), takes the master's write
 * pause from its log, samples both processes' RSS, checks the slave equals the
 * master, and times `mariadb-dump | mariadb` (or `sqlite3 .dump | sqlite3`) on the
 * same data as the baseline. Both store kinds.
 *
 * Run alone: `bun bench/snapshot.ts [--quick]` (prints its table; BENCHMARKS.md is
 * written only by `bun run bench`).
 */
import { Database } from 'bun:sqlite'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Client } from '../src/wire/client.ts'
import { type Mariadb, startMariadb } from '../test/support/mariadb.ts'
import { meterCpu } from './cpu.ts'
import { payload } from './load.ts'
import { now, RssSampler } from './measure.ts'
import { connectMysql } from './native.ts'
import { buildDdb, type DdbNode, masterOffset, startNode, waitApplied } from './nodes.ts'
import { count, every, progress } from './progress.ts'
import { renderSnapshotDetails, renderSnapshotTable } from './report.ts'
import { guardTempDir, Resources } from './resources.ts'
import { compareCopies, sqliteCopy, type Table } from './verify.ts'

/** Rows in the big table: the full run, and --quick. */
export const SNAPSHOT_ROWS = { full: 1_000_000, quick: 100_000 } as const
/** Clients writing to the master through ddb's port while the snapshot is taken and loaded. */
export const SNAPSHOT_WRITERS = 4
/** RSS sampling interval, in milliseconds. */
const RSS_INTERVAL_MS = 50
/** How long a snapshot load may take, in milliseconds. */
const LOAD_TIMEOUT_MS = 600_000
/** Rows of the small table `customers`. */
const CUSTOMERS = 1_000

/** The tables of the adopted database, their columns in digest order (key first). */
const BIG: Table = { name: 'big', columns: ['id', 'a', 'b', 'c', 'd'] }
const CUSTOMERS_TABLE: Table = { name: 'customers', columns: ['id', 'name', 'email'] }
const WRITES: Table = { name: 'writes', columns: ['id', 'v'] }
const TABLES = [BIG, CUSTOMERS_TABLE, WRITES]

/** What one store kind's snapshot measured. */
export interface SnapshotCase {
  store: 'MySQL' | 'SQLite' | 'MySQL → SQLite'
  /** Rows the snapshot held (every table), and their bytes as ddb counts them (the rows' JSON). */
  rows: number
  bytes: number
  /** Slave start to its "snapshot loaded" line, in milliseconds; of which: to "snapshot load started", and the takeover. */
  ms: number
  startMs: number
  takeoverMs: number
  /** How long opening the snapshot held the master's writer (its log). */
  writePauseMs: number
  /** The writes acknowledged while the slave loaded, and the slowest of them, in milliseconds. */
  writes: number
  maxWriteMs: number
  /** Peak RSS, in bytes: the master before the slave started, the master and the slave during the load. */
  masterBefore: number
  masterPeak: number
  slavePeak: number
  /** CPU seconds per process during the load, and how busy the machine was (0…1). */
  cpu: Record<string, number>
  busy: number
  /** The dump-and-load baseline on the same data, or why there is none. */
  baseline: Baseline | { skipped: string }
}

/** `mariadb-dump | mariadb` or `sqlite3 .dump | sqlite3`: what it moved and how long it took. */
export interface Baseline {
  tool: string
  rows: number
  /** The size of the dump's SQL text. */
  bytes: number
  ms: number
}

/** The snapshot phase's results, and the copies that did not match (none when every slave equals its master). */
export interface SnapshotResults {
  bigRows: number
  cases: SnapshotCase[]
  failures: string[]
}

/** Both store kinds, one after the other; `mode` sets the big table's size. */
export async function measureSnapshots(
  binary: string,
  dir: string,
  mode: 'full' | 'quick',
  resources: Resources,
): Promise<SnapshotResults> {
  const bigRows = SNAPSHOT_ROWS[mode]
  const failures: string[] = []
  const cases: SnapshotCase[] = []
  await mysqlCases(binary, dir, bigRows, resources, failures, cases)
  cases.push(await sqliteCase(binary, dir, bigRows, resources, failures))
  return { bigRows, cases, failures }
}

/** How the snapshot figures were measured, for BENCHMARKS.md. */
export function snapshotMethod(r: SnapshotResults): string[] {
  return [
    `The data: \`big\` (${count(r.bigRows)} rows of \`id INT PRIMARY KEY, a INT, b VARCHAR(64), c DATETIME, d BLOB\`, about 92 bytes a row; filled with MariaDB's sequence engine, or a recursive CTE in SQLite), \`customers\` (${count(CUSTOMERS)} rows, a unique key) and \`writes\`, created in the store before \`ddb master\` starts on it, which adopts them. MySQL: private mariadbd per store (startMariadb's flags: 64 MB buffer pool, flush at each commit); SQLite: files.`,
    `A new \`ddb slave\` on an empty store is started while ${SNAPSHOT_WRITERS} clients insert single rows into \`writes\` through the master's ddb port, non-stop; the time is from the slave's spawn to its \`snapshot loaded\` log line (so it includes the slave's start, the master opening the snapshot, the load into staging and the takeover). Rows and bytes are that line's (every table; bytes are the rows' JSON as ddb sends them); MB/s is 10^6 bytes a second.`,
    "Write pause: the master's `snapshot opened … writePauseMs=` (how long the writer was held while the read view was taken); slowest write: the longest a client's insert took during the load (what a client saw).",
    `Peak RSS: /proc/PID/status VmRSS sampled every ${RSS_INTERVAL_MS} ms, and VmHWM, of the master and the slave processes (not their mariadbd), in MiB; the target is the issue's: both under 150 MB for a 1,000,000-row table. CPU: user + system seconds of each process during the load.`,
    "MySQL → SQLite: the MySQL case's master, restarted on its log, gets a new SQLite slave of its database app (`--replicate-db app`: the schema translated, the rows made SQLite literals), timed the same way and checked with `ddb checksum` (the neutral form); its ratio is against the MySQL case's `mariadb-dump | mariadb`.",
    'Afterwards the writers stop, the slave catches up, and each table is compared on both stores read directly (MySQL: COUNT(*), BIT_XOR and SUM of CRC32 over every column; SQLite: a SHA-1 of every row in key order), and `writes` must hold every acknowledged write: the bench fails on a difference.',
    "Baseline, same data, no writers, ddb stopped: `mariadb-dump --single-transaction --databases app | mariadb` into a fresh private mariadbd, and `sqlite3 master.sqlite .dump | sqlite3 copy.sqlite`; timed in bash with pipefail, bytes are the dump's SQL text; its copy is checked the same way. ddb ÷ dump is the ratio of rows per second (above 1: ddb is faster).",
  ]
}

/** A private mariadbd, stopped at the end of the run if not before. */
async function server(resources: Resources, what: string): Promise<Mariadb> {
  const m = await startMariadb()
  resources.defer(what, () => m.stop())
  return m
}

/** A MySQL master's snapshot into a MySQL slave (pushed to `cases`, with its baseline), then into a SQLite slave of app. */
async function mysqlCases(
  binary: string,
  dir: string,
  bigRows: number,
  resources: Resources,
  failures: string[],
  cases: SnapshotCase[],
): Promise<void> {
  progress('snapshot', 'MySQL: starting 3 private mariadbd (master store, slave store, dump target)')
  const [masterStore, slaveStore, dumpTarget] = await Promise.all([
    server(resources, 'snapshot master store'),
    server(resources, 'snapshot slave store'),
    server(resources, 'snapshot dump target'),
  ])
  try {
    const filled = now()
    const conn = await connectMysql(masterStore.port)
    try {
      for (const sql of [
        'CREATE DATABASE app',
        'CREATE TABLE app.big (id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(64) NOT NULL, c DATETIME NOT NULL, d BLOB NOT NULL)',
        'CREATE TABLE app.customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, email VARCHAR(100) NOT NULL, UNIQUE KEY (email))',
        'CREATE TABLE app.writes (id INT PRIMARY KEY, v VARCHAR(100) NOT NULL)',
        // ~92 bytes a row: 4 + 4 + 43 + 5 + 36.
        `INSERT INTO app.big SELECT seq, (seq * 7) % 1000003, CONCAT(MD5(seq), '-', LPAD(seq, 10, '0')),
           '2024-01-01' + INTERVAL seq SECOND, UNHEX(CONCAT(SHA1(seq), MD5(seq))) FROM app.seq_1_to_${bigRows}`,
        `INSERT INTO app.customers (name, email) SELECT CONCAT('customer ', seq), CONCAT('c', seq, '@example.com') FROM app.seq_1_to_${CUSTOMERS}`,
      ])
        await conn.query(sql)
    } finally {
      conn.destroy()
    }
    progress(
      'snapshot',
      `MySQL: filled app.big with ${count(bigRows)} rows in ${((now() - filled) / 1000).toFixed(1)} s`,
    )

    const log = join(dir, 'snapshot-mysql-log.sqlite')
    const c = await snapshotCase(
      binary,
      'MySQL',
      masterStore.url('app'),
      slaveStore.url('app'),
      log,
      resources,
      { master: masterStore.pid, slave: slaveStore.pid },
      async (acked) => {
        const f = await compareMysql('ddb slave', masterStore.port, slaveStore.port, acked)
        failures.push(...f.map((m) => `snapshot (MySQL): ${m}`))
      },
    )
    cases.push(c)
    // The same master (restarted on its log) gets a SQLite slave of app: the snapshot translated.
    const crossed = await snapshotCase(
      binary,
      'MySQL → SQLite',
      masterStore.url('app'),
      `sqlite:${join(dir, 'snapshot-from-mysql.sqlite')}`,
      log,
      resources,
      { master: masterStore.pid },
      async (_acked, master) => {
        const checksum = Bun.spawnSync([binary, 'checksum', '--to', master.address])
        if (checksum.exitCode !== 0)
          failures.push(
            `snapshot (MySQL → SQLite): ddb checksum: ${checksum.stdout.toString()}${checksum.stderr.toString()}`,
          )
      },
      ['--replicate-db', 'app'],
    )
    cases.push(crossed)

    progress('snapshot', 'MySQL: baseline, mariadb-dump --single-transaction | mariadb into a fresh mariadbd')
    const args = (port: number) => ['-h', '127.0.0.1', '-P', String(port), '-u', 'root']
    const baseline = await pipeline(
      'mariadb-dump | mariadb',
      ['mariadb-dump', ...args(masterStore.port), '--single-transaction', '--databases', 'app'],
      ['mariadb', ...args(dumpTarget.port)],
    )
    const copied = await compareMysql('mariadb-dump copy', masterStore.port, dumpTarget.port, null)
    failures.push(...copied.map((m) => `snapshot baseline (MySQL): ${m}`))
    c.baseline = { ...baseline, rows: await mysqlRows(dumpTarget.port) }
    crossed.baseline = c.baseline // the same data, dumped and loaded into MySQL: what a team would do without ddb
    logBaseline(c)
  } finally {
    await Promise.all([masterStore.stop(), slaveStore.stop(), dumpTarget.stop()])
  }
}

async function sqliteCase(
  binary: string,
  dir: string,
  bigRows: number,
  resources: Resources,
  failures: string[],
): Promise<SnapshotCase> {
  const masterPath = join(dir, 'snapshot-master.sqlite')
  const slavePath = join(dir, 'snapshot-slave.sqlite')
  const filled = now()
  const db = new Database(masterPath, { create: true })
  try {
    db.exec(`
      CREATE TABLE big (id INTEGER PRIMARY KEY, a INTEGER NOT NULL, b TEXT NOT NULL, c TEXT NOT NULL, d BLOB NOT NULL);
      CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE);
      CREATE TABLE writes (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
      BEGIN;
      WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${bigRows})
        INSERT INTO big SELECT i, (i * 7) % 1000003, printf('%s-%010d', lower(hex(randomblob(16))), i),
          datetime(1704067200 + i, 'unixepoch'), randomblob(36) FROM s;
      WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${CUSTOMERS})
        INSERT INTO customers (name, email) SELECT 'customer ' || i, 'c' || i || '@example.com' FROM s;
      COMMIT;
    `)
  } finally {
    db.close()
  }
  progress('snapshot', `SQLite: filled big with ${count(bigRows)} rows in ${((now() - filled) / 1000).toFixed(1)} s`)

  const copies = (path: string, name: string) => TABLES.map((t) => sqliteCopy(name, path, t))
  const c = await snapshotCase(
    binary,
    'SQLite',
    `sqlite:${masterPath}`,
    `sqlite:${slavePath}`,
    join(dir, 'snapshot-sqlite-log.sqlite'),
    resources,
    {},
    async (acked) => {
      const master = copies(masterPath, 'master store')
      const slave = copies(slavePath, 'ddb slave')
      for (const [i, t] of TABLES.entries()) {
        const f = await compareCopies(`snapshot (SQLite), ${t.name}`, t === WRITES ? acked : null, [
          master[i]!,
          slave[i]!,
        ])
        failures.push(...f)
      }
    },
  )

  if (!Bun.which('sqlite3')) {
    c.baseline = { skipped: 'no sqlite3 CLI on this machine' }
    progress('snapshot', 'SQLite: baseline skipped (no sqlite3 CLI)')
    return c
  }
  progress('snapshot', 'SQLite: baseline, sqlite3 .dump | sqlite3 into a new file')
  const copyPath = join(dir, 'snapshot-dump-copy.sqlite')
  const baseline = await pipeline('sqlite3 .dump | sqlite3', ['sqlite3', masterPath, '.dump'], ['sqlite3', copyPath])
  for (const [i, t] of TABLES.entries()) {
    failures.push(
      ...(await compareCopies(`snapshot baseline (SQLite), ${t.name}`, null, [
        copies(masterPath, 'master store')[i]!,
        copies(copyPath, 'sqlite3 .dump copy')[i]!,
      ])),
    )
  }
  const copy = new Database(copyPath, { readonly: true })
  try {
    const rows = TABLES.reduce(
      (n, t) => n + Number(copy.query<{ n: number }, []>(`SELECT COUNT(*) AS n FROM ${t.name}`).get()!.n),
      0,
    )
    c.baseline = { ...baseline, rows }
  } finally {
    copy.close()
  }
  logBaseline(c)
  return c
}

/** The mariadbd pids of the stores, for CPU accounting (none for SQLite). */
interface StorePids {
  master?: number
  slave?: number
}

/**
 * Starts a master on `masterDb` (which already holds the data), writers on it, then a
 * slave on the empty `slaveDb`, and follows the slave until its snapshot is loaded;
 * then stops the writers, waits for the slave to apply everything and runs `verify`
 * (with the writes acknowledged); the nodes are stopped before it returns.
 */
async function snapshotCase(
  binary: string,
  store: SnapshotCase['store'],
  masterDb: string,
  slaveDb: string,
  log: string,
  resources: Resources,
  storePids: StorePids,
  verify: (acked: number, master: DdbNode) => Promise<void>,
  slaveArgs: string[] = [],
): Promise<SnapshotCase> {
  const nodes: DdbNode[] = []
  const track = (node: DdbNode) => {
    nodes.push(node)
    resources.defer(node.name, () => node.stop())
    return node
  }
  const master = track(await startNode(binary, `snapshot ${store} master`, ['master', '--db', masterDb, '--log', log]))
  const sampler = new RssSampler([master.pid], RSS_INTERVAL_MS)
  const writers = startSnapshotWriters(master, SNAPSHOT_WRITERS)
  try {
    await Bun.sleep(300) // the writers are writing before the slave asks for its snapshot
    const masterBefore = sampler.peak(master.pid)
    progress(
      'snapshot',
      `${store}: master adopted its store; starting the slave with ${SNAPSHOT_WRITERS} clients writing`,
    )
    const ackedBefore = writers.acked()
    writers.resetMax()
    const started = now()
    const slave = track(
      await startNode(binary, `snapshot ${store} slave`, [
        'slave',
        '--master',
        master.address,
        '--db',
        slaveDb,
        '--id',
        `snap-${slaveDb.split(':')[0]}`,
        // A MySQL store's log would go in the working directory: beside the master's instead.
        ...(slaveDb.startsWith('mysql:') ? ['--log', join(dirname(log), 'snapshot-mysql-slave-log.sqlite')] : []),
        ...slaveArgs,
      ]),
    )
    sampler.add(slave.pid)
    const stopCpu = meterCpu({
      master: [master.pid],
      ...(storePids.master ? { "master's mariadbd": [storePids.master] } : {}),
      slave: [slave.pid],
      ...(storePids.slave ? { "slave's mariadbd": [storePids.slave] } : {}),
      'writers (bench)': [process.pid],
    })
    let loadStarted = Number.NaN
    let writePauseMs = Number.NaN
    let loaded: RegExpExecArray | null = null
    let status = ''
    const stopTicker = every(1_000, () =>
      progress(
        'snapshot',
        `${store}: ${status || 'waiting for the snapshot'}; RSS master ${mb(sampler.peak(master.pid))} MB, slave ${mb(sampler.peak(slave.pid))} MB (peaks); ${count(writers.acked() - ackedBefore)} writes acknowledged`,
      ),
    )
    try {
      const deadline = Date.now() + LOAD_TIMEOUT_MS
      while (!loaded) {
        if (Date.now() > deadline)
          throw new Error(`snapshot (${store}) not loaded after ${LOAD_TIMEOUT_MS} ms:\n${slave.log()}`)
        const s = await slave.status() // throws if it exited
        if (s.role === 'slave' && s.error)
          throw new Error(`snapshot slave (${store}) stopped: ${s.error}\n${slave.log()}`)
        if (s.role === 'slave' && s.snapshot)
          status = `loaded ${count(s.snapshot.rows)} of ~${count(s.snapshot.rowsEstimate)} rows (${s.snapshot.percent}%), ${count(s.snapshot.rowsPerSecond)} rows/s, ${(s.snapshot.bytes / 1e6).toFixed(0)} MB`
        if (Number.isNaN(writePauseMs))
          writePauseMs = Number(/snapshot opened [^\n]*writePauseMs=([\d.]+)/.exec(master.log())?.[1] ?? Number.NaN)
        const slaveLog = slave.log()
        if (Number.isNaN(loadStarted) && /snapshot load started/.test(slaveLog)) loadStarted = now()
        loaded = /snapshot loaded[^\n]* rows=(\d+)[^\n]* bytes=(\d+)[^\n]* takeoverMs=(\d+)/.exec(slaveLog)
        if (!loaded) await Bun.sleep(20)
      }
    } finally {
      stopTicker()
    }
    const ms = now() - started
    const cpu = stopCpu()
    const masterPeak = sampler.peak(master.pid)
    const slavePeak = sampler.peak(slave.pid)
    const writes = writers.acked() - ackedBefore
    const maxWriteMs = writers.maxMs()
    if (Number.isNaN(writePauseMs))
      writePauseMs = Number(/snapshot opened [^\n]*writePauseMs=([\d.]+)/.exec(master.log())?.[1] ?? Number.NaN)
    const c: SnapshotCase = {
      store,
      rows: Number(loaded[1]),
      bytes: Number(loaded[2]),
      ms,
      startMs: loadStarted - started,
      takeoverMs: Number(loaded[3]),
      writePauseMs,
      writes,
      maxWriteMs,
      masterBefore,
      masterPeak,
      slavePeak,
      cpu: cpu.seconds,
      busy: cpu.busy,
      baseline: { skipped: 'not run' },
    }
    progress(
      'snapshot',
      `${store}: loaded ${count(c.rows)} rows (${(c.bytes / 1e6).toFixed(0)} MB) in ${(ms / 1000).toFixed(1)} s: ${count(c.rows / (ms / 1000))} rows/s, ${(c.bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s; write pause ${writePauseMs} ms, slowest write ${maxWriteMs.toFixed(0)} ms; peak RSS master ${mb(masterPeak)} MB, slave ${mb(slavePeak)} MB`,
    )
    progress(
      'snapshot',
      `${store}: CPU during the load: ${Object.entries(cpu.seconds)
        .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
        .join(', ')}; machine ${(cpu.busy * 100).toFixed(0)}% busy`,
    )

    await writers.stop()
    const offset = await masterOffset(master)
    await waitApplied(slave, offset, 120_000)
    progress('snapshot', `${store}: slave caught up to offset ${count(offset)}; comparing it with the master`)
    await verify(writers.acked(), master)
    return c
  } finally {
    sampler.stop()
    await writers.stop().catch(() => {}) // stopped already, or failing with the error reported above
    for (const node of nodes.reverse()) await node.stop()
  }
}

/** Writers inserting into `writes` through the master's ddb port, each with ids of its own. */
interface SnapshotWriters {
  acked(): number
  /** The slowest acknowledged write since resetMax(), in milliseconds. */
  maxMs(): number
  resetMax(): void
  stop(): Promise<void>
}

/** Runs of startSnapshotWriters so far: each run's ids are its own (a master's second case writes to the same table). */
let writerRuns = 0

function startSnapshotWriters(master: DdbNode, clients: number): SnapshotWriters {
  const [host, port] = master.address.split(':') as [string, string]
  const first = writerRuns++ * 10_000_000
  let running = true
  let acked = 0
  let max = 0
  let failed: Error | null = null
  const done = Promise.all(
    Array.from({ length: clients }, async (_, w) => {
      try {
        const client = await Client.connect({ host, port: Number(port) }, '')
        try {
          for (let i = 1; running; i++) {
            const id = w * 100_000_000 + first + i
            const t = now()
            await client.query('INSERT INTO writes (id, v) VALUES (?, ?)', [id, payload(id)])
            max = Math.max(max, now() - t)
            acked++
          }
        } finally {
          client.close()
        }
      } catch (err) {
        failed ??= err as Error
        running = false
      }
    }),
  )
  let stopped: Promise<void> | null = null
  return {
    acked: () => acked,
    maxMs: () => max,
    resetMax: () => {
      max = 0
    },
    stop: () =>
      (stopped ??= (() => {
        running = false
        return done.then(() => {
          if (failed) throw new Error(`a writer failed: ${failed.message}`)
        })
      })()),
  }
}

/** Each table's row count and CRC32 sums on the two mariadbds; a verdict per difference (and per missing acknowledged write). */
async function compareMysql(
  name: string,
  masterPort: number,
  copyPort: number,
  acked: number | null,
): Promise<string[]> {
  const summary = async (port: number) => {
    const conn = await connectMysql(port, 'app')
    try {
      const out: Record<string, string> = {}
      for (const t of TABLES) {
        const crc = `CRC32(CONCAT_WS('|', ${t.columns.join(', ')}))`
        const [rows] = await conn.query(`SELECT COUNT(*) AS n, BIT_XOR(${crc}) AS x, SUM(${crc}) AS s FROM ${t.name}`)
        const r = (rows as Array<Record<string, unknown>>)[0]!
        out[t.name] = `${r.n} rows, crc ${r.x}/${r.s}`
      }
      return out
    } finally {
      conn.destroy()
    }
  }
  const [master, copy] = await Promise.all([summary(masterPort), summary(copyPort)])
  const failures = TABLES.filter((t) => master[t.name] !== copy[t.name]).map(
    (t) => `${t.name}: ${name} has ${copy[t.name]}, the master ${master[t.name]}`,
  )
  if (acked !== null && !master[WRITES.name]!.startsWith(`${acked} rows`))
    failures.push(`writes: the master has ${master[WRITES.name]}, ${acked} writes were acknowledged`)
  return failures
}

/** Rows in the adopted tables of the mariadbd at `port`. */
async function mysqlRows(port: number): Promise<number> {
  const conn = await connectMysql(port, 'app')
  try {
    let n = 0
    for (const t of TABLES) {
      const [rows] = await conn.query(`SELECT COUNT(*) AS n FROM ${t.name}`)
      n += Number((rows as Array<{ n: number }>)[0]!.n)
    }
    return n
  } finally {
    conn.destroy()
  }
}

/** Times `from | to` (bash, pipefail), counting the bytes that went through the pipe. */
async function pipeline(tool: string, from: string[], to: string[]): Promise<Omit<Baseline, 'rows'>> {
  const quote = (args: string[]) => args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  const sizeFile = join(tmpdir(), `ddb-bench-dump-size-${process.pid}-${Date.now()}`)
  const script = `set -o pipefail; ${quote(from)} | tee >(wc -c > '${sizeFile}') | ${quote(to)}; s=$?; wait $!; exit $s`
  const started = now()
  const proc = Bun.spawn(['bash', '-c', script], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' })
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited])
  const ms = now() - started
  if (code !== 0) throw new Error(`${tool} exited with status ${code}:\n${err.trim()}`)
  const bytes = Number((await Bun.file(sizeFile).text()).trim())
  await rm(sizeFile, { force: true })
  return { tool, bytes, ms }
}

function logBaseline(c: SnapshotCase): void {
  if ('skipped' in c.baseline) return
  const b = c.baseline
  progress(
    'snapshot',
    `${c.store}: ${b.tool}: ${count(b.rows)} rows (${(b.bytes / 1e6).toFixed(0)} MB of SQL) in ${(b.ms / 1000).toFixed(1)} s: ${count(b.rows / (b.ms / 1000))} rows/s; ddb ÷ dump ${(c.rows / c.ms / (b.rows / b.ms)).toFixed(2)}× in rows/s`,
  )
}

/** Bytes as whole megabytes (MiB). */
function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0)
}

if (import.meta.main) {
  const args = process.argv.slice(2)
  if (args.some((a) => a !== '--quick')) {
    process.stderr.write('usage: bun bench/snapshot.ts [--quick]\n')
    process.exit(2)
  }
  const resources = new Resources()
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.on(signal, () => void resources.closeAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143)))
  let status = 1
  try {
    const dir = await mkdtemp(join(tmpdir(), 'ddb-bench-'))
    resources.defer('temp dir', () => rm(dir, { recursive: true, force: true }))
    progress('setup', 'building the ddb binary')
    const binary = await buildDdb(dir)
    guardTempDir(dir, binary)
    const r = await measureSnapshots(binary, dir, args.includes('--quick') ? 'quick' : 'full', resources)
    console.log(`${renderSnapshotTable(r)}\n\n${renderSnapshotDetails(r).join('\n')}`)
    if (r.failures.length > 0) process.stderr.write(`\nsnapshot FAILED:\n${r.failures.map((f) => `  ${f}\n`).join('')}`)
    else status = 0
  } catch (err) {
    process.stderr.write(`\nsnapshot FAILED: ${(err as Error).stack ?? err}\n`)
  }
  await resources.closeAll()
  process.exit(status)
}
