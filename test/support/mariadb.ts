import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mysql from 'mysql2/promise'
import { freePort } from './util.ts'

/** A private mariadbd for one test file or benchmark run; root has no password. */
export interface Mariadb extends AsyncDisposable {
  readonly port: number
  readonly dataDir: string
  /** The server's Unix socket (a --db URL's `?socket=`). */
  readonly socket: string
  /** The server's process id (a new one after restart()). */
  readonly pid: number
  /** `mysql://root@127.0.0.1:PORT/<db>`, for openStore and --db. */
  url(db: string): string
  /** Runs one statement on a fresh connection (for test assertions); rows, or [ResultSetHeader] for writes. */
  query(sql: string): Promise<any[]>
  /** kill -9 of the server, keeping its files, as a crash would; restart() brings it back. */
  crash(): Promise<void>
  /** Starts the server again on the same files and port, after crash(). */
  restart(): Promise<void>
  /** Kills the server, waits for it to exit and removes its files; safe to call twice. */
  stop(): Promise<void>
}

/** Options for startMariadb. */
export interface StartMariadbOptions {
  /** Extra mariadbd arguments, appended last (so they win). */
  serverArgs?: string[]
}

const START_TIMEOUT_MS = 30_000
/** Another process may take the free port before mariadbd binds it: try a new port this many times. */
const START_ATTEMPTS = 3
const SEARCH_PATH = `${process.env.PATH ?? ''}:/usr/sbin:/usr/local/sbin:/usr/bin:/usr/local/bin`
const asRoot = process.getuid?.() === 0

let template: Promise<string> | undefined

/** Each running instance's temp dir, by port: where a slave whose store it is keeps its log (see startNode). */
const dirs = new Map<number, string>()

/** The temp dir of this process's mariadbd on `port` (removed with it), or undefined. */
export function mariadbDirOf(port: number): string | undefined {
  return dirs.get(port)
}

/** Starts mariadbd on a free port in a fresh copy of a once-per-process installed data dir. */
export async function startMariadb(options: StartMariadbOptions = {}): Promise<Mariadb> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(options)
    } catch (err) {
      const portTaken = (err as Error).message.includes('Address already in use')
      if (!portTaken || attempt >= START_ATTEMPTS) throw err
    }
  }
}

async function launch(options: StartMariadbOptions): Promise<Mariadb> {
  const mariadbd = findBinary('mariadbd')
  template ??= installTemplate()
  const source = await template
  const dir = await mkdtemp(join(tmpdir(), 'ddb-mariadb-'))
  const dataDir = join(dir, 'data')
  const errLog = join(dir, 'err.log')
  await run(['cp', '-a', source, dataDir])
  const port = await freePort()
  const spawn = () =>
    Bun.spawn(
      [
        mariadbd,
        '--no-defaults',
        `--datadir=${dataDir}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dir, 'sock')}`,
        `--pid-file=${join(dir, 'mariadbd.pid')}`,
        ...(asRoot ? ['--user=root'] : []),
        '--skip-name-resolve',
        '--innodb-buffer-pool-size=64M',
        '--innodb-log-file-size=48M',
        '--innodb-flush-log-at-trx-commit=1',
        '--sync-binlog=1',
        `--log-error=${errLog}`,
        ...(options.serverArgs ?? []),
      ],
      { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' },
    )
  let proc = spawn()
  let guard = watchdog(dir, proc.pid)
  const kill = async () => {
    proc.kill('SIGKILL')
    await proc.exited
    guard.kill('SIGKILL')
  }

  let stopping: Promise<void> | undefined
  const stop = () =>
    (stopping ??= (async () => {
      await kill()
      if (dirs.get(port) === dir) dirs.delete(port)
      await rm(dir, { recursive: true, force: true })
    })())
  const ready = async () => {
    try {
      await waitUntilReady(proc, port)
    } catch (err) {
      const log = await readFile(errLog, 'utf8').catch(() => '(no err.log)')
      await stop()
      const tail = log.trimEnd().split('\n').slice(-20).join('\n')
      throw new Error(`start mariadbd: ${(err as Error).message}\n--- err.log (tail) ---\n${tail}`)
    }
  }
  await ready()
  dirs.set(port, dir)

  return {
    port,
    dataDir,
    socket: join(dir, 'sock'),
    get pid() {
      return proc.pid
    },
    url: (db) => `mysql://root@127.0.0.1:${port}/${db}`,
    async query(sql) {
      const conn = await connect(port)
      try {
        const [result] = await conn.query(sql)
        return Array.isArray(result) ? result : [result]
      } finally {
        await conn.end()
      }
    },
    crash: kill,
    async restart() {
      proc = spawn()
      guard = watchdog(dir, proc.pid)
      await ready()
    },
    stop,
    [Symbol.asyncDispose]: stop,
  }
}

function connect(port: number) {
  return mysql.createConnection({
    host: '127.0.0.1',
    port,
    user: 'root',
    dateStrings: true,
    supportBigNumbers: true,
  })
}

async function waitUntilReady(proc: Bun.Subprocess, port: number): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  let last = 'no attempt yet'
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`mariadbd exited early (status ${proc.exitCode ?? proc.signalCode})`)
    }
    try {
      await (await connect(port)).end()
      return
    } catch (err) {
      last = (err as Error).message
    }
    await Bun.sleep(100)
  }
  throw new Error(`no connection on port ${port} after ${START_TIMEOUT_MS}ms (last: ${last})`)
}

/** Runs mariadb-install-db once into a temp dir that every instance copies. */
async function installTemplate(): Promise<string> {
  const installDb = findBinary('mariadb-install-db')
  const templateDir = await mkdtemp(join(tmpdir(), 'ddb-mariadb-template-'))
  watchdog(templateDir)
  const dataDir = join(templateDir, 'data')
  await run([
    installDb,
    '--no-defaults',
    `--datadir=${dataDir}`,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
    '--innodb-log-file-size=48M', // the size the servers use: no log resize at their first start
    ...(asRoot ? ['--user=root'] : []),
  ])
  return dataDir
}

/**
 * Removes `dir` (after killing `pid`) once this process is gone, however it ended:
 * `bun test` fires no 'exit' event, and a crashed test must leave no mariadbd behind.
 */
function watchdog(dir: string, pid?: number): Bun.Subprocess {
  const script = 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; [ -n "$1" ] && kill -9 "$1"; rm -rf "$2"'
  const guard = Bun.spawn(['sh', '-c', script, String(process.pid), pid ? String(pid) : '', dir], {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'ignore',
  })
  guard.unref()
  return guard
}

function findBinary(name: string): string {
  const path = Bun.which(name, { PATH: SEARCH_PATH })
  if (!path) throw new Error(`${name} not found: install mariadb-server (apt-get install -y mariadb-server)`)
  return path
}

async function run(cmd: string[]): Promise<void> {
  const proc = Bun.spawn(cmd, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  if (code !== 0) throw new Error(`${cmd[0]} exited with status ${code}:\n${(err || out).trim()}`)
}
