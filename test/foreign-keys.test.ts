/**
 * Foreign keys through the MySQL port, on both stores, as a plain mariadbd has them:
 * an orphan is refused (1452), a referenced parent row too (1451), ON DELETE
 * CASCADE deletes the children; `SET FOREIGN_KEY_CHECKS=0` (every dump file's
 * first line) turns checks and cascades off until `SET FOREIGN_KEY_CHECKS=1`.
 * The same statements run on a plain mariadbd must answer the same, concurrent
 * writers mixing both settings (the master batches them) included, and the slave
 * and a recovered master must end equal to the master.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type mysql from 'mysql2/promise'
import { ReplicationLog } from '../src/log/replication-log.ts'
import { openStore } from '../src/store/open-store.ts'
import { type Cell, connect, DATABASE, type Snapshot, snapshotOf } from './clients/support.ts'
import { BACKEND_KINDS } from './support/backends.ts'
import { type Cluster, withCluster } from './support/cluster.ts'
import { expectSlavesEqualMaster } from './support/compare.ts'
import { startMaster } from './support/ddb.ts'
import { type Mariadb, startMariadb } from './support/mariadb.ts'

const SCHEMA = [
  'CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(20))',
  'CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, KEY (parent_id), FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE)',
  // No ON DELETE action: a referenced row cannot be deleted (RESTRICT).
  'CREATE TABLE pinned (id INT PRIMARY KEY, parent_id INT, KEY (parent_id), FOREIGN KEY (parent_id) REFERENCES parent (id))',
]

/** One connection's statements, in order; each one's answer is compared with a plain mariadbd's. */
const SCRIPT = [
  "INSERT INTO parent VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')",
  'INSERT INTO child VALUES (10, 1), (20, 2), (30, 3)',
  'INSERT INTO pinned VALUES (40, 4)',
  'INSERT INTO child VALUES (11, 99)', // an orphan: 1452
  'UPDATE child SET parent_id = 99 WHERE id = 10', // 1452
  'DELETE FROM parent WHERE id = 4', // pinned references it: 1451
  'UPDATE parent SET id = 44 WHERE id = 4', // 1451
  'DELETE FROM parent WHERE id = 1', // cascades to child 10
  'SET FOREIGN_KEY_CHECKS = 0',
  'INSERT INTO child VALUES (12, 98)', // accepted
  'DELETE FROM parent WHERE id = 2', // no cascade: child 20 stays
  'DELETE FROM parent WHERE id = 4', // no check: pinned 40 stays
  'SET FOREIGN_KEY_CHECKS = 1',
  'INSERT INTO child VALUES (13, 97)', // checked again: 1452
  'DELETE FROM parent WHERE id = 3', // cascades again: child 30 goes
  'BEGIN',
  "INSERT INTO parent VALUES (5, 'e')",
  'INSERT INTO child VALUES (14, 96)', // 1452 inside a transaction: the statement fails, the transaction goes on
  'INSERT INTO child VALUES (50, 5)',
  'COMMIT',
  'SET FOREIGN_KEY_CHECKS = 0',
  'BEGIN',
  'INSERT INTO child VALUES (15, 95)', // an orphan in a transaction with checks off
  'DELETE FROM parent WHERE id = 5', // no cascade: child 50 stays
  'COMMIT',
  'SET FOREIGN_KEY_CHECKS = 1',
]

/** What SCRIPT leaves, as a plain mariadbd has it. */
const AFTER_SCRIPT: Snapshot = {
  child: [
    [12, 98],
    [15, 95],
    [20, 2],
    [50, 5],
  ],
  parent: [],
  pinned: [[40, 4]],
}

/** Concurrent writers: each on a connection of its own, owning parent 100 + w; the even ones start with checks off. */
const WORKERS = 8
const ROUNDS = 24

/** What a statement answered: rows affected, or the error number. */
type Outcome = { ok: number } | { errno: number }

async function outcome(conn: mysql.Connection, sql: string): Promise<Outcome> {
  try {
    const [result] = (await conn.query(sql)) as [mysql.ResultSetHeader, unknown]
    return { ok: result.affectedRows }
  } catch (err) {
    const errno = (err as { errno?: number }).errno
    if (errno === undefined) throw err
    return { errno }
  }
}

/**
 * Runs SCRIPT (after SCHEMA) on one connection; each statement and its outcome. (A
 * COMMIT's row count is left out: ddb's answers with the transaction's rows, MySQL's 0.)
 */
