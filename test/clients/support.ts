/**
 * Shared helpers of the third-party client tests (test/clients/*.test.ts).
 *
 * Each file runs one client family's scenario against a Target: ddb (a master
 * and one slave serving the MySQL protocol, on a MySQL or a SQLite store) and,
 * as the reference that proves the scenario itself is right, a private plain
 * mariadbd. On ddb the test then checks that the slave equals the master.
 *
 *     await using target = await startTarget('ddb-sqlite')
 *     const r = await runCommand(['sysbench', …, `--mysql-port=${target.port}`, 'run'])
 *     expectSuccess(r, 'sysbench run', target)
 *     await target.expectReplicated()
 */
import { afterAll, beforeAll, describe, expect } from 'bun:test'
import mysql from 'mysql2/promise'
import { type Cluster, type StoreKind, withCluster } from '../support/cluster.ts'
import { expectSlavesEqualMaster } from '../support/compare.ts'
import { type Mariadb, startMariadb } from '../support/mariadb.ts'

/** Where a scenario runs: a plain mariadbd (the reference), or ddb on a MySQL or a SQLite store. */
export type TargetKind = 'mariadb' | 'ddb-mysql' | 'ddb-sqlite'

/** ddb on both store kinds. */
export const DDB_TARGETS = ['ddb-mysql', 'ddb-sqlite'] as const satisfies readonly TargetKind[]

/** The database every scenario uses (ddb's MySQL stores are `…/app`; SQLite accepts any name). */
export const DATABASE = 'app'

/**
 * Every mariadbd (the reference, and the stores of ddb on MySQL) defaults to utf8mb4, as
 * MySQL 8 and Debian's MariaDB packages do; test/support's servers otherwise default to latin1.
 */
export const SERVER_ARGS = ['--character-set-server=utf8mb4', '--collation-server=utf8mb4_general_ci']

/** Long enough for a client run on a slow machine; bun's default of 5 s is not. */
export const TEST_TIMEOUT_MS = 120_000
/** Starting a target: one or two mariadbd and up to two ddb processes. */
export const START_TIMEOUT_MS = 90_000

/** A MySQL endpoint that a client scenario runs against. */
export interface Target extends AsyncDisposable {
  readonly kind: TargetKind
  /** For messages: `plain mariadbd`, `ddb (mysql store)`, `ddb (sqlite store)`. */
  readonly name: string
  readonly host: string
  /** The MySQL port clients connect to (ddb's master). */
  readonly port: number
  readonly database: string
  /** ddb only: the cluster (master, slave, their stores). */
  readonly cluster?: Cluster
  /** ddb only: the slave's MySQL port. */
  readonly slavePort?: number
  /** ddb: waits for the slave to catch up, then asserts it equals the master table by table. Plain mariadbd: nothing. */
  expectReplicated(): Promise<void>
}

/** The store kind of a ddb target. */
export const storeOf = (kind: TargetKind): StoreKind => (kind === 'ddb-sqlite' ? 'sqlite' : 'mysql')

/** Starts a target: a plain mariadbd with an empty database `app`, or ddb with one slave (`mysql: true`). */
export async function startTarget(kind: TargetKind): Promise<Target> {
  if (kind === 'mariadb') {
    const server = await startPlainMariadb()
    return {
      kind,
      name: 'plain mariadbd',
      host: '127.0.0.1',
      port: server.port,
      database: DATABASE,
      expectReplicated: async () => {},
      [Symbol.asyncDispose]: () => server.stop(),
    }
  }
  const store = storeOf(kind)
  const cluster = await withCluster({
    store,
    slaves: 1,
    mysql: true,
    masterServerArgs: SERVER_ARGS,
    slaveServerArgs: SERVER_ARGS,
  })
  try {
    const [port, slavePort] = await Promise.all([cluster.mysqlPort(cluster.master), cluster.mysqlPort(cluster.slave)])
    return {
      kind,
      name: `ddb (${store} store)`,
      host: '127.0.0.1',
      port,
      slavePort,
      database: DATABASE,
      cluster,
      expectReplicated: () => expectSlavesEqualMaster(cluster.master, cluster.slaves, store),
      [Symbol.asyncDispose]: () => cluster[Symbol.asyncDispose](),
    }
  } catch (err) {
    await cluster[Symbol.asyncDispose]()
    throw err
  }
}

