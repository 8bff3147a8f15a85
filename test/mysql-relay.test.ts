import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mysql from 'mysql2/promise'
import { masterOffset, tailLog } from './support/compare.ts'
import { type DdbNode, startMaster, startSlave, waitApplied } from './support/ddb.ts'
import { type Mariadb, startMariadb } from './support/mariadb.ts'
import { mariadbCli, mysqlPortOf } from './support/mysql-client.ts'
import { waitFor } from './support/util.ts'

// A MySQL-port client's plain read on a MySQL store is relayed: the store's server
// answers it and its packets reach the client unchanged. So every read answers
// exactly as MariaDB does (rows, column definitions down to the table and schema
// names, errors), compared here against a private reference mariadbd holding the
// same tables. The store logs ddb in as a user with a password (mysql_native_password).

const SERVER_ARGS = ['--max-allowed-packet=64M']
const SCHEMA = [
  `CREATE TABLE kinds (id INT PRIMARY KEY, i BIGINT UNSIGNED, d DECIMAL(12,4), f DOUBLE, s VARCHAR(40),
     b VARBINARY(16), t DATETIME(3), j JSON, e ENUM('x','y'), n INT NULL)`,
  "INSERT INTO kinds VALUES (1, 18446744073709551615, -12.5, 1.5e300, 'héllo', X'00FF', '2024-02-29 12:34:56.789', '{\"a\": [1, 2]}', 'y', NULL)",
  "INSERT INTO kinds VALUES (2, 0, 0, 0, '', '', '1000-01-01 00:00:00', 'null', 'x', 7)",
  'CREATE TABLE many (id INT PRIMARY KEY, c CHAR(100) NOT NULL)',
  ...Array.from(
    { length: 30 },
    (_, k) =>
      `INSERT INTO many VALUES ${Array.from({ length: 1000 }, (_, i) => `(${k * 1000 + i + 1}, 'row ${k * 1000 + i + 1}')`).join(', ')}`,
  ),
  'CREATE DATABASE other',
  'CREATE TABLE other.t (v INT)',
  'INSERT INTO other.t VALUES (42)',
]
/** Reads whose every answer (rows, column definitions, error) must be MariaDB's. */
const READS = [
  // Not j: MariaDB marks a JSON column only in its extended metadata (mysql2 parses it then,
  // the CLI shows "format=json"), a capability ddb's port does not offer.
  'SELECT id, i, d, f, s, b, t, e, n FROM kinds ORDER BY id',
  'SELECT id, s FROM kinds WHERE id = 1',
  'SELECT COUNT(*) AS n, SUM(id) FROM many',
  'SELECT * FROM many ORDER BY id',
  'SHOW TABLES',
  'SHOW CREATE TABLE kinds',
  'SELECT 1 + 1, NULL, "x" AS s, 2.50',
  'SELECT nope FROM kinds',
  'SELECT * FROM missing',
  'SELECT * FROM other.t',
  'DESCRIBE kinds',
  'EXPLAIN SELECT * FROM many WHERE id = 5',
]

/** The CLI names its locale's character set unless told; ddb relays only clients that speak utf8mb4. */
const CLI_ARGS = ['-Dapp', '--default-character-set=utf8mb4', '--column-type-info', '--table']

type Answer = { rows: unknown; fields: unknown } | { error: { errno: number; sqlState: string; message: string } }

/** Every column definition field a client sees. */
const definitionsOf = (fields: mysql.FieldPacket[] | undefined) =>
  (fields ?? []).map((f) => ({
    catalog: f.catalog,
    schema: f.schema,
    table: f.table,
    orgTable: f.orgTable,
    name: f.name,
    orgName: f.orgName,
    characterSet: f.characterSet,
    columnLength: f.columnLength,
    columnType: f.columnType,
    flags: f.flags,
    decimals: f.decimals,
  }))

async function answer(c: mysql.Connection, sql: string): Promise<Answer> {
  try {
    const [rows, fields] = await c.query({ sql, rowsAsArray: true })
    return { rows, fields: definitionsOf(fields) }
  } catch (err) {
    const e = err as { errno: number; sqlState: string; sqlMessage: string }
    return { error: { errno: e.errno, sqlState: e.sqlState, message: e.sqlMessage } }
  }
}

