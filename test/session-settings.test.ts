import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import mysql from 'mysql2/promise'
import { type Cluster, withCluster } from './support/cluster.ts'
import { expectSlavesEqualMaster, masterOffset, select, tailLog } from './support/compare.ts'
import type { DdbNode } from './support/ddb.ts'

// A session's SETs change what its writes do; as in MySQL's statement-based replication,
// each write carries the settings it ran under and the slave replays it under them, so a
// slave whose own server runs with the defaults still ends equal to the master.
describe('session settings replicate with the writes that ran under them (MySQL store)', () => {
  let cluster: Cluster
  let master: DdbNode
  let conn: mysql.Connection
  beforeAll(async () => {
    cluster = await withCluster({ store: 'mysql', mysql: true })
    master = cluster.master
    conn = await mysql.createConnection({
      host: '127.0.0.1',
      port: await cluster.mysqlPort(master),
      user: 'root',
      database: 'app',
      dateStrings: true,
    })
    await conn.query('CREATE TABLE parent (id INT PRIMARY KEY)')
    await conn.query(
      'CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, FOREIGN KEY (parent_id) REFERENCES parent (id))',
    )
    await conn.query('CREATE TABLE names (id INT PRIMARY KEY, name VARCHAR(3))')
    await conn.query('CREATE TABLE clock (id INT PRIMARY KEY, at DATETIME)')
  })
  afterAll(async () => {
    await conn?.end()
    await cluster?.[Symbol.asyncDispose]()
  })

  test('foreign_key_checks = 0: a child before its parent, as a dump loads it', async () => {
    await conn.query('SET foreign_key_checks = 0')
    await conn.query('INSERT INTO child (id, parent_id) VALUES (1, 99)')
    await conn.query('SET foreign_key_checks = 1')
    const [entry] = await tailLog(cluster.log, '--from', String(await masterOffset(master)))
    expect(entry!.statements[0]!.settings).toEqual({ foreign_key_checks: 0 })
    await expect(conn.query('INSERT INTO child (id, parent_id) VALUES (2, 98)')).rejects.toMatchObject({ errno: 1452 })
    await expectSlavesEqualMaster(master, cluster.slaves, 'mysql')
  })

  test("sql_mode = '': a value too long is cut, as the master's mode says, not refused as the slave's default would", async () => {
    await conn.query("SET sql_mode = ''")
    await conn.query("INSERT INTO names (id, name) VALUES (1, 'abcdef')")
    expect(await select(master, 'SELECT name FROM names')).toEqual([{ name: 'abc' }])
    const [mode] = await conn.query({ sql: 'SELECT @@sql_mode', rowsAsArray: true })
    expect(mode as unknown).toEqual([['']])
    await conn.query('SET sql_mode = DEFAULT')
    await expect(conn.query("INSERT INTO names (id, name) VALUES (2, 'abcdef')")).rejects.toMatchObject({ errno: 1406 })
    await expectSlavesEqualMaster(master, cluster.slaves, 'mysql')
  })

  test("time_zone: NOW() reads the session's zone, on the master and on the slave", async () => {
    await conn.query('SET timestamp = 1700000000') // 2023-11-14 22:13:20 UTC
    await conn.query("SET time_zone = '+05:30'")
    await conn.query('INSERT INTO clock (id, at) VALUES (1, NOW())')
    await conn.query("SET time_zone = '-03:00', timestamp = DEFAULT")
    const [zone] = await conn.query({ sql: 'SELECT @@time_zone', rowsAsArray: true })
    expect(zone as unknown).toEqual([['-03:00']])
    expect(await select(master, 'SELECT at FROM clock')).toEqual([{ at: '2023-11-15 03:43:20' }])
    await expectSlavesEqualMaster(master, cluster.slaves, 'mysql')
  })

  test('a user variable set from a query is read as its value on the master, and the slave gets that value', async () => {
    await conn.query('SET @next = (SELECT COUNT(*) + 10 FROM names)')
    await conn.query("INSERT INTO names (id, name) VALUES (@next, 'n')")
    expect(await select(master, "SELECT id FROM names WHERE name = 'n'")).toEqual([{ id: 11 }])
    await expectSlavesEqualMaster(master, cluster.slaves, 'mysql')
  })

  test('innodb_lock_wait_timeout: the master waits for a row lock that long, and the entry does not carry it', async () => {
    const holder = await mysql.createConnection({
      host: '127.0.0.1',
      port: await cluster.mysqlPort(master),
      user: 'root',
      database: 'app',
    })
    try {
      await conn.query('INSERT INTO names (id, name) VALUES (20, ?)', ['a'])
      await holder.query('BEGIN')
      await holder.query("UPDATE names SET name = 'h' WHERE id = 20")
      await conn.query('SET SESSION innodb_lock_wait_timeout = 1')
      const started = Date.now()
      await expect(conn.query("UPDATE names SET name = 'c' WHERE id = 20")).rejects.toMatchObject({ errno: 1205 })
      expect(Date.now() - started).toBeLessThan(20_000) // not the server's 50 s
      await holder.query('COMMIT')
      await conn.query("UPDATE names SET name = 'c' WHERE id = 20")
      const [entry] = await tailLog(cluster.log, '--from', String(await masterOffset(master)))
      expect(entry!.statements[0]!.settings ?? {}).not.toHaveProperty('innodb_lock_wait_timeout')
      await conn.query('SET SESSION innodb_lock_wait_timeout = DEFAULT')
      await expectSlavesEqualMaster(master, cluster.slaves, 'mysql')
    } finally {
      await holder.end()
    }
  })

  test("an unknown variable and a bad value get MySQL's own errors", async () => {
    await expect(conn.query('SET no_such_variable = 1')).rejects.toMatchObject({ errno: 1193 })
    await expect(conn.query("SET sql_mode = 'NOT_A_MODE'")).rejects.toMatchObject({ errno: 1231 })
    await expect(conn.query('SET sql_log_bin = 0')).rejects.toMatchObject({ errno: 1235 })
  })
})
