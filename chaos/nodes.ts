/**
 * The ddb processes of a chaos run. A node keeps its command across restarts,
 * knows whether its last exit was ours (kill -9, stop), and reports any other
 * exit as a crash, with the tail of its log: a serving node must never exit
 * on its own.
 */
import { dirname } from 'node:path'
import type { Subprocess } from 'bun'
import { Client } from '../src/wire/client.ts'
import type { NodeStatus } from '../src/wire/messages.ts'

/** How much of a node's stderr is kept, in characters. */
const LOG_TAIL_CHARS = 6_000
/** How long a status request may take before the node counts as not answering. */
export const STATUS_TIMEOUT_MS = 5_000

/** An exit nobody asked for. */
export interface Crash {
  node: string
  code: number | null
  signal: string | null
  log: string
}

export interface NodeSpec {
  name: string
  /** The binary and its arguments (the namespace prefix, if any, comes from `prefix`). */
  command: string[]
  /** Runs the command inside a network namespace (`ip netns exec NAME`). */
  prefix?: string[]
  /** host:port of its ddb port, as reached from the host. */
  address: string
  /** host:port of its MySQL port and of its HTTP API, as reached from the host. */
  mysql: string
  http: string
}

export class ChaosNode {
  readonly spec: NodeSpec
  readonly #onCrash: (crash: Crash) => void
  #proc: Subprocess<'ignore', 'ignore', 'pipe'> | null = null
  #log = ''
  #ours = false
  #paused = false
  #poller: Client | null = null

  constructor(spec: NodeSpec, onCrash: (crash: Crash) => void) {
    this.spec = spec
    this.#onCrash = onCrash
  }

  get name(): string {
    return this.spec.name
  }
  get pid(): number {
    return this.#proc?.pid ?? 0
  }
  get alive(): boolean {
    return this.#proc !== null && this.#proc.exitCode === null && this.#proc.signalCode === null
  }
  get paused(): boolean {
    return this.#paused
  }
  /** The last lines it wrote on stderr, across restarts. */
  log(): string {
    return this.#log
  }

  /** Starts the process and waits until its ddb port answers. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.alive) throw new Error(`${this.name} is already running`)
    this.#ours = false
    this.#paused = false
    const binary = this.spec.command[0]!
    const proc = Bun.spawn([...(this.spec.prefix ?? []), ...this.spec.command], {
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'pipe',
      // Only PATH: no DDB_* variable or .env file of the caller's changes what runs.
      cwd: dirname(binary),
      env: { PATH: process.env.PATH ?? '' },
    })
    this.#proc = proc
    void (async () => {
      const decoder = new TextDecoder()
      for await (const chunk of proc.stderr) this.#log = (this.#log + decoder.decode(chunk)).slice(-LOG_TAIL_CHARS)
    })()
    void proc.exited.then(() => {
      if (this.#proc === proc && !this.#ours)
        this.#onCrash({
          node: this.name,
          code: proc.exitCode,
          signal: proc.signalCode === null ? null : String(proc.signalCode),
          log: this.#log,
        })
    })
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`${this.name} exited (${proc.exitCode ?? proc.signalCode}) while starting:\n${this.#log}`)
      try {
        ;(await this.connect()).close()
        return
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(
            `${this.name} did not answer at ${this.spec.address} within ${timeoutMs} ms: ${(err as Error).message}`,
          )
      }
      await Bun.sleep(50)
    }
  }

  /** kill -9 (of a paused process too), and wait until it is gone. */
  async kill9(): Promise<void> {
    this.#dropPoller()
    const proc = this.#proc
    if (!proc || !this.alive) return
    this.#ours = true
    proc.kill('SIGKILL')
    await proc.exited
    this.#paused = false
  }

  /** SIGTERM, then SIGKILL after 10 s: the run's end. */
  async stop(): Promise<void> {
    this.#dropPoller()
    const proc = this.#proc
    if (!proc || !this.alive) return
    this.#ours = true
    if (this.#paused) proc.kill('SIGCONT')
    proc.kill('SIGTERM')
    const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
    await proc.exited
    clearTimeout(killer)
  }

  pause(): void {
    if (!this.alive) return
    this.#proc!.kill('SIGSTOP')
    this.#paused = true
  }

  resume(): void {
    if (!this.alive) return
    this.#proc!.kill('SIGCONT')
    this.#paused = false
  }

  /** A new client connection to its ddb port; the caller closes it. */
  connect(): Promise<Client> {
    const [host, port] = this.spec.address.split(':')
    return withTimeout(Client.connect({ host: host!, port: Number(port) }, ''), STATUS_TIMEOUT_MS, 'connect')
  }

  /** Its status, on a connection kept for polling; rejects after STATUS_TIMEOUT_MS. */
  async status(): Promise<NodeStatus> {
    try {
      this.#poller ??= await this.connect()
      return await withTimeout(this.#poller.status(), STATUS_TIMEOUT_MS, 'status')
    } catch (err) {
      this.#dropPoller()
      throw err
    }
  }

  #dropPoller(): void {
    this.#poller?.close()
    this.#poller = null
  }
}

/** Rejects with "`what` timed out" if `p` has not settled within `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timer | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
