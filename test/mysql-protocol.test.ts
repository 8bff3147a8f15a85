import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import net from 'node:net'
import mysql from 'mysql2/promise'
import { type Packet, PacketReader, PayloadWriter } from '../src/front/mysql/packets.ts'
import { CLIENT, framePacket } from '../src/mysql-protocol.ts'
import { BACKEND_KINDS } from './support/backends.ts'
import { type Cluster, withCluster } from './support/cluster.ts'
import { masterOffset } from './support/compare.ts'
import type { DdbNode } from './support/ddb.ts'
import { mariadbCli } from './support/mysql-client.ts'
import { waitFor } from './support/util.ts'

/** A bare protocol client, to send what real drivers never do. */
interface RawClient {
  send(payload: Buffer, seq: number): void
  write(bytes: Buffer): void
  next(): Promise<Packet>
  closed: Promise<void>
  close(): void
}

async function rawConnect(port: number): Promise<RawClient> {
  const socket = net.connect(port, '127.0.0.1')
  const reader = new PacketReader()
  const packets: Packet[] = []
  const waiters: Array<(p: Packet) => void> = []
  socket.on('data', (chunk: Buffer) => {
    for (const p of reader.push(chunk)) {
      const w = waiters.shift()
      if (w) w(p)
      else packets.push(p)
    }
  })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  return {
    send: (payload, seq) => socket.write(framePacket(payload, seq).bytes),
    write: (bytes) => socket.write(bytes),
    next: () => {
      const p = packets.shift()
      if (p) return Promise.resolve(p)
      return new Promise<Packet>((resolve, reject) => {
        waiters.push(resolve)
        setTimeout(() => reject(new Error('raw client: no packet within 10 s')), 10_000).unref()
      })
    },
    closed,
    close: () => socket.destroy(),
  }
}

/** Logs in as root with no password over a RawClient. */
async function rawLogin(port: number): Promise<RawClient> {
  const c = await rawConnect(port)
  await c.next() // HandshakeV10
  const caps = CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | CLIENT.DEPRECATE_EOF
  c.send(
    new PayloadWriter()
      .int4(caps)
      .int4(1 << 24)
      .int1(45)
      .zeros(23)
      .nulString('root')
      .int1(0)
      .nulString('mysql_native_password')
      .build(),
    1,
  )
  const ok = await c.next()
  expect(ok.payload[0]).toBe(0x00)
  return c
}

const errno = (p: Packet) => (p.payload[0] === 0xff ? p.payload.readUInt16LE(1) : null)