/** How test titles name a target. */
export const TARGET_TITLES: Record<TargetKind, string> = {
  mariadb: 'a plain mariadbd (reference)',
  'ddb-mysql': 'ddb on a MySQL store',
  'ddb-sqlite': 'ddb on a SQLite store',
}

/**
 * A describe block whose tests share one target, started before the first test and
 * disposed after the last; `target()` returns it inside a test.
 */
export function describeTarget(kind: TargetKind, title: string, body: (target: () => Target) => void): void {
  describe(`${title} through ${TARGET_TITLES[kind]}`, () => {
    let started: Target | undefined
    beforeAll(async () => {
      started = await startTarget(kind)
    }, START_TIMEOUT_MS)
    afterAll(async () => {
      await started?.[Symbol.asyncDispose]()
    }, START_TIMEOUT_MS)
    body(() => {
      if (!started) throw new Error(`${TARGET_TITLES[kind]} did not start`)
      return started
    })
  })
}

/** A private mariadbd with an empty database `app`. */
export async function startPlainMariadb(): Promise<Mariadb> {
  const server = await startMariadb({ serverArgs: SERVER_ARGS })
  await server.query(`CREATE DATABASE ${DATABASE}`)
  return server
}

/** Memoizes an async function (a reference run shared by a file's tests). */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined
  return () => {
    value ??= fn()
    return value
  }
}

// ---------------------------------------------------------------------------
// Running a client program

/** What a command did. */
export interface CommandResult {
  /** The command line, for messages. */
  readonly command: string
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
}

export interface RunOptions {
  /** Text or bytes for its stdin, or `{ file }` to feed a file (as `cmd < file`). */
  stdin?: string | Uint8Array | { file: string }
  /** Kill it (SIGKILL) after this long (default 100 s). */
  timeoutMs?: number
  env?: Record<string, string>
  cwd?: string
}

/** Runs a command to completion (or its timeout) and returns its exit code and output. */
export async function runCommand(cmd: string[], options: RunOptions = {}): Promise<CommandResult> {
  const { stdin } = options
  const input =
    stdin === undefined
      ? 'ignore'
      : typeof stdin === 'string'
        ? new TextEncoder().encode(stdin)
        : stdin instanceof Uint8Array
          ? stdin
          : Bun.file(stdin.file)
  const proc = Bun.spawn(cmd, {
    stdin: input,
    stdout: 'pipe',
    stderr: 'pipe',
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
  })
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    proc.kill('SIGKILL')
  }, options.timeoutMs ?? 100_000)
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ])
    return { command: cmd.join(' '), code, stdout, stderr, timedOut }
  } finally {
    clearTimeout(timer)
  }
}

