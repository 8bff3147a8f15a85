/**
 * The end-to-end tests' fixture: a master, its slaves and their stores.
 *
 *     await using cluster = await withCluster({ store: 'mysql', slaves: 2 })
 *     await write(cluster.master, 'CREATE TABLE t (id INT PRIMARY KEY)')
 *     await expectSlavesEqualMaster(cluster.master, cluster.slaves, cluster.kind)
 *
 * Tests that need finer control (a node killed mid-start, two masters, a CLI
 * run without a node) use startNode/startMaster/startSlave (ddb.ts),
 * createBackend (backends.ts) or startMariadb (mariadb.ts) directly.
 */
import { join } from 'node:path'
import { type Backend, createBackend } from './backends.ts'
import { type DdbNode, type NodeOptions, startMaster, startSlave } from './ddb.ts'
import type { Mariadb, StartMariadbOptions } from './mariadb.ts'
import { mysqlPortOf } from './mysql-client.ts'
import { freePort, waitFor } from './util.ts'

/** Where a node keeps its store: a SQLite file, or a private mariadbd of its own. */
export type StoreKind = 'sqlite' | 'mysql'

/** What withCluster starts. */
export interface ClusterOptions {
  /** The master's store kind, and the slaves' unless `slaveStore` says otherwise. */
  store: StoreKind
  /** The slaves' store kind (default: `store`), e.g. a MySQL master with SQLite slaves. */
  slaveStore?: StoreKind
  /** Slaves started with the master (default 1); addSlave starts more later. */
  slaves?: number
  /** Extra arguments of every `ddb master` the cluster starts. */
  masterArgs?: string[]
  /** Extra arguments of every `ddb slave` the cluster starts (unless addSlave or restartSlave gives others). */
  slaveArgs?: string[]
  /** Extra environment of every node. */
  env?: Record<string, string>
  /** The shared secret (DDB_SECRET) of every node; node.client() uses it too. */
  secret?: string
  /** Run the compiled binary (`bun run build`) instead of the source. */
  compiled?: boolean
  /** Every node serves the MySQL protocol, on a port it picks itself: cluster.mysqlPort(node). */
  mysql?: boolean
  /** Every node serves the HTTP API on a free port (cluster.httpUrl(node)); the cluster waits until it answers. */
  http?: boolean
  /** mariadbd arguments of the master's private server (MySQL stores only), e.g. a time zone. */
  masterServerArgs?: string[]
  /** mariadbd arguments of each slave's private server (MySQL stores only). */
  slaveServerArgs?: string[]
  /** Leave the master down: slaves start against its reserved address, and restartMaster() starts it. */
  masterDown?: boolean
}

/** How addSlave starts a slave. */
export interface SlaveOptions {
  /** Its store URL (default: a new, empty one, of the slaves' kind). */
  store?: string
  /** Its extra arguments, instead of the cluster's `slaveArgs`. */
  args?: string[]
  /** Return as soon as the process is spawned (to kill it mid-start). */
  noWait?: boolean
}

/**
 * A master, its slaves and their stores, in a temp dir of their own. Disposing
 * it (`await using`) kills every node it started, stops every mariadbd and
 * removes every file, whether the test passed or not.
 */
export interface Cluster extends AsyncDisposable {
  /** The master's store kind. */
  readonly kind: StoreKind
  /** The slaves' store kind. */
  readonly slaveKind: StoreKind
  /** The temp dir that holds the master's log (and SQLite stores). */
  readonly dir: string
  /** The master's replication log file. */
  readonly log: string
  /** The master's host:port; it stays the same across restartMaster. */
  readonly masterAddress: string
  /** The master's store URL. */
  readonly masterStore: string
  /** The running master (the newest after restartMaster). */
  readonly master: DdbNode
  /** Every slave started, in order (restartSlave replaces one in place). */
  readonly slaves: readonly DdbNode[]
  /** slaves[0]. */
  readonly slave: DdbNode
  /** The store URL a node runs on. */
  storeOf(node: DdbNode): string
  /** A new, empty store of the slaves' kind (or of `kind`). */
  newStore(kind?: StoreKind): Promise<string>
  /** Runs SQL on a node's store (or a store URL) directly, behind ddb's back. */
  direct(target: DdbNode | string, sql: string): Promise<Record<string, unknown>[]>
  /** The offset a node's store (or a store URL) holds, read directly. */
  offsetOf(target: DdbNode | string): Promise<number>
  /** The private mariadbd behind a node's MySQL store (to crash it, restart it, or query it). */
  serverOf(target: DdbNode | string): Mariadb
  /** Starts one more slave of the master. */
  addSlave(options?: SlaveOptions): Promise<DdbNode>
  /** Stops a slave (if it still runs) and starts it again on the same store, with its arguments or `args`. */
  restartSlave(slave: DdbNode, options?: { args?: string[] }): Promise<DdbNode>
  /** Stops the master (SIGTERM, if it still runs) and starts it again on the same store, log and address. */
  restartMaster(): Promise<DdbNode>
  /** The MySQL port a node bound (cluster option `mysql`). */
  mysqlPort(node: DdbNode): Promise<number>
  /** The base URL of a node's HTTP API (cluster option `http`). */
  httpUrl(node: DdbNode): string
}

const running = (node: DdbNode) => node.proc.exitCode === null && node.proc.signalCode === null

