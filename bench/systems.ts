import type mysql from 'mysql2/promise'
import { type Mariadb, startMariadb } from '../test/support/mariadb.ts'
import type { ProcessGroups } from './cpu.ts'
import { type Connector, CREATE_TABLE, ddbConnector, Ids, mariadbConnector } from './load.ts'
import { binlogPosition, connectMysql, startNativeMaster, startNativeSlave, waitSlavePosition } from './native.ts'
import { type DdbNode, masterOffset, startNode, waitApplied } from './nodes.ts'

/** How long settle() waits for slaves to catch up before it gives up, in milliseconds. */
const SETTLE_TIMEOUT_MS = 120_000

/** A replicated setup the bench writes to: a master that clients write to, and its slaves. */
export interface System {
  readonly name: string
  /** Row ids for the setup's table `t`. */
  readonly ids: Ids
  /** Opens a write connection to the master. */
  readonly connect: Connector
  /** Resolves once every running slave has applied everything the master acknowledged. */
  settle(): Promise<void>
  /** Its processes, for CPU accounting: the master, the master's store when it is a server of its own, the slaves and their stores. */
  processes(): ProcessGroups
  /** Stops every process and server of the setup; safe twice. */
  close(): Promise<void>
}

/** The database the front door's tables live in, on every setup. */
export const FRONT_DATABASE = 'front'

/** Where MySQL clients reach a setup: the master's MySQL port and database, and the setup's processes. */
export interface FrontDoor {
  readonly name: string
  readonly mysqlPort: number
  /** FRONT_DATABASE. */
  readonly database: string
  /** Whether that database must be created first (a MySQL server), or any name selects the one there is (SQLite). */
  readonly createDatabase: boolean
  /** As System.processes: the master, the master's store when it is a server of its own, the slaves and their stores. */
  processes(): ProcessGroups
  /** Resolves once every slave has applied everything the master acknowledged. */
  settle(): Promise<void>
}

/** A ddb master and named slaves, processes of the compiled binary; a slave can be stopped and started again on its store. */
export class DdbReplication implements System, FrontDoor {
  readonly name: string
  readonly ids = new Ids()
  readonly connect: Connector
  readonly master: DdbNode
  readonly database = FRONT_DATABASE
  readonly createDatabase: boolean
  readonly #binary: string
  readonly #slaveDbs: Record<string, string>
  readonly #slaveArgs: Record<string, string[]>
  readonly #slaves = new Map<string, DdbNode>()
  readonly #servers: StoreServers

  private constructor(
    name: string,
    binary: string,
    master: DdbNode,
    slaveDbs: Record<string, string>,
    servers: StoreServers,
    slaveArgs: Record<string, string[]>,
  ) {
    this.name = name
    this.#binary = binary
    this.master = master
    this.connect = ddbConnector(master.address)
    this.createDatabase = servers.master !== undefined
    this.#slaveDbs = slaveDbs
    this.#servers = servers
    this.#slaveArgs = slaveArgs
  }

  /** The master's MySQL port. */
  get mysqlPort(): number {
    return this.master.mysqlPort!
  }

  /**
   * Starts a master on store `db` with log file `log` (serving the MySQL
   * protocol too), creates table t through it, and starts the slaves (name →
   * store URL); `servers` are the mariadbd those stores live on, for CPU
   * accounting; `slaveArgs` more arguments of a slave (name → arguments).
   */
  static async start(
    name: string,
    binary: string,
    db: string,
    log: string,
    slaveDbs: Record<string, string>,
    servers: StoreServers = {},
    slaveArgs: Record<string, string[]> = {},
    masterArgs: string[] = [],
  ): Promise<DdbReplication> {
    const master = await startNode(binary, `${name} master`, ['master', '--db', db, '--log', log, ...masterArgs], {
      mysql: true,
    })
    const rep = new DdbReplication(name, binary, master, slaveDbs, servers, slaveArgs)
    try {
      // Slaves first: a synchronous master answers the CREATE TABLE only once a slave applied it.
      for (const slave of Object.keys(slaveDbs)) await rep.startSlave(slave)
      const client = await master.connect()
      await client.query(CREATE_TABLE).finally(() => client.close())
    } catch (err) {
      await rep.close()
      throw err
    }
    return rep
  }

  /** Starts slave `name` on its store (where it left off); resolves once it answers. */
  async startSlave(name: string): Promise<DdbNode> {
    const db = this.#slaveDbs[name]
    if (db === undefined) throw new Error(`${this.name}: no slave ${name}`)
    const node = await startNode(this.#binary, `${this.name} slave ${name}`, [
      'slave',
      '--master',
      this.master.address,
      '--db',
      db,
      '--id',
      name,
      // A MySQL store's log defaults to the working directory, which every slave of the run shares.
      ...(db.startsWith('mysql:') ? ['--log', `${`${this.name}-${name}`.replace(/\W+/g, '-')}-log.sqlite`] : []),
      ...(this.#slaveArgs[name] ?? []),
    ])
    this.#slaves.set(name, node)
    return node
  }

  /** Stops slave `name`'s process (SIGTERM). */
  async stopSlave(name: string): Promise<void> {
    await this.#slaves.get(name)?.stop()
    this.#slaves.delete(name)
  }

