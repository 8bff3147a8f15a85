import mysql from 'mysql2/promise'
import { type Mariadb, startMariadb } from '../test/support/mariadb.ts'

/** A persistent mysql2 connection to a private mariadbd (root, no password). */
export function connectMysql(port: number, database?: string): Promise<mysql.Connection> {
  return mysql.createConnection({ host: '127.0.0.1', port, user: 'root', database, supportBigNumbers: true })
}

/** A mariadbd with the binlog on, as a replicated MariaDB master runs (durability flags come from startMariadb). */
export function startNativeMaster(semiSync = false): Promise<Mariadb> {
  return startMariadb({
    serverArgs: [
      '--log-bin',
      '--server-id=1',
      '--binlog-format=MIXED',
      '--gtid-strict-mode=1',
      '--log-slave-updates',
      // Semi-synchronous: a commit waits, after its binlog sync, for a slave to have received it.
      ...(semiSync ? ['--rpl-semi-sync-master-enabled=ON', '--rpl-semi-sync-master-wait-point=AFTER_SYNC'] : []),
    ],
  })
}

/**
 * A mariadbd replicating from `master` by GTID, with `parallelThreads` applier
 * threads (0: serial; more: optimistic parallel mode); started and running.
 */
export async function startNativeSlave(
  master: Mariadb,
  serverId: number,
  parallelThreads: number,
  semiSync = false,
): Promise<Mariadb> {
  const parallel =
    parallelThreads > 0
      ? [`--slave-parallel-threads=${parallelThreads}`, '--slave-parallel-mode=optimistic']
      : ['--slave-parallel-threads=0']
  const slave = await startMariadb({
    serverArgs: [
      `--server-id=${serverId}`,
      '--relay-log=relay-bin',
      '--gtid-strict-mode=1',
      ...parallel,
      ...(semiSync ? ['--rpl-semi-sync-slave-enabled=ON'] : []),
    ],
  })
  try {
    await slave.query(
      `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${master.port}, MASTER_USER='root', MASTER_USE_GTID=slave_pos`,
    )
    await slave.query('START SLAVE')
  } catch (err) {
    await slave.stop()
    throw err
  }
  return slave
}

/** The master's newest GTID position (@@gtid_binlog_pos), e.g. "0-1-1234". */
export async function binlogPosition(master: mysql.Connection): Promise<string> {
  const [rows] = await master.query('SELECT @@gtid_binlog_pos AS pos')
  return String((rows as Array<{ pos: string }>)[0]!.pos)
}

/** The sequence number in a single-domain GTID position ("0-1-1234" → 1234; "" → 0). */
export function gtidSeq(position: string): number {
  return position ? Number(position.slice(position.lastIndexOf('-') + 1)) : 0
}

/**
 * Waits until the slave's @@gtid_slave_pos equals `target`, polling on `slave`;
 * calls onPoll with the slave's position after each look. Fails with the
 * slave's replication error, if it has one, at the deadline.
 */
export async function waitSlavePosition(
  slave: mysql.Connection,
  target: string,
  timeoutMs: number,
  onPoll?: (pos: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const [rows] = await slave.query('SELECT @@gtid_slave_pos AS pos')
    const pos = String((rows as Array<{ pos: string }>)[0]!.pos)
    onPoll?.(pos)
    if (pos === target) return
    if (Date.now() > deadline) {
      const [status] = await slave.query('SHOW SLAVE STATUS')
      const s = (status as Array<Record<string, unknown>>)[0] ?? {}
      throw new Error(
        `native slave at ${pos}, master at ${target} after ${timeoutMs} ms (io: ${s.Last_IO_Error || 'ok'}; sql: ${s.Last_SQL_Error || 'ok'})`,
      )
    }
    await Bun.sleep(10)
  }
}