async function runScript(port: number): Promise<Array<{ sql: string; got: Outcome }>> {
  const conn = await connect(port)
  try {
    for (const sql of SCHEMA) await conn.query(sql)
    const transcript: Array<{ sql: string; got: Outcome }> = []
    for (const sql of SCRIPT) {
      const got = await outcome(conn, sql)
      transcript.push({ sql, got: sql === 'COMMIT' && 'ok' in got ? { ok: 0 } : got })
    }
    return transcript
  } finally {
    await conn.end()
  }
}

/**
 * WORKERS connections at once. Worker w inserts ROUNDS children of its own, every
 * other one an orphan, flipping foreign_key_checks halfway, then deletes its parent
 * (a cascade or not, as its setting then says). Every outcome is known beforehand
 * whatever the interleaving; each worker's, in order.
 */
async function runWorkers(port: number): Promise<Outcome[][]> {
  const setup = await connect(port)
  await setup.query(
    `INSERT INTO parent VALUES ${Array.from({ length: WORKERS }, (_, w) => `(${100 + w}, 'w${w}')`).join(', ')}`,
  )
  await setup.end()
  const conns = await Promise.all(Array.from({ length: WORKERS }, () => connect(port)))
  try {
    return await Promise.all(
      conns.map(async (conn, w) => {
        const outcomes: Outcome[] = []
        let checks = w % 2
        outcomes.push(await outcome(conn, `SET FOREIGN_KEY_CHECKS = ${checks}`))
        for (let i = 0; i < ROUNDS; i++) {
          if (i === ROUNDS / 2) {
            checks = 1 - checks
            outcomes.push(await outcome(conn, `SET FOREIGN_KEY_CHECKS = ${checks}`))
          }
          const parent = i % 2 === 0 ? 100 + w : 900 + w
          outcomes.push(await outcome(conn, `INSERT INTO child VALUES (${1000 * (w + 1) + i}, ${parent})`))
        }
        outcomes.push(await outcome(conn, `DELETE FROM parent WHERE id = ${100 + w}`))
        return outcomes
      }),
    )
  } finally {
    await Promise.all(conns.map((c) => c.end()))
  }
}

/** What runWorkers must answer, worked out from the rules. */
function expectedWorkers(): Outcome[][] {
  return Array.from({ length: WORKERS }, (_, w) => {
    const outcomes: Outcome[] = [{ ok: 0 }]
    let checks = w % 2
    for (let i = 0; i < ROUNDS; i++) {
      if (i === ROUNDS / 2) {
        checks = 1 - checks
        outcomes.push({ ok: 0 })
      }
      outcomes.push(i % 2 === 1 && checks === 1 ? { errno: 1452 } : { ok: 1 })
    }
    outcomes.push({ ok: 1 })
    return outcomes
  })
}

/** The rows of `child` the workers leave: orphans always; a worker's others unless its delete cascaded (checks on at the end). */
function expectedWorkerChildren(): Cell[][] {
  const rows: Cell[][] = []
  for (let w = 0; w < WORKERS; w++) {
    const cascades = 1 - (w % 2) === 1
    for (let i = 0; i < ROUNDS; i++) {
      const checks = i < ROUNDS / 2 ? w % 2 : 1 - (w % 2)
      if (i % 2 === 1 && checks === 0) rows.push([1000 * (w + 1) + i, 900 + w])
      if (i % 2 === 0 && !cascades) rows.push([1000 * (w + 1) + i, 100 + w])
    }
  }
  return rows
}

/** A plain mariadbd, run through the same statements: what ddb must answer on either store. */
let reference: Mariadb
let referenceScript: Array<{ sql: string; got: Outcome }>
let referenceWorkers: Outcome[][]
let referenceData: Snapshot

beforeAll(async () => {
  reference = await startMariadb()
  await reference.query(`CREATE DATABASE ${DATABASE}`)
  referenceScript = await runScript(reference.port)
  expect(await snapshotOf(reference.port)).toEqual(AFTER_SCRIPT)
  referenceWorkers = await runWorkers(reference.port)
  referenceData = await snapshotOf(reference.port)
})

afterAll(async () => {
  await reference?.stop()
})

test('the plain mariadbd answers as the rules say (the reference is right)', () => {
  const errnos = referenceScript.flatMap(({ sql, got }) => ('errno' in got ? [[sql, got.errno]] : []))
  expect(errnos).toEqual([
    ['INSERT INTO child VALUES (11, 99)', 1452],
    ['UPDATE child SET parent_id = 99 WHERE id = 10', 1452],
    ['DELETE FROM parent WHERE id = 4', 1451],
    ['UPDATE parent SET id = 44 WHERE id = 4', 1451],
    ['INSERT INTO child VALUES (13, 97)', 1452],
    ['INSERT INTO child VALUES (14, 96)', 1452],
  ])
  expect(referenceWorkers).toEqual(expectedWorkers())
  expect(referenceData.child).toEqual([...AFTER_SCRIPT.child!, ...expectedWorkerChildren()])
})

