import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import mysql from 'mysql2/promise'
import { type Cluster, type StoreKind, withCluster } from './support/cluster.ts'
import { expectSlavesEqualMaster } from './support/compare.ts'
import { type Mariadb, startMariadb } from './support/mariadb.ts'

// What a write answers a MySQL client (insert id, affected rows, LAST_INSERT_ID(), the
// errno of a failure) must be what MySQL answers: the same statements run on a plain
// private mariadbd and through ddb, on each store, and the answers are compared.

const SCHEMA = [
  'CREATE TABLE a (id INT AUTO_INCREMENT PRIMARY KEY, v INT UNIQUE, d DECIMAL(12,4))',
  'CREATE TABLE n (id INT PRIMARY KEY, v INT)',
]

/** Statements (with bound parameters, run as prepared statements) whose answers must match MariaDB's. */
const STATEMENTS: Array<[string, Array<number | null>?]> = [
  ['INSERT INTO n VALUES (1, 1)'],
  ['INSERT INTO n VALUES (2, 2), (3, 3)'],
  ['INSERT INTO a (v) VALUES (10)'],
  ['INSERT INTO a (v, d) VALUES (11, 12.5), (12, 0)'],
  ['INSERT INTO n VALUES (4, LAST_INSERT_ID())'],
  ['SELECT LAST_INSERT_ID() + 1 AS next'],
  ['INSERT INTO a VALUES (50, 13, NULL)'],
  ['INSERT INTO a VALUES (70, 16, 1), (71, 17, 2)'],
  ['INSERT INTO a SET v = 18'],
  ['INSERT INTO a (id, v) VALUES (?, ?)', [null, 19]],
  ['INSERT INTO a (id, v) VALUES (?, ?)', [90, 20]],
  ['INSERT IGNORE INTO a (v) VALUES (10)'],
  ['UPDATE a SET v = v + 1000 WHERE v >= 18'],
  ['DELETE FROM a WHERE v = 1020'],
  ['INSERT INTO n SELECT id + 10, v FROM n ORDER BY id'],
  ['INSERT INTO a (v) VALUES (10)'],
  ['INSERT INTO n VALUES (1, 1)'],
  ['SELECT nope FROM a'],
  ['SELECT * FROM missing'],
  ['CREATE TABLE n (id INT)'],
  ['ALTER TABLE n ADD COLUMN v INT'],
  ['SELECT id, v, d FROM a ORDER BY id'],
  // Last: InnoDB reserves ids for an INSERT … SELECT in blocks, so later ids have gaps SQLite's do not.
  ['INSERT INTO a (v) SELECT v + 100 FROM n ORDER BY id'],
]

type Answer = Record<string, unknown>

/** Runs every statement on one connection; each answer: the OK packet's figures and LAST_INSERT_ID(), the rows, or the errno. */
async function answers(port: number): Promise<Answer[]> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', database: 'app', dateStrings: true })
  try {
    for (const s of SCHEMA) await c.query(s)
    const out: Answer[] = []
    for (const [sql, params] of STATEMENTS) {
      try {
        const [r] = params ? await c.execute(sql, params) : await c.query(sql)
        if (Array.isArray(r)) {
          out.push({ sql, rows: r })
          continue
        }
        const ok = r as mysql.ResultSetHeader
        const [[last]] = (await c.query('SELECT LAST_INSERT_ID() AS id')) as unknown as [[{ id: number }]]
        out.push({ sql, insertId: ok.insertId, affectedRows: ok.affectedRows, lastInsertId: Number(last.id) })
      } catch (err) {
        const e = err as { errno?: number; sqlState?: string }
        out.push({ sql, errno: e.errno, sqlState: e.sqlState })
      }
    }
    return out
  } finally {
    await c.end()
  }
}

let reference: Answer[]
let server: Mariadb | undefined
beforeAll(async () => {
  server = await startMariadb({ serverArgs: ['--character-set-server=utf8mb4'] })
  await server.query('CREATE DATABASE app')
  reference = await answers(server.port)
}, 90_000)
afterAll(async () => {
  await server?.stop()
})

for (const store of ['sqlite', 'mysql'] as StoreKind[]) {
  describe(`write answers as MariaDB gives them (${store} store)`, () => {
    let cluster: Cluster
    beforeAll(async () => {
      cluster = await withCluster({ store, mysql: true })
    }, 90_000)
    afterAll(async () => {
      await cluster?.[Symbol.asyncDispose]()
    })

    test('insert ids, affected rows, LAST_INSERT_ID(), DECIMAL values and errnos; the slave equals the master', async () => {
      expect(reference.length).toBe(STATEMENTS.length)
      const got = await answers(await cluster.mysqlPort(cluster.master))
      for (const [i, want] of reference.entries()) expect(got[i]).toEqual(want)
      await expectSlavesEqualMaster(cluster.master, cluster.slaves, store)
    }, 120_000)
  })
}
