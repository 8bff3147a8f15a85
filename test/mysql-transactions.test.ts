import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import mysql from 'mysql2/promise'
import { type Cluster, withCluster } from './support/cluster.ts'
import { expectSlavesEqualMaster } from './support/compare.ts'
import { type Mariadb, startMariadb } from './support/mariadb.ts'

// What InnoDB does to a client's transaction when it fails (a deadlock, a lock wait
// timeout, a savepoint) must be what ddb does on a MySQL store: the same scenario runs
// on a plain private mariadbd and through ddb's MySQL port, on real row locks, and what
// each client saw is compared, then the slave with the master.

type Seen = Array<string | number | unknown[]>

/** The errno a query failed with, or 'ok'. */
async function outcome(p: Promise<unknown>): Promise<string | number> {
  return p.then(
    () => 'ok',
    (err: { errno?: number }) => err.errno ?? String(err),
  )
}

async function scenario(port: number): Promise<Seen> {
  const open = () => mysql.createConnection({ host: '127.0.0.1', port, user: 'root', database: 'app' })
  const [a, b, c] = await Promise.all([open(), open(), open()])
  const seen: Seen = []
  try {
    await a.query('CREATE TABLE acct (id INT PRIMARY KEY, v INT NOT NULL)')
    await a.query('INSERT INTO acct VALUES (1, 0), (2, 0)')

    // A deadlock: each holds one row and asks for the other's. InnoDB rolls the victim's whole
    // transaction back; the other goes on and commits; the victim's retry (BEGIN again) works.
    await a.query('BEGIN')
    await b.query('BEGIN')
    await a.query('UPDATE acct SET v = v + 1 WHERE id = 1')
    await b.query('UPDATE acct SET v = v + 10 WHERE id = 2')
    const first = outcome(a.query('UPDATE acct SET v = v + 1 WHERE id = 2'))
    await Bun.sleep(200) // a now waits for b's row lock
    const second = outcome(b.query('UPDATE acct SET v = v + 10 WHERE id = 1'))
    const outcomes = await Promise.all([first, second])
    seen.push(['deadlock', [...outcomes].sort()])
    const [winner, victim] = outcomes[0] === 'ok' ? [a, b] : [b, a]
    await winner.query('COMMIT')
    await victim.query('BEGIN')
    await victim.query('UPDATE acct SET v = v + 100 WHERE id = 1')
    await victim.query('COMMIT')

    // A lock wait timeout undoes the statement only: the transaction stays open and commits its earlier write.
    await b.query('SET SESSION innodb_lock_wait_timeout = 1')
    await a.query('BEGIN')
    await a.query('UPDATE acct SET v = v + 1000 WHERE id = 1')
    await b.query('BEGIN')
    await b.query('UPDATE acct SET v = v + 1000 WHERE id = 2')
    seen.push(['lock wait', await outcome(b.query('UPDATE acct SET v = v + 5000 WHERE id = 1'))])
    await a.query('COMMIT')
    await b.query('COMMIT')

    // Savepoints: ROLLBACK TO undoes what came after it, and an unknown one is 1305.
    await c.query('BEGIN')
    await c.query('INSERT INTO acct VALUES (3, 3)')
    await c.query('SAVEPOINT s')
    await c.query('INSERT INTO acct VALUES (4, 4)')
    await c.query('ROLLBACK TO SAVEPOINT s')
    await c.query('INSERT INTO acct VALUES (5, 5)')
    seen.push(['unknown savepoint', await outcome(c.query('ROLLBACK TO SAVEPOINT nope'))])
    await c.query('RELEASE SAVEPOINT s')
    await c.query('COMMIT')

    const [rows] = await a.query({ sql: 'SELECT id, v FROM acct ORDER BY id', rowsAsArray: true })
    seen.push(['rows', rows as unknown[]])
    return seen
  } finally {
    await Promise.all([a.end(), b.end(), c.end()])
  }
}

let reference: Seen
let server: Mariadb | undefined
beforeAll(async () => {
  server = await startMariadb()
  await server.query('CREATE DATABASE app')
  reference = await scenario(server.port)
}, 90_000)
afterAll(async () => {
  await server?.stop()
})

describe('failed statements inside transactions, on real InnoDB locks (MySQL store)', () => {
  let cluster: Cluster
  beforeAll(async () => {
    cluster = await withCluster({ store: 'mysql', mysql: true })
  }, 90_000)
  afterAll(async () => {
    await cluster?.[Symbol.asyncDispose]()
  })

  test('a deadlock ends the victim transaction, a lock wait timeout only its statement, savepoints as in MariaDB; the slave equals the master', async () => {
    expect(reference[0]).toEqual(['deadlock', [1213, 'ok']])
    expect(await scenario(await cluster.mysqlPort(cluster.master))).toEqual(reference)
    await expectSlavesEqualMaster(cluster.master, cluster.slaves, 'mysql')
  }, 120_000)
})