describe('reads relayed to a MySQL store', () => {
  let dir: string
  let store: Mariadb
  let reference: Mariadb
  let master: DdbNode
  let ddbPort: number
  const connect = (port: number, database = 'app') =>
    mysql.createConnection({ host: '127.0.0.1', port, user: 'root', database, supportBigNumbers: true })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ddb-relay-'))
    ;[store, reference] = await Promise.all([
      startMariadb({ serverArgs: SERVER_ARGS }),
      startMariadb({ serverArgs: SERVER_ARGS }),
    ])
    await store.query("CREATE USER 'app'@'%' IDENTIFIED BY 's3cret pw'")
    await store.query("GRANT ALL ON *.* TO 'app'@'%'")
    master = await startMaster(`mysql://app:s3cret%20pw@127.0.0.1:${store.port}/app`, join(dir, 'master.log'), {
      args: ['--mysql-listen', '127.0.0.1:0'],
    })
    ddbPort = await mysqlPortOf(master)
    await reference.query('CREATE DATABASE app CHARACTER SET utf8mb4') // as ddb creates its store's
    for (const port of [ddbPort, reference.port]) {
      const c = await connect(port)
      for (const sql of SCHEMA) await c.query(sql)
      await c.end()
    }
  }, 120_000)

  afterAll(async () => {
    await master?.[Symbol.asyncDispose]()
    await Promise.all([store?.stop(), reference?.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  test('every read answers as MariaDB does: rows, column definitions and errors (mysql2)', async () => {
    const [viaDdb, direct] = await Promise.all([connect(ddbPort), connect(reference.port)])
    try {
      for (const sql of READS)
        expect({ sql, ...(await answer(viaDdb, sql)) }).toEqual({ sql, ...(await answer(direct, sql)) })
    } finally {
      await Promise.all([viaDdb.end(), direct.end()])
    }
  })

  test('the mariadb client (CLIENT_DEPRECATE_EOF) sees what MariaDB shows, column types included', async () => {
    const sql = READS.filter((r) => !/nope|missing|many/.test(r)).join('; ')
    const [viaDdb, direct] = await Promise.all([
      mariadbCli(ddbPort, sql, CLI_ARGS),
      mariadbCli(reference.port, sql, CLI_ARGS),
    ])
    expect(viaDdb.stderr).toBe('')
    expect(viaDdb.stdout).toContain('Org_table:  `kinds`')
    expect(viaDdb.stdout).toBe(direct.stdout)
    const missing = await mariadbCli(ddbPort, 'SELECT * FROM missing', CLI_ARGS)
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toContain("ERROR 1146 (42S02) at line 1: Table 'app.missing' doesn't exist")
  })

  test('a row longer than one 16 MiB frame arrives whole, outside a transaction and inside one', async () => {
    const c = await connect(ddbPort)
    try {
      for (const inTransaction of [false, true]) {
        if (inTransaction) await c.query('BEGIN')
        const [rows] = await c.query({ sql: "SELECT REPEAT('ab', 9000000) AS big, 7 AS after_it", rowsAsArray: true })
        const [[big, after]] = rows as [[string, number]]
        expect(big.length).toBe(18_000_000)
        expect(big.slice(0, 4) + big.slice(-4)).toBe('ababab' + 'ab')
        expect(after).toBe(7)
        if (inTransaction) await c.query('COMMIT')
      }
    } finally {
      await c.end()
    }
  })

  test("a read runs in the session's database and with its settings", async () => {
    const [viaDdb, direct] = await Promise.all([connect(ddbPort), connect(reference.port)])
    try {
      for (const c of [viaDdb, direct]) {
        await c.query('USE other')
        await c.query("SET SESSION sql_mode = 'PIPES_AS_CONCAT'")
      }
      for (const sql of ['SELECT v FROM t', "SELECT 'a' || 'b' AS s", 'SELECT t.v, DATABASE() AS d FROM t']) {
        expect(await answer(viaDdb, sql)).toEqual(await answer(direct, sql))
      }
      const [[row]] = (await viaDdb.query({ sql: "SELECT 'a' || 'b'", rowsAsArray: true })) as unknown as [[string[]]]
      expect(row![0]).toBe('ab')
      await viaDdb.query('SET SESSION sql_mode = DEFAULT')
      const [[back]] = (await viaDdb.query({ sql: "SELECT 'a' || 'b'", rowsAsArray: true })) as unknown as [[number[]]]
      expect(back![0]).toBe(0)
    } finally {
      await Promise.all([viaDdb.end(), direct.end()])
    }
  })

  test("a client's relayed reads stay on the store connection it used last while that one is free", async () => {
    const clients = await Promise.all([connect(ddbPort), connect(ddbPort)])
    const storeConnection = async (c: mysql.Connection) => {
      const [[row]] = (await c.query({
        sql: 'SELECT CONNECTION_ID() AS id, COUNT(*) FROM kinds',
        rowsAsArray: true,
      })) as unknown as [[number[]]]
      return row![0]!
    }
    try {
      // Two reads at once need two store connections; each client then keeps its own.
      await Promise.all(clients.map((c) => c.query('SELECT SLEEP(0.3) FROM kinds LIMIT 1')))
      const seen: number[][] = [[], []]
      for (let round = 0; round < 4; round++) {
        for (const [i, c] of clients.entries()) seen[i]!.push(await storeConnection(c))
      }
      expect(new Set(seen[0]).size).toBe(1)
      expect(new Set(seen[1]).size).toBe(1)
      expect(seen[0]![0]).not.toBe(seen[1]![0])
    } finally {
      await Promise.all(clients.map((c) => c.end()))
    }
  })

  test('inside a transaction every read answers as MariaDB does, and sees the transaction as MariaDB does', async () => {
    const [viaDdb, direct, other] = await Promise.all([connect(ddbPort), connect(reference.port), connect(ddbPort)])
    try {
      for (const c of [viaDdb, direct]) await c.query('BEGIN')
      for (const sql of READS)
        expect({ sql, ...(await answer(viaDdb, sql)) }).toEqual({ sql, ...(await answer(direct, sql)) })
      // Repeatable read: a row committed by another client after the transaction's first read stays unseen.
      await other.query('INSERT INTO other.t VALUES (44)')
      expect(await answer(viaDdb, 'SELECT v FROM other.t ORDER BY v')).toMatchObject({ rows: [[42]] })
      await viaDdb.query('COMMIT')
      expect(await answer(viaDdb, 'SELECT v FROM other.t ORDER BY v')).toMatchObject({ rows: [[42], [44]] })
      await other.query('DELETE FROM other.t WHERE v = 44')
    } finally {
      await Promise.all([viaDdb.end(), direct.end(), other.end()])
    }
  })

  test("a write after a relayed read in a transaction runs in the collation every node replays it in, not the client's", async () => {
    // 'ß' = 'ss' is false in utf8mb4_general_ci (ddb's connections, every slave's) and true in the
    // client's utf8mb4_unicode_ci, which the relayed read set for its column definitions.
    const c = await connect(ddbPort)
    try {
      await c.query('CREATE TABLE app.collated (id INT AUTO_INCREMENT PRIMARY KEY, same INT)')
      await c.query("INSERT INTO app.collated VALUES (1, 'ß' = 'ss')")
      await c.query('BEGIN')
      expect(await answer(c, "SELECT 'ß' = 'ss' AS same")).toMatchObject({ rows: [[1]] })
      const [inserted] = await c.query("INSERT INTO app.collated (same) VALUES ('ß' = 'ss')")
      expect(inserted).toMatchObject({ affectedRows: 1, insertId: 2 })
      await c.query('COMMIT')
      expect(await answer(c, 'SELECT id, same FROM app.collated ORDER BY id')).toMatchObject({
        rows: [
          [1, 0],
          [2, 0],
        ],
      })
      await c.query('DROP TABLE app.collated')
    } finally {
      await c.end()
    }
  })

  test('a relayed read that deadlocks ends the transaction, as in MariaDB; its writes are not logged', async () => {
    const [a, b] = await Promise.all([connect(ddbPort), connect(ddbPort)])
    try {
      await a.query('BEGIN')
      await b.query('BEGIN')
      await a.query('UPDATE kinds SET n = 1 WHERE id = 1')
      await b.query('UPDATE kinds SET n = 2 WHERE id = 2')
      const blocked = a.query('SELECT n FROM kinds WHERE id = 2 FOR UPDATE')
      await Bun.sleep(200)
      const victim = await b.query('SELECT n FROM kinds WHERE id = 1 FOR UPDATE').then(
        () => null,
        (err) => err as { errno: number },
      )
      expect(victim?.errno).toBe(1213)
      await blocked
      // b's transaction is over: its COMMIT commits nothing, and its UPDATE never reached the log.
      await b.query('COMMIT')
      await a.query('COMMIT')
      expect(await answer(b, 'SELECT id, n FROM kinds ORDER BY id')).toMatchObject({
        rows: [
          [1, 1],
          [2, 7],
        ],
      })
      const logged = JSON.stringify(await tailLog(join(dir, 'master.log'), '-n', '5'))
      expect(logged).toContain('SET n = 1')
      expect(logged).not.toContain('SET n = 2')
      await a.query('UPDATE kinds SET n = NULL WHERE id = 1')
    } finally {
      await Promise.all([a.end(), b.end()])
    }
  })

  test('inside a transaction a read sees its own writes, in the database USE chose there', async () => {
    const c = await connect(ddbPort)
    try {
      await c.query('BEGIN')
      await c.query('INSERT INTO other.t VALUES (43)')
      const [rows] = await c.query({ sql: 'SELECT COUNT(*) FROM other.t', rowsAsArray: true })
      expect(rows as unknown).toEqual([[2]])
      await c.query('USE other')
      const [here] = await c.query({ sql: 'SELECT COUNT(*), DATABASE() FROM t', rowsAsArray: true })
      expect(here as unknown).toEqual([[2, 'other']])
      await c.query('ROLLBACK')
      await c.query('USE app')
      const [after] = await c.query({ sql: 'SELECT COUNT(*) FROM other.t', rowsAsArray: true })
      expect(after as unknown).toEqual([[1]])
    } finally {
      await c.end()
    }
  })

  test("a master on its store server's Unix socket (?socket=) writes, relays reads, and its slave on the socket too has every row", async () => {
    await using viaSocket = await startMaster(
      `mysql://app:s3cret%20pw@localhost/app_socket?socket=${store.socket}`,
      join(dir, 'socket-master.log'),
      { args: ['--mysql-listen', '127.0.0.1:0'] },
    )
    // The slave's store on a server of its own (a slave on its master's server is refused), by its socket too.
    await using slave = await startSlave(
      viaSocket.address,
      `mysql://root@localhost/app_socket_slave?socket=${reference.socket}`,
    )
    const c = await connect(await mysqlPortOf(viaSocket), 'app_socket')
    let direct: mysql.Connection | undefined
    try {
      await c.query('CREATE TABLE kinds (id INT PRIMARY KEY, s VARCHAR(40), n INT NULL)')
      await c.query("INSERT INTO kinds VALUES (1, 'héllo', NULL), (2, '', 7)")
      // Compared with the store's own server, over TCP: the same schema, so the same column definitions.
      direct = await connect(store.port, 'app_socket')
      for (const sql of [
        'SELECT * FROM kinds ORDER BY id',
        'SELECT s FROM kinds WHERE id = 1',
        'SELECT nope FROM kinds',
      ])
        expect(await answer(c, sql)).toEqual(await answer(direct, sql))
      await c.query('BEGIN')
      await c.query('UPDATE kinds SET n = 9 WHERE id = 1')
      expect(await answer(c, 'SELECT n FROM kinds WHERE id = 1')).toMatchObject({ rows: [[9]] })
      await c.query('COMMIT')
      await waitApplied(slave, await masterOffset(viaSocket))
      // A slave of a MySQL master writes in the master's databases, on its own server.
      const copied = await reference.query('SELECT id, n FROM app_socket.kinds ORDER BY id')
      expect(copied.map((r) => [r.id, r.n])).toEqual([
        [1, 9],
        [2, 7],
      ])
      expect(viaSocket.log()).toContain(`?socket=${store.socket}`)
    } finally {
      await Promise.all([c.end(), direct?.end()])
    }
  })

  test('a store server that went away fails the read with an error, and reads work again once it is back', async () => {
    const c = await connect(ddbPort)
    try {
      await store.crash()
      await expect(c.query('SELECT COUNT(*) FROM many')).rejects.toThrow()
      await store.restart()
      const counted = await waitFor(
        async () => {
          const fresh = await connect(ddbPort).catch(() => null)
          if (!fresh) return null
          try {
            const [rows] = await fresh.query({ sql: 'SELECT COUNT(*) FROM many', rowsAsArray: true })
            return rows
          } catch {
            return null
          } finally {
            fresh.destroy()
          }
        },
        { timeoutMs: 60_000, what: 'a read through ddb after the store restarted' },
      )
      expect(counted as unknown).toEqual([[30000]])
    } finally {
      c.destroy()
    }
  }, 120_000)
})
