/**
 * One store's cluster for a chaos run: a master on the host, its log on a tmpfs
 * of its own (so the disk can be filled), and two slaves, each in a network
 * namespace of its own. On MySQL every node has a private mariadbd; a slave's
 * is reached over its namespace's store pair.
 */
import { join } from 'node:path'
import type { Resources } from '../bench/resources.ts'
import { type Mariadb, startMariadb } from '../test/support/mariadb.ts'
import { freePort } from '../test/support/util.ts'
import { createNetns, type Netns } from './netns.ts'
import { ChaosNode, type Crash } from './nodes.ts'
import { mysqlReader, type StoreReader, sqliteReader } from './readers.ts'
import { mountTmpfs, unmount } from './system.ts'

export type StoreKind = 'sqlite' | 'mysql'

/** The database a MySQL store's tables live in. */
const DATABASE = 'app'
/** Ports a slave listens on inside its namespace (each namespace has its own, so fixed ones do). */
const SLAVE_PORTS = { ddb: 8081, mysql: 3308, http: 5001 }

export interface Cluster {
  readonly kind: StoreKind
  readonly master: ChaosNode
  readonly slaves: readonly ChaosNode[]
  readonly nets: readonly Netns[]
  /** The master's private mariadbd (MySQL stores only). */
  readonly masterServer: Mariadb | null
  /** The master's replication log file, and the tmpfs it is on. */
  readonly logPath: string
  readonly logDisk: string
  /** Direct readers of each node's store, master first (bun:sqlite or mysql2, never through ddb). */
  readonly readers: readonly StoreReader[]
  readonly nodes: readonly ChaosNode[]
}

/** Starts a cluster in `dir`; everything it starts is registered in `resources` to be undone. */
export async function startCluster(
  kind: StoreKind,
  binary: string,
  dir: string,
  logDiskMiB: number,
  resources: Resources,
  onCrash: (crash: Crash) => void,
): Promise<Cluster> {
  const logDisk = join(dir, `${kind}-log-disk`)
  mountTmpfs(logDisk, logDiskMiB)
  resources.defer(`tmpfs ${logDisk}`, () => unmount(logDisk))
  const logPath = join(logDisk, 'log.sqlite')

  const nets = [1, 2].map((i) => {
    const ns = createNetns(i)
    resources.defer(`namespace ${ns.name}`, () => ns.remove())
    return ns
  })

  const server = async (slaveOf?: Netns) => {
    // A slave's server listens on every address, for its namespace's store pair.
    const m = await startMariadb(slaveOf ? { serverArgs: ['--bind-address=0.0.0.0'] } : {})
    resources.defer(`mariadbd ${m.port}`, () => m.stop())
    if (slaveOf) {
      await m.query(`CREATE USER IF NOT EXISTS 'root'@'${slaveOf.storeNsIp}'`)
      await m.query(`GRANT ALL PRIVILEGES ON *.* TO 'root'@'${slaveOf.storeNsIp}' WITH GRANT OPTION`)
    }
    return m
  }
  let masterServer: Mariadb | null = null
  let masterDb: string
  const slaveDbs: string[] = []
  const readers: StoreReader[] = []
  if (kind === 'mysql') {
    const [m, ...s] = await Promise.all([server(), ...nets.map((ns) => server(ns))])
    masterServer = m!
    masterDb = m!.url(DATABASE)
    readers.push(mysqlReader('master', m!.port, DATABASE))
    s.forEach((srv, i) => {
      slaveDbs.push(`mysql://root@${nets[i]!.storeIp}:${srv.port}/${DATABASE}`)
      readers.push(mysqlReader(`slave${i + 1}`, srv.port, DATABASE))
    })
  } else {
    masterDb = `sqlite:${join(dir, 'sqlite-master.sqlite')}`
    readers.push(sqliteReader('master', masterDb.slice('sqlite:'.length)))
    nets.forEach((_, i) => {
      const path = join(dir, `sqlite-slave${i + 1}.sqlite`)
      slaveDbs.push(`sqlite:${path}`)
      readers.push(sqliteReader(`slave${i + 1}`, path))
    })
  }

  const [ddbPort, mysqlPort, httpPort] = [await freePort(), await freePort(), await freePort()]
  const master = new ChaosNode(
    {
      name: 'master',
      // Every host address: the slaves reach it from their namespaces.
      command: [binary, 'master', '--db', masterDb, '--log', logPath, '--listen', `0.0.0.0:${ddbPort}`].concat([
        '--mysql-listen',
        `127.0.0.1:${mysqlPort}`,
        '--http',
        `127.0.0.1:${httpPort}`,
      ]),
      address: `127.0.0.1:${ddbPort}`,
      mysql: `127.0.0.1:${mysqlPort}`,
      http: `127.0.0.1:${httpPort}`,
    },
    onCrash,
  )
  const slaves = nets.map((ns, i) => {
    const at = (port: number) => `${ns.nsIp}:${port}`
    return new ChaosNode(
      {
        name: `slave${i + 1}`,
        command: [binary, 'slave', '--master', `${ns.hostIp}:${ddbPort}`, '--db', slaveDbs[i]!, '--id', `slave${i + 1}`]
          .concat(['--log', join(dir, `${kind}-slave${i + 1}-log.sqlite`)])
          .concat(['--listen', at(SLAVE_PORTS.ddb), '--mysql-listen', at(SLAVE_PORTS.mysql)])
          .concat(['--http', at(SLAVE_PORTS.http)]),
        prefix: ns.exec,
        address: at(SLAVE_PORTS.ddb),
        mysql: at(SLAVE_PORTS.mysql),
        http: at(SLAVE_PORTS.http),
      },
      onCrash,
    )
  })
  const nodes = [master, ...slaves]
  // Stopped before the servers and namespaces they use (resources close newest first).
  resources.defer(`${kind} nodes`, () => Promise.all(nodes.map((n) => n.stop())))
  resources.defer(`${kind} readers`, () => Promise.all(readers.map((r) => r.close())))
  await master.start()
  await Promise.all(slaves.map((s) => s.start()))
  return { kind, master, slaves, nets, masterServer, logPath, logDisk, readers, nodes }
}