for (const kind of BACKEND_KINDS) {
  describe(`foreign keys through the MySQL port (${kind} store)`, () => {
    let cluster: Cluster
    let port: number

    beforeAll(async () => {
      cluster = await withCluster({ store: kind, mysql: true })
      port = await cluster.mysqlPort(cluster.master)
    })
    afterAll(async () => {
      await cluster?.[Symbol.asyncDispose]()
    })

    test('checks, cascades and SET FOREIGN_KEY_CHECKS answer as on a plain mariadbd; the slave equals the master', async () => {
      expect(await runScript(port)).toEqual(referenceScript)
      expect(await snapshotOf(port)).toEqual(AFTER_SCRIPT)
      await expectSlavesEqualMaster(cluster.master, cluster.slaves, kind)
    })

    test('concurrent writers mixing checks on and off each get their own answers; the slave equals the master', async () => {
      expect(await runWorkers(port)).toEqual(referenceWorkers)
      expect(await snapshotOf(port)).toEqual(referenceData)
      await expectSlavesEqualMaster(cluster.master, cluster.slaves, kind)
    })

    test(
      kind === 'sqlite'
        ? 'SET FOREIGN_KEY_CHECKS inside a transaction is refused with the reason (SQLite changes it only between transactions)'
        : 'SET FOREIGN_KEY_CHECKS inside a transaction works as on MariaDB',
      async () => {
        const conn = await connect(port)
        try {
          await conn.query('BEGIN')
          await conn.query('INSERT INTO child VALUES (60, 98)').catch(() => {}) // checks on: 1452
          const set = await conn.query('SET FOREIGN_KEY_CHECKS = 0').then(
            () => null,
            (err: { errno: number; message: string }) => err,
          )
          if (kind === 'sqlite') {
            expect(set).toMatchObject({
              errno: 1235,
              message:
                'SET foreign_key_checks inside a transaction: SQLite can change foreign-key enforcement only between transactions; set it before BEGIN',
            })
            const [[checks]] = (await conn.query({ sql: 'SELECT @@foreign_key_checks', rowsAsArray: true })) as any
            expect(Number(checks[0])).toBe(1)
            expect(await outcome(conn, 'INSERT INTO child VALUES (61, 98)')).toEqual({ errno: 1452 })
          } else {
            expect(set).toBeNull()
            expect(await outcome(conn, 'INSERT INTO child VALUES (61, 98)')).toEqual({ ok: 1 })
          }
          await conn.query('ROLLBACK')
          await conn.query('SET FOREIGN_KEY_CHECKS = 1')
          expect(await snapshotOf(port)).toEqual(referenceData) // nothing of it stayed
        } finally {
          await conn.end()
        }
      },
    )

    test('kill -9 of the master: after recovery it holds the same rows and still checks; the slave equals it', async () => {
      await expectSlavesEqualMaster(cluster.master, cluster.slaves, kind)
      await cluster.master.kill9()
      const master = await cluster.restartMaster()
      port = await cluster.mysqlPort(master)
      expect(await snapshotOf(port)).toEqual(referenceData)
      const conn = await connect(port)
      try {
        expect(await outcome(conn, 'INSERT INTO child VALUES (70, 94)')).toEqual({ errno: 1452 })
        expect(await outcome(conn, 'SET FOREIGN_KEY_CHECKS = 0')).toEqual({ ok: 0 })
        expect(await outcome(conn, 'INSERT INTO child VALUES (70, 94)')).toEqual({ ok: 1 })
      } finally {
        await conn.end()
      }
      await expectSlavesEqualMaster(master, cluster.slaves, kind)
    })

    test('recovery replaying the whole log into an empty store, in each entry’s mode, ends equal to the slave', async () => {
      await cluster.master.stop()
      const log = ReplicationLog.open(cluster.log, { readonly: true })
      const logId = log.id
      log.close()
      // A store that says it holds none of this log's entries: recovery applies them all.
      const url = await cluster.newStore(kind)
      const store = await openStore(url)
      await store.writeState({ offset: 0, logId })
      await store.close()
      await using replayed = await startMaster(url, cluster.log)
      await expectSlavesEqualMaster(replayed, cluster.slaves, kind)
    })
  })
}