/** The path of a program the test needs, or an error that says which package brings it. */
export function requireProgram(name: string, install: string): string {
  const path = Bun.which(name, { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/usr/bin:/usr/local/bin` })
  if (!path) throw new Error(`${name} not found: install it (${install})`)
  return path
}

/** The first line of a client's output that reports an error (the line the report quotes). */
export function firstError(output: string): string | undefined {
  const lines = output.split('\n').map((l) => l.trim())
  let i = lines.findIndex((l) =>
    /\bFATAL\b|^ERROR\b|Error:|Error\b.*\(|errno|Exception|Traceback|Couldn't|^(mariadb|mysql)[a-z-]*: /.test(l),
  )
  if (i < 0) i = lines.findIndex((l) => /error|fail/i.test(l))
  if (i < 0) return undefined
  // "FATAL: mysql_stmt_prepare() failed" says why on the next line.
  return /failed$|:$|Traceback/.test(lines[i]!) && lines[i + 1] ? `${lines[i]} ${lines[i + 1]}` : lines[i]
}

/** Fails, with the client's first error line and the tail of its output, unless it exited 0 in time. */
export function expectSuccess(result: CommandResult, what: string, target: { readonly name: string }): void {
  if (result.code === 0 && !result.timedOut) return
  const output = `${result.stderr}\n${result.stdout}`
  const why = result.timedOut ? 'timed out' : `exited with status ${result.code}`
  const first = firstError(output) ?? '(no error line)'
  const tail = output.trim().split('\n').slice(-30).join('\n')
  throw new Error(
    `${what} on ${target.name} ${why}: ${first}\n--- command: ${result.command}\n--- output (tail) ---\n${tail}`,
  )
}

/** `mariadb -h127.0.0.1 -P<port> -uroot <extra> app`, reading SQL from `sql` or a file (as `… app < file`). */
export function mariadbClient(
  port: number,
  input: { sql: string } | { file: string },
  extra: string[] = [],
  database = DATABASE,
): Promise<CommandResult> {
  const cli = requireProgram('mariadb', 'apt-get install -y mariadb-client')
  const args = [cli, '-h127.0.0.1', `-P${port}`, '-uroot', ...extra, database]
  return 'sql' in input ? runCommand(args, { stdin: input.sql }) : runCommand(args, { stdin: input })
}

// ---------------------------------------------------------------------------
// Comparing data through the MySQL port

/** A value as a comparison sees it: bytes as `x'<hex>'`, everything else as the driver returned it. */
export type Cell = string | number | null

/** Every table (and view) of a database, each with its rows in a stable order: what two servers must agree on. */
export type Snapshot = Record<string, Cell[][]>

/** Opens a mysql2 connection with the settings the comparisons use (dates, decimals and huge integers as strings). */
export function connect(port: number, options: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: '127.0.0.1',
    port,
    user: 'root',
    database: DATABASE,
    dateStrings: true,
    supportBigNumbers: true,
    ...options,
  })
}

/** A driver's value as a Cell. */
export const cell = (v: unknown): Cell =>
  v === null || v === undefined
    ? null
    : Buffer.isBuffer(v)
      ? `x'${v.toString('hex')}'`
      : typeof v === 'number' || typeof v === 'string'
        ? v
        : String(v)

/**
 * Reads every table and view of `database` on a MySQL port (SHOW TABLES, then
 * `SELECT * … ORDER BY` every column), bytes as hex; ddb's own tables left out.
 */
export async function snapshotOf(port: number, database = DATABASE): Promise<Snapshot> {
  const c = await connect(port, { database })
  try {
    const [tables] = (await c.query({ sql: 'SHOW TABLES', rowsAsArray: true })) as unknown as [unknown[][]]
    const names = tables.map((r) => String(r[0])).filter((n) => n !== 'ddb_state' && !n.startsWith('sqlite_'))
    const snapshot: Snapshot = {}
    for (const name of names.sort()) {
      const [[first], fields] = (await c.query({ sql: `SELECT * FROM \`${name}\` LIMIT 1`, rowsAsArray: true })) as [
        unknown[][],
        mysql.FieldPacket[],
      ]
      const order = fields.map((_, i) => i + 1).join(', ')
      const sql = first ? `SELECT * FROM \`${name}\` ORDER BY ${order}` : `SELECT * FROM \`${name}\``
      const [rows] = (await c.query({ sql, rowsAsArray: true })) as unknown as [unknown[][]]
      snapshot[name] = rows.map((r) => r.map(cell))
    }
    return snapshot
  } finally {
    await c.end()
  }
}

/** Asserts that two MySQL ports hold the same tables with the same rows, byte for byte. */
export async function expectSameData(
  got: { port: number; name: string },
  want: { port: number; name: string },
  database = DATABASE,
): Promise<void> {
  const [a, b] = await Promise.all([snapshotOf(got.port, database), snapshotOf(want.port, database)])
  expect(Object.keys(a), `tables on ${got.name} vs ${want.name}`).toEqual(Object.keys(b))
  for (const table of Object.keys(b))
    expect(a[table], `table ${table} on ${got.name} vs ${want.name}`).toEqual(b[table])
}

// ---------------------------------------------------------------------------
// Bytes

/** Every byte value, 0x00 … 0xff. */
export const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i))

/**
 * The bytes as the body of a MySQL string literal, escaped as mysql_real_escape_string
 * (and so mysqldump) does: \0 \n \r \\ \' \" \Z, every other byte as itself. The result is
 * a "binary" string (one char per byte), to send on a connection whose encoding is binary.
 */
export function escapeMysqlBytes(bytes: Uint8Array): string {
  const escapes: Record<number, string> = {
    0: '\\0',
    10: '\\n',
    13: '\\r',
    26: '\\Z',
    34: '\\"',
    39: "\\'",
    92: '\\\\',
  }
  let out = ''
  for (const b of bytes) out += escapes[b] ?? String.fromCharCode(b)
  return out
}
