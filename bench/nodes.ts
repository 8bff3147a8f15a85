import { dirname, join } from 'node:path'
import type { Subprocess } from 'bun'
import { Client } from '../src/wire/client.ts'
import type { NodeStatus } from '../src/wire/messages.ts'
import { freePort, waitFor } from '../test/support/util.ts'

const ROOT = join(import.meta.dir, '..')
/** How much of a node's stderr is kept for error messages, in characters. */
const LOG_TAIL_CHARS = 8_000

/**
 * Compiles ddb the way `bun run build` does (keep the two alike), into `dir` (not dist/, which a
 * concurrent `bun run build` could replace mid-run); returns the binary's path.
 */
export async function buildDdb(dir: string): Promise<string> {
  const binary = join(dir, 'ddb')
  // Bytecode: the binary starts about 3× faster (no parsing of the bundled JS at each start).
  const proc = Bun.spawn(
    [
      process.execPath,
      'build',
      '--compile',
      '--bytecode',
      '--format=esm',
      join(ROOT, 'bin', 'ddb.ts'),
      '--outfile',
      binary,
    ],
    {
      cwd: ROOT,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    },
  )
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  if (code !== 0) throw new Error(`bun build --compile failed (${code}):\n${err || out}`)
  return binary
}

/** A running `ddb master` or `ddb slave` process of the compiled binary. */
export interface DdbNode {
  readonly name: string
  readonly address: string
  readonly pid: number
  /** The MySQL port it serves (started with `mysql: true`), else null. */
  readonly mysqlPort: number | null
  /** The last lines it wrote on stderr (its log). */
  log(): string
  /** Its status, on a connection kept open for polling. */
  status(): Promise<NodeStatus>
  /** A new client connection to it; the caller closes it. */
  connect(): Promise<Client>
  /** SIGTERM, then waits for the exit (SIGKILL after 10 s); safe twice. */
  stop(): Promise<void>
}

/** What else a node serves. */
export interface NodeOptions {
  /** Also serve the MySQL protocol, on a port the node picks (its log says which). */
  mysql?: boolean
}

/**
 * Starts `<binary> <args> --listen 127.0.0.1:<free port>` and waits until it
 * answers (and, with `mysql`, until its MySQL port is bound). It runs in the
 * binary's directory with only PATH set, so no DDB_* variable or .env file of
 * the caller's changes what is measured.
 */
export async function startNode(
  binary: string,
  name: string,
  args: string[],
  options: NodeOptions = {},
): Promise<DdbNode> {
  const port = await freePort()
  const address = `127.0.0.1:${port}`
  // Off unless asked for: the MySQL listener's fixed default ports would collide between nodes.
  const mysqlListen = options.mysql ? '127.0.0.1:0' : 'off'
  const proc: Subprocess<'ignore', 'ignore', 'pipe'> = Bun.spawn(
    [binary, ...args, '--mysql-listen', mysqlListen, '--listen', address],
    {
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'pipe',
      cwd: dirname(binary),
      env: { PATH: process.env.PATH ?? '' },
    },
  )
  let log = ''
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of proc.stderr) log = (log + decoder.decode(chunk)).slice(-LOG_TAIL_CHARS)
  })()
  const connect = () => Client.connect({ host: '127.0.0.1', port }, '')
  const alive = () => proc.exitCode === null && proc.signalCode === null
  let poller: Client | null = null
  let stopping: Promise<void> | null = null
  const node: DdbNode = {
    name,
    address,
    pid: proc.pid,
    mysqlPort: null,
    log: () => log,
    async status() {
      if (!alive()) throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}):\n${log}`)
      poller ??= await connect()
      try {
        return await poller.status()
      } catch (err) {
        poller = null
        throw err
      }
    },
    connect,
    stop: () =>
      (stopping ??= (async () => {
        poller?.close()
        if (!alive()) return
        proc.kill('SIGTERM')
        const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
        await proc.exited
        clearTimeout(killer)
      })()),
  }
  try {
    await waitFor(
      async () => {
        if (!alive()) throw new Error(`exited (${proc.exitCode ?? proc.signalCode})`)
        ;(await connect()).close()
        return true
      },
      { timeoutMs: 30_000, intervalMs: 20, what: `${name} at ${address}` },
    )
    if (!options.mysql) return node
    // The port it bound, from its log line `mysql protocol listening … address=127.0.0.1:PORT`.
    const mysqlPort = await waitFor(
      () => {
        if (!alive()) throw new Error(`exited (${proc.exitCode ?? proc.signalCode})`)
        return Number(/mysql protocol listening .*address=127\.0\.0\.1:(\d+)/.exec(log)?.[1] ?? 0)
      },
      { timeoutMs: 30_000, intervalMs: 20, what: `the MySQL port of ${name}` },
    )
    return { ...node, mysqlPort }
  } catch (err) {
    await node.stop()
    throw new Error(`start ${name}: ${(err as Error).message}\n${log}`)
  }
}

/** A master's offset: its last published entry. */
export async function masterOffset(master: DdbNode): Promise<number> {
  const s = await master.status()
  if (s.role !== 'master') throw new Error(`${master.name} is not a master`)
  return s.offset
}

/** Waits until `slave` has applied `offset`, calling onPoll with its applied offset after each look; fails at once if it stops applying or exits. */
export async function waitApplied(
  slave: DdbNode,
  offset: number,
  timeoutMs: number,
  onPoll?: (applied: number) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const s = await slave.status()
    if (s.role !== 'slave') throw new Error(`${slave.name} is not a slave`)
    if (s.error) throw new Error(`${slave.name} stopped applying: ${s.error}`)
    onPoll?.(s.applied)
    if (s.applied >= offset) return
    if (Date.now() > deadline)
      throw new Error(`${slave.name} applied ${s.applied} of ${offset} after ${timeoutMs} ms:\n${slave.log()}`)
    await Bun.sleep(20)
  }
}
