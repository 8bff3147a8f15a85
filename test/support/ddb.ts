import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { rowObjects } from '../../src/entry.ts'
import { Client } from '../../src/wire/client.ts'
import type { NodeStatus, QueryAnswer } from '../../src/wire/messages.ts'
import { mariadbDirOf } from './mariadb.ts'
import { freePort, waitFor } from './util.ts'

const ROOT = join(import.meta.dir, '..', '..')
/** The compiled binary `bun run build` makes; some tests run it instead of the source. */
export const COMPILED_DDB = join(ROOT, 'dist', 'ddb')

/** The command that runs ddb from source. */
export function ddbCommand(compiled = false): string[] {
  if (compiled) {
    if (!existsSync(COMPILED_DDB))
      throw new Error(`${COMPILED_DDB} missing: run \`bun run build\` first (npm test does)`)
    return [COMPILED_DDB]
  }
  return [process.execPath, join(ROOT, 'bin', 'ddb.ts')]
}

/** A running `ddb master` or `ddb slave` process. */
export interface DdbNode extends AsyncDisposable {
  readonly address: string
  readonly proc: Subprocess<'ignore', 'pipe', 'pipe'>
  /** Everything it wrote to stderr so far (its log). */
  log(): string
  /** kill -9: no clean-up, no flush. */
  kill9(): Promise<void>
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<number>
  /** A client connection to it (closed with the node). */
  client(): Promise<Client>
}

export interface NodeOptions {
  /** host:port to listen on; default a free port on 127.0.0.1. */
  listen?: string
  compiled?: boolean
  /** Return as soon as the process is spawned, without waiting until it answers (to kill it mid-start). */
  noWait?: boolean
  env?: Record<string, string>
  cwd?: string
}

/** Where this process's slaves of MySQL stores not on a private mariadbd keep their logs. */
let slaveLogDir: string | undefined

/**
 * A MySQL-store slave's log would default to the working directory, shared by every test:
 * it goes beside the store's private mariadbd instead (one per store, kept across restarts).
 */
function slaveLogArgs(args: string[]): string[] {
  const db = args[args.indexOf('--db') + 1]
  if (args[0] !== 'slave' || args.includes('--log') || !args.includes('--db') || !db?.startsWith('mysql://')) return []
  const url = new URL(db)
  slaveLogDir ??= mkdtempSync(join(tmpdir(), 'ddb-slave-logs-'))
  const dir = mariadbDirOf(Number(url.port)) ?? slaveLogDir
  return ['--log', join(dir, `slave-log-${url.port}-${url.pathname.slice(1) || 'none'}.sqlite`)]
}

/** Starts `ddb <args> --listen 127.0.0.1:<free port>` and waits until it answers status. */
export async function startNode(args: string[], options: NodeOptions = {}): Promise<DdbNode> {
  const address = options.listen ?? `127.0.0.1:${await freePort()}`
  // Nodes serve the MySQL protocol on fixed default ports; tests that want it ask for one, others turn it off.
  const mysql = args.includes('--mysql-listen') ? [] : ['--mysql-listen', 'off']
  const command = [...ddbCommand(options.compiled), ...args, ...slaveLogArgs(args), ...mysql, '--listen', address]
  const proc = Bun.spawn(command, {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
  })
  let stderr = ''
  void (async () => {
    for await (const chunk of proc.stderr) stderr += new TextDecoder().decode(chunk)
  })()
  void (async () => {
    for await (const _ of proc.stdout) {
      // drained so the child never blocks on a full pipe
    }
  })()
  let stopping = false
  void proc.exited.then((code) => {
    // A node that dies on its own is a bug worth seeing in the test output, with its log.
    if (!stopping)
      console.error(`ddb ${args[0]} at ${address} exited unexpectedly (${code ?? proc.signalCode}):\n${stderr}`)
  })
  const clients: Client[] = []
  const [host, port] = [address.split(':')[0]!, Number(address.split(':')[1])]
  const node: DdbNode = {
    address,
    proc,
    log: () => stderr,
    async kill9() {
      stopping = true
      proc.kill(9)
      await proc.exited
    },
    async stop() {
      stopping = true
      for (const c of clients) c.close()
      proc.kill('SIGTERM')
      return proc.exited
    },
    async client() {
      const c = await Client.connect({ host, port }, options.env?.DDB_SECRET ?? '')
      clients.push(c)
      if (clients.length > 50) clients.shift()
      return c
    },
    async [Symbol.asyncDispose]() {
      stopping = true
      for (const c of clients) c.close()
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(9)
        await proc.exited
      }
    },
  }
  if (options.noWait) return node
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`ddb exited with ${proc.exitCode}: ${stderr}`)
        const c = await Client.connect({ host, port }, options.env?.DDB_SECRET ?? '')
        c.close()
        return true
      },
      { timeoutMs: 30_000, what: `ddb ${args[0]} at ${address}` },
    )
  } catch (err) {
    await node[Symbol.asyncDispose]()
    throw new Error(`${(err as Error).message}\n${stderr}`)
  }
  return node
}

/** Starts a master on `db` with log file `log`. */
export function startMaster(
  db: string,
  log: string,
  options: NodeOptions & { args?: string[] } = {},
): Promise<DdbNode> {
  return startNode(['master', '--db', db, '--log', log, ...(options.args ?? [])], options)
}

/** Starts a slave of `master` on `db`. */
export function startSlave(
  master: string,
  db: string,
  options: NodeOptions & { args?: string[] } = {},
): Promise<DdbNode> {
  return startNode(['slave', '--master', master, '--db', db, ...(options.args ?? [])], options)
}

/** Runs the ddb CLI to completion; returns its exit code and output. */
export async function runDdb(
  args: string[],
  options: NodeOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([...ddbCommand(options.compiled), ...args], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
  })
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  return { code, stdout, stderr }
}

/** The rows of a read answer, as objects keyed by column name. */
export function rowsOf(answer: QueryAnswer): Record<string, unknown>[] {
  const first = answer[0]
  if (first?.kind !== 'read') throw new Error(`expected rows, got ${JSON.stringify(answer)}`)
  return rowObjects(first)
}

/** A node's status, on a connection of its own. */
export async function statusOf(node: DdbNode): Promise<NodeStatus> {
  const c = await node.client()
  try {
    return await c.status()
  } finally {
    c.close()
  }
}

/** Waits until the slave has applied `offset`. */
export async function waitApplied(slave: DdbNode, offset: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    async () => {
      const s = await statusOf(slave)
      if (s.role !== 'slave') throw new Error('not a slave')
      return s.applied >= offset
    },
    { timeoutMs, what: `slave ${slave.address} to apply offset ${offset}` },
  )
}