for (const kind of BACKEND_KINDS) {
  describe(`MySQL protocol on ${kind} stores`, () => {
    let cluster: Cluster
    let master: DdbNode
    let slave: DdbNode
    let masterPort: number
    let slavePort: number

    beforeAll(async () => {
      // Each node picks a free MySQL port and logs it, so no other process can take it in between.
      cluster = await withCluster({ store: kind, mysql: true })
      ;({ master, slave } = cluster)
      ;[masterPort, slavePort] = await Promise.all([cluster.mysqlPort(master), cluster.mysqlPort(slave)])
    })

    afterAll(async () => {
      await cluster?.[Symbol.asyncDispose]()
    })

    test('the mariadb CLI runs DDL, DML and a transaction; the slave serves the rows on its own MySQL port', async () => {
      const ddl = await mariadbCli(
        masterPort,
        'CREATE TABLE cli_t (id INT PRIMARY KEY, name VARCHAR(20), score DOUBLE)',
      )
      expect(ddl.stderr).toBe('')
      expect(ddl.code).toBe(0)
      const dml = await mariadbCli(
        masterPort,
        "INSERT INTO cli_t VALUES (1, 'ann', 1.5), (2, 'bob', NULL); UPDATE cli_t SET score = 2.5 WHERE id = 2",
      )
      expect(dml.stderr).toBe('')
      const txn = await mariadbCli(
        masterPort,
        "BEGIN; INSERT INTO cli_t VALUES (3, 'cy', 3); DELETE FROM cli_t WHERE id = 1; COMMIT",
      )
      expect(txn.stderr).toBe('')
      expect(txn.code).toBe(0)
      const expected = 'id\tname\tscore\n2\tbob\t2.5\n3\tcy\t3\n'
      expect((await mariadbCli(masterPort, 'SELECT * FROM cli_t ORDER BY id')).stdout).toBe(expected)
      await waitFor(async () => (await mariadbCli(slavePort, 'SELECT * FROM cli_t ORDER BY id')).stdout === expected, {
        timeoutMs: 30_000,
        what: 'slave rows',
      })
    })

    test("the CLI's connect queries, system variables, SHOW TABLES and USE work", async () => {
      const r = await mariadbCli(
        masterPort,
        'SELECT @@version_comment LIMIT 1; SELECT @@version; SET NAMES utf8mb4; SET autocommit=1; SET SESSION net_write_timeout = 600; SHOW TABLES; SELECT 1 + 1 AS two',
        ['-N'],
      )
      expect(r.stderr).toBe('')
      const lines = r.stdout.trim().split('\n')
      expect(lines[0]).toBe('ddb statement replication')
      // VERSION() is the store server's, as a client of it would read it; a SQLite store speaks for MySQL 8.0.
      expect(lines[1]).toMatch(kind === 'mysql' ? /^10\.11\.\d+-MariaDB/ : /^8\.0\.40-ddb$/)
      expect(lines).toContain('cli_t')
      expect(lines[lines.length - 1]).toBe('2')
      if (kind === 'mysql') {
        const use = await mariadbCli(masterPort, 'SELECT DATABASE()', ['-N', '-D', 'app'])
        expect(use.stdout.trim()).toBe('app')
        const bad = await mariadbCli(masterPort, 'SELECT 1', ['-D', 'no_such_db'])
        expect(bad.stderr).toContain('1049')
      }
    })

    test('mysql2: a write answers with its offset; ddb_offset() returns it; reads come back typed', async () => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: masterPort, user: 'root' })
      try {
        // The MySQL port speaks MySQL on either store: a SQLite store gets this translated.
        await c.query('CREATE TABLE m2_t (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(20), b BLOB, f DOUBLE)')
        const [header] = (await c.query("INSERT INTO m2_t (name, b, f) VALUES ('x', X'00ff', 0.25)")) as unknown as [
          mysql.ResultSetHeader,
        ]
        expect(header.affectedRows).toBe(1)
        expect(header.insertId).toBe(1)
        const offset = Number(/^offset (\d+)$/.exec(header.info)?.[1])
        expect(offset).toBeGreaterThan(0)
        const [[row]] = (await c.query('SELECT ddb_offset() AS o')) as unknown as [[{ o: number }]]
        expect(row.o).toBe(offset)
        const [rows] = (await c.query('SELECT id, name, b, f FROM m2_t')) as unknown as [Array<Record<string, unknown>>]
        expect(rows).toEqual([{ id: 1, name: 'x', b: Buffer.from([0, 255]), f: 0.25 }])
        const err = await c.query("INSERT INTO m2_t (id, name) VALUES (1, 'dup')").catch((e) => e)
        expect(err.errno).toBe(1062)
        expect(err.sqlState).toBe('23000')
      } finally {
        await c.end()
      }
    })

    test('SET autocommit=0 (as Python drivers and JDBC send): writes gather into one entry at COMMIT; ROLLBACK and SET autocommit=1 end it as in MySQL', async () => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: masterPort, user: 'root' })
      const other = await mysql.createConnection({ host: '127.0.0.1', port: masterPort, user: 'root' })
      const offset = () => masterOffset(master)
      const ids = async () =>
        ((await other.query('SELECT id FROM ac ORDER BY id')) as unknown as [Array<{ id: number }>])[0].map((r) => r.id)
      try {
        await c.query('CREATE TABLE ac (id INT PRIMARY KEY)')
        const start = await offset()
        await c.query('SET autocommit = 0')
        expect(((await c.query('SELECT @@autocommit AS a')) as unknown as [[{ a: number }]])[0][0].a).toBe(0)
        // A read opens no transaction: it holds nothing, so another client's write goes through at once.
        await c.query('SELECT COUNT(*) FROM ac')
        await other.query('INSERT INTO ac VALUES (100)')
        expect(await offset()).toBe(start + 1)
        await c.query('INSERT INTO ac VALUES (1)')
        await c.query('INSERT INTO ac VALUES (2)')
        expect(await ids()).toEqual([100]) // not committed: other connections do not see it
        await c.query('COMMIT')
        expect(await offset()).toBe(start + 2) // one entry for both
        expect(await ids()).toEqual([1, 2, 100])
        await c.query('INSERT INTO ac VALUES (3)')
        await c.query('ROLLBACK')
        await c.query('INSERT INTO ac VALUES (4)')
        await c.query('SET autocommit = 1') // commits the open transaction
        expect(await offset()).toBe(start + 3)
        await c.query('INSERT INTO ac VALUES (5)') // autocommit again: its own entry at once
        expect(await offset()).toBe(start + 4)
        expect(await ids()).toEqual([1, 2, 4, 5, 100])
        await c.query('SET autocommit = 0')
        await c.query('INSERT INTO ac VALUES (6)')
        await c.query('CREATE TABLE ac2 (id INT)') // commits the open transaction first, then runs on its own
        expect(await offset()).toBe(start + 6)
        expect(await ids()).toEqual([1, 2, 4, 5, 6, 100])
        await waitFor(
          async () =>
            (await mariadbCli(slavePort, 'SELECT id FROM ac ORDER BY id')).stdout === 'id\n1\n2\n4\n5\n6\n100\n',
          { timeoutMs: 30_000, what: 'slave rows' },
        )
      } finally {
        await c.end()
        await other.end()
      }
    })

    test("a join whose columns share a name returns each column's own value (text and binary protocol, and the CLI)", async () => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: masterPort, user: 'root' })
      try {
        await c.query('CREATE TABLE jp (id INT PRIMARY KEY, name VARCHAR(10))')
        await c.query('CREATE TABLE jc (id INT PRIMARY KEY, parent INT, name VARCHAR(10))')
        await c.query("INSERT INTO jp VALUES (1, 'parent')")
        await c.query("INSERT INTO jc VALUES (10, 1, 'child')")
        const sql = 'SELECT jp.id, jc.id, jp.name, jc.name FROM jp JOIN jc ON jc.parent = jp.id'
        const [text] = (await c.query({ sql, rowsAsArray: true })) as unknown as [unknown[][]]
        expect(text).toEqual([[1, 10, 'parent', 'child']])
        const [binary] = (await c.execute({ sql, rowsAsArray: true })) as unknown as [unknown[][]]
        expect(binary).toEqual([[1, 10, 'parent', 'child']])
        expect((await mariadbCli(masterPort, sql)).stdout).toBe('id\tid\tname\tname\n1\t10\tparent\tchild\n')
      } finally {
        await c.end()
      }
    })

    test('mysql2 execute(): prepared writes and reads with bound parameters', async () => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: masterPort, user: 'root' })
      try {
        const [header] = (await c.execute('INSERT INTO m2_t (name, b, f) VALUES (?, ?, ?)', [
          'prep',
          Buffer.from('hi'),
          2.75,
        ])) as unknown as [mysql.ResultSetHeader]
        expect(header.affectedRows).toBe(1)
        expect(header.info).toMatch(/^offset \d+$/)
        const [rows] = await c.execute('SELECT name, b, f FROM m2_t WHERE name = ? AND f > ?', ['prep', 1])
        expect(rows as unknown).toEqual([{ name: 'prep', b: Buffer.from('hi'), f: 2.75 }])
        const [none] = await c.execute('SELECT id FROM m2_t WHERE id = ?', [-5])
        expect(none as unknown).toEqual([])
      } finally {
        await c.end()
      }
    })

    test('multi-statement queries return one result per statement', async () => {
      const c = await mysql.createConnection({
        host: '127.0.0.1',
        port: masterPort,
        user: 'root',
        multipleStatements: true,
      })
      try {
        const [results] = (await c.query(
          "INSERT INTO m2_t (name) VALUES ('multi'); SELECT name FROM m2_t WHERE name = 'multi'",
        )) as unknown as [unknown[]]
        expect(results).toHaveLength(2)
        expect((results[0] as mysql.ResultSetHeader).affectedRows).toBe(1)
        expect(results[1]).toEqual([{ name: 'multi' }])
      } finally {
        await c.end()
      }
    })

    test('a slave refuses writes with error 1290 naming the master', async () => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: slavePort, user: 'root' })
      try {
        const err = await c.query("INSERT INTO cli_t VALUES (9, 'no', 0)").catch((e) => e)
        expect(err.errno).toBe(1290)
        expect(err.sqlState).toBe('HY000')
        expect(err.message).toContain(master.address)
      } finally {
        await c.end()
      }
    })

    test("a --forward-writes slave passes a client's INSERT on to the master and answers with its offset", async () => {
      await using forwarding = await cluster.addSlave({ args: ['--forward-writes'] })
      const port = await cluster.mysqlPort(forwarding)
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })
      try {
        const [header] = (await c.query("INSERT INTO cli_t VALUES (10, 'fwd', 1)")) as unknown as [
          mysql.ResultSetHeader,
        ]
        expect(header.info).toMatch(/^offset \d+$/)
        const ddl = await c.query('CREATE TABLE fwd_t (id INT)').catch((e) => e)
        expect(ddl.errno).toBe(1290)
      } finally {
        await c.end()
      }
      expect((await mariadbCli(masterPort, 'SELECT name FROM cli_t WHERE id = 10', ['-N'])).stdout).toBe('fwd\n')
      await mariadbCli(masterPort, 'DELETE FROM cli_t WHERE id = 10')
    })

    test('a pool of 16 connections writes concurrently; the slave ends equal to the master', async () => {
      const pool = mysql.createPool({ host: '127.0.0.1', port: masterPort, user: 'root', connectionLimit: 16 })
      try {
        await pool.query('CREATE TABLE pool_t (id INT PRIMARY KEY, v VARCHAR(20))')
        await Promise.all(
          Array.from({ length: 200 }, (_, i) => pool.query(`INSERT INTO pool_t VALUES (${i}, 'v${i}')`)),
        )
      } finally {
        await pool.end()
      }
      const dump = async (port: number) => (await mariadbCli(port, 'SELECT * FROM pool_t ORDER BY id')).stdout
      const onMaster = await dump(masterPort)
      expect(onMaster.trim().split('\n')).toHaveLength(201)
      await waitFor(async () => (await dump(slavePort)) === onMaster, {
        timeoutMs: 30_000,
        what: 'slave equal to master',
      })
    })

    test('a wrong password gets error 1045 and the node keeps serving', async () => {
      const err = await mysql
        .createConnection({ host: '127.0.0.1', port: masterPort, user: 'root', password: 'wrong' })
        .catch((e) => e)
      expect(err.errno).toBe(1045)
      expect(err.sqlState).toBe('28000')
      expect(err.message).toContain("Access denied for user 'root'@")
      expect(err.message).toContain('(using password: YES)')
      const cli = await mariadbCli(masterPort, 'SELECT 1', ['-pwrong'])
      expect(cli.stderr).toContain('1045')
      expect((await mariadbCli(masterPort, 'SELECT 1', ['-N'])).stdout).toBe('1\n')
    })

    test('an unknown command byte gets error 1047 and the connection stays usable', async () => {
      const c = await rawLogin(masterPort)
      try {
        c.send(Buffer.from([0x55]), 0)
        expect(errno(await c.next())).toBe(1047)
        c.send(Buffer.from([0x0e]), 0) // COM_PING
        expect((await c.next()).payload[0]).toBe(0x00)
      } finally {
        c.close()
      }
    })

    test('a 20 MB statement: replicated on SQLite, a clear error from a MySQL store that refuses it; the node keeps serving', async () => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: masterPort, user: 'root' })
      await c.query('CREATE TABLE big (id INTEGER PRIMARY KEY, v LONGTEXT)')
      const value = 'x'.repeat(20 * 1024 * 1024)
      const sent = c.query(`INSERT INTO big (id, v) VALUES (1, '${value}')`)
      if (kind === 'sqlite') {
        const [ok] = (await sent) as unknown as [{ affectedRows: number; info: string }]
        expect(ok.affectedRows).toBe(1)
        const offset = Number(/offset (\d+)/.exec(ok.info)![1])
        const s = await mysql.createConnection({ host: '127.0.0.1', port: slavePort, user: 'root' })
        await waitFor(
          async () => {
            const [rows] = await s.query('SELECT length(v) AS n FROM big')
            return (rows as Array<{ n: number }>)[0]?.n === value.length
          },
          { timeoutMs: 30_000, what: `the slave to apply the 20 MB entry ${offset}` },
        )
        await s.end()
      } else {
        // The master's own mariadbd refuses packets over its max_allowed_packet (16 MB): the client hears why.
        await expect(sent).rejects.toThrow(/max_allowed_packet|packet|connection/i)
      }
      // Everyone else is still served, and the next write works.
      const other = await mysql.createConnection({ host: '127.0.0.1', port: masterPort, user: 'root' })
      const [w] = (await other.query("INSERT INTO big (id, v) VALUES (2, 'small')")) as unknown as [
        { affectedRows: number },
      ]
      expect(w.affectedRows).toBe(1)
      await other.end()
      await c.end().catch(() => {})
      expect(master.proc.exitCode).toBeNull()
    })

    test('lying, oversized and half-sent packets close only their own connection', async () => {
      // A header that announces more bytes than the client sends, then a disconnect.
      const liar = await rawLogin(masterPort)
      liar.write(Buffer.from([0x00, 0x10, 0x00, 0x00, 0x03, 0x53, 0x45]))
      await Bun.sleep(50)
      liar.close()
      // A client that disconnects in the middle of its handshake response.
      const half = await rawConnect(masterPort)
      await half.next()
      half.write(Buffer.from([0x40, 0x00, 0x00, 0x01, 0x05, 0xa2]))
      half.close()
      // Before login, an announced length over 64 KiB is refused at once.
      const big = await rawConnect(masterPort)
      await big.next()
      big.write(Buffer.from([0xff, 0xff, 0xff, 0x01]))
      expect(errno(await big.next())).toBe(1153)
      await big.closed
      expect((await mariadbCli(masterPort, 'SELECT COUNT(*) FROM cli_t', ['-N'])).stdout).toBe('2\n')
      expect(master.proc.exitCode).toBeNull()
    })
  })
}