/** Starts a master and `options.slaves` slaves of it (see ClusterOptions). */
export async function withCluster(options: ClusterOptions): Promise<Cluster> {
  const kind = options.store
  const slaveKind = options.slaveStore ?? kind
  const backends = new Map<StoreKind, Backend>()
  const backend = (k: StoreKind) => {
    let b = backends.get(k)
    if (!b) {
      b = createBackend(k)
      backends.set(k, b)
    }
    return b
  }
  const backendOf = (url: string) => backend(url.startsWith('sqlite:') ? 'sqlite' : 'mysql')
  const dir = backend(kind).dir
  const log = join(dir, 'master.log')
  const env = { ...options.env, ...(options.secret !== undefined ? { DDB_SECRET: options.secret } : {}) }
  const nodeOptions: NodeOptions = { env, compiled: options.compiled }
  const mysqlArgs = options.mysql ? ['--mysql-listen', '127.0.0.1:0'] : []

  /** Every node started (disposed at the end), with its store, HTTP address and arguments. */
  const nodes = new Map<DdbNode, { store: string; http?: string; args: string[] }>()
  const starting = new Set<Promise<unknown>>()
  const slaves: DdbNode[] = []
  let master: DdbNode | undefined
  let masterStore = ''
  let masterAddress = ''
  let masterHttp: string | undefined
  let disposed = false

  const httpAddress = async () => (options.http ? `127.0.0.1:${await freePort()}` : undefined)

  /** Starts a node, tracked for disposal from the moment it is asked for. */
  const start = async (
    launch: (args: string[]) => Promise<DdbNode>,
    store: string,
    args: string[],
    http: string | undefined,
    noWait = false,
  ): Promise<DdbNode> => {
    if (disposed) throw new Error('the cluster is disposed')
    const launching = launch([...args, ...mysqlArgs, ...(http ? ['--http', http] : [])])
    starting.add(launching)
    try {
      const node = await launching
      nodes.set(node, { store, http, args })
      if (http && !noWait) {
        await waitFor(
          async () => {
            await fetch(`http://${http}/status`)
            return true
          },
          { timeoutMs: 30_000, what: `the HTTP API at ${http}` },
        )
      }
      return node
    } finally {
      starting.delete(launching)
    }
  }

  const startTheMaster = async () => {
    master = await start(
      (args) => startMaster(masterStore, log, { ...nodeOptions, listen: masterAddress, args }),
      masterStore,
      options.masterArgs ?? [],
      masterHttp,
    )
    return master
  }

  const infoOf = (node: DdbNode) => {
    const info = nodes.get(node)
    if (!info) throw new Error(`${node.address} is not a node of this cluster`)
    return info
  }
  const urlOf = (target: DdbNode | string) => (typeof target === 'string' ? target : infoOf(target).store)

  const cluster: Cluster = {
    kind,
    slaveKind,
    dir,
    log,
    get masterAddress() {
      return masterAddress
    },
    get masterStore() {
      return masterStore
    },
    get master() {
      if (!master) throw new Error('the master is down (masterDown): restartMaster() starts it')
      return master
    },
    get slaves() {
      return slaves
    },
    get slave() {
      const first = slaves[0]
      if (!first) throw new Error('the cluster has no slave')
      return first
    },
    storeOf: (node) => infoOf(node).store,
    newStore: (k = slaveKind) => backend(k).newStore(),
    direct: (target, sql) => {
      const url = urlOf(target)
      return backendOf(url).direct(url, sql)
    },
    offsetOf: (target) => {
      const url = urlOf(target)
      return backendOf(url).offsetOf(url)
    },
    serverOf(target) {
      const url = urlOf(target)
      const server = backendOf(url).serverOf(url)
      if (!server) throw new Error(`${url} is not on a private mariadbd`)
      return server
    },
    async addSlave(slave = {}) {
      const serverArgs: StartMariadbOptions = { serverArgs: options.slaveServerArgs }
      const store = slave.store ?? (await backend(slaveKind).newStore(serverArgs))
      const node = await start(
        (args) => startSlave(masterAddress, store, { ...nodeOptions, noWait: slave.noWait, args }),
        store,
        slave.args ?? options.slaveArgs ?? [],
        await httpAddress(),
        slave.noWait,
      )
      slaves.push(node)
      return node
    },
    async restartSlave(old, restart = {}) {
      const info = infoOf(old)
      if (running(old)) await old.stop()
      const node = await start(
        (args) => startSlave(masterAddress, info.store, { ...nodeOptions, args }),
        info.store,
        restart.args ?? info.args,
        info.http,
      )
      const i = slaves.indexOf(old)
      if (i >= 0) slaves[i] = node
      else slaves.push(node)
      return node
    },
    async restartMaster() {
      if (master && running(master)) await master.stop()
      return startTheMaster()
    },
    mysqlPort: (node) => mysqlPortOf(node),
    httpUrl(node) {
      const { http } = infoOf(node)
      if (!http) throw new Error('the cluster was started without `http`')
      return `http://${http}`
    },
    async [Symbol.asyncDispose]() {
      if (disposed) return
      disposed = true
      await Promise.allSettled(starting)
      const results = await Promise.allSettled([...nodes.keys()].map((node) => node[Symbol.asyncDispose]()))
      results.push(...(await Promise.allSettled([...backends.values()].map((b) => b.close()))))
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []))
      if (errors.length) throw new AggregateError(errors, 'cluster clean-up failed')
    },
  }

  try {
    const count = options.slaves ?? 1
    const [store, ...slaveStores] = await Promise.all([
      backend(kind).newStore({ serverArgs: options.masterServerArgs }),
      ...Array.from({ length: count }, () => backend(slaveKind).newStore({ serverArgs: options.slaveServerArgs })),
    ])
    masterStore = store!
    masterAddress = `127.0.0.1:${await freePort()}`
    masterHttp = await httpAddress()
    if (!options.masterDown) await startTheMaster()
    for (const s of slaveStores) await cluster.addSlave({ store: s })
  } catch (err) {
    await cluster[Symbol.asyncDispose]()
    throw err
  }
  return cluster
}