  async settle(): Promise<void> {
    const offset = await masterOffset(this.master)
    for (const slave of this.#slaves.values()) await waitApplied(slave, offset, SETTLE_TIMEOUT_MS)
  }

  processes(): ProcessGroups {
    return {
      master: [this.master.pid],
      'master store': this.#servers.master ? [this.#servers.master.pid] : [],
      slaves: [...[...this.#slaves.values()].map((s) => s.pid), ...(this.#servers.slaves ?? []).map((s) => s.pid)],
    }
  }

  async close(): Promise<void> {
    for (const slave of this.#slaves.values()) await slave.stop()
    await this.master.stop()
  }
}

/** The mariadbd servers a ddb setup's stores live on (none for SQLite stores). */
export interface StoreServers {
  master?: Mariadb
  slaves?: Mariadb[]
}

/** A native slave: its server, a connection for STOP/START SLAVE and positions, and whether it applies. */
interface NativeSlave {
  server: Mariadb
  conn: mysql.Connection
  running: boolean
}

/** MariaDB's own replication: a binlog master and named GTID slaves, private mariadbd each. */
export class NativeReplication implements System, FrontDoor {
  readonly name: string
  readonly ids = new Ids()
  readonly database = FRONT_DATABASE
  readonly createDatabase = true
  readonly connect: Connector
  readonly master: Mariadb
  readonly #masterConn: mysql.Connection
  readonly #slaves: Map<string, NativeSlave>

  private constructor(name: string, master: Mariadb, masterConn: mysql.Connection, slaves: Map<string, NativeSlave>) {
    this.name = name
    this.master = master
    this.#masterConn = masterConn
    this.#slaves = slaves
    this.connect = mariadbConnector(master.port, 'bench')
  }

  /**
   * Starts the master and one slave per entry of `slaves` (name → applier threads), and
   * creates bench.t; `semiSync`: MariaDB's semi-synchronous replication (AFTER_SYNC), on
   * once every slave is attached to it.
   */
  static async start(slaves: Record<string, number>, semiSync = false): Promise<NativeReplication> {
    const master = await startNativeMaster(semiSync)
    const started = new Map<string, NativeSlave>()
    try {
      let serverId = 2
      for (const [name, threads] of Object.entries(slaves)) {
        const server = await startNativeSlave(master, serverId++, threads, semiSync)
        started.set(name, { server, conn: await connectMysql(server.port), running: true })
      }
      const masterConn = await connectMysql(master.port)
      if (semiSync) await semiSyncClients(masterConn, started.size)
      await masterConn.query('CREATE DATABASE bench')
      await masterConn.query('USE bench')
      await masterConn.query(CREATE_TABLE)
      return new NativeReplication(semiSync ? 'MariaDB semi-sync' : 'MariaDB native', master, masterConn, started)
    } catch (err) {
      for (const s of started.values()) {
        s.conn.destroy()
        await s.server.stop()
      }
      await master.stop()
      throw err
    }
  }

  /** The master's port. */
  get mysqlPort(): number {
    return this.master.port
  }

  /** The server of slave `name`. */
  slave(name: string): Mariadb {
    const s = this.#slaves.get(name)
    if (!s) throw new Error(`no native slave ${name}`)
    return s.server
  }

  /** STOP SLAVE on `name`. */
  async stopSlave(name: string): Promise<void> {
    const s = this.#slaves.get(name)!
    await s.conn.query('STOP SLAVE')
    s.running = false
  }

  /** START SLAVE on `name`. */
  async startSlave(name: string): Promise<void> {
    const s = this.#slaves.get(name)!
    await s.conn.query('START SLAVE')
    s.running = true
  }

  /** The master's @@gtid_binlog_pos. */
  position(): Promise<string> {
    return binlogPosition(this.#masterConn)
  }

  /** Waits until slave `name` has applied up to `target`, reporting its position after each look. */
  waitSlave(name: string, target: string, timeoutMs: number, onPoll?: (pos: string) => void): Promise<void> {
    return waitSlavePosition(this.#slaves.get(name)!.conn, target, timeoutMs, onPoll)
  }

  processes(): ProcessGroups {
    // MariaDB's master and its store are one process.
    return {
      master: [this.master.pid],
      'master store': [],
      slaves: [...this.#slaves.values()].map((s) => s.server.pid),
    }
  }

  async settle(): Promise<void> {
    const target = await this.position()
    for (const [name, s] of this.#slaves) if (s.running) await this.waitSlave(name, target, SETTLE_TIMEOUT_MS)
  }

  async close(): Promise<void> {
    for (const s of this.#slaves.values()) {
      s.conn.destroy()
      await s.server.stop()
    }
    this.#masterConn.destroy()
    await this.master.stop()
  }
}

/** Waits until `clients` slaves are semi-synchronous on the master (Rpl_semi_sync_master_clients), and semi-sync is on. */
async function semiSyncClients(master: mysql.Connection, clients: number): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const [rows] = await master.query("SHOW STATUS LIKE 'Rpl_semi_sync_master_%'")
    const status = Object.fromEntries(
      (rows as Array<{ Variable_name: string; Value: string }>).map((r) => [r.Variable_name, r.Value]),
    )
    if (Number(status.Rpl_semi_sync_master_clients) >= clients && status.Rpl_semi_sync_master_status === 'ON') return
    if (Date.now() > deadline) throw new Error(`MariaDB semi-sync not on after 30 s: ${JSON.stringify(status)}`)
    await Bun.sleep(100)
  }
}

/** A plain mariadbd: no binlog, no slaves, the same durability flags (startMariadb's). */
export class PlainMariadb implements FrontDoor {
  readonly name = 'plain MariaDB'
  readonly database = FRONT_DATABASE
  readonly createDatabase = true
  readonly server: Mariadb

  private constructor(server: Mariadb) {
    this.server = server
  }

  static async start(): Promise<PlainMariadb> {
    return new PlainMariadb(await startMariadb())
  }

  get mysqlPort(): number {
    return this.server.port
  }

  processes(): ProcessGroups {
    return { master: [this.server.pid], 'master store': [], slaves: [] }
  }

  async settle(): Promise<void> {}

  close(): Promise<void> {
    return this.server.stop()
  }
}
