/**
 * All 256 byte values into a BLOB through ddb's MySQL port, four ways a client
 * sends bytes, read back byte for byte on the master and on the slave (text and
 * binary protocol, and HEX()):
 *
 * - a raw string literal in COM_QUERY, escaped as mysqldump writes it (bytes
 *   0x80…0xff as themselves, so the query text is not valid UTF-8), after
 *   `SET NAMES utf8mb4` as a dump file says;
 * - the same literal with the `_binary` introducer;
 * - a hex literal, X'…' and 0x…;
 * - a bound parameter of a prepared statement (mysql2 `execute`).
 *
 * The same against a plain mariadbd proves the harness.
 */
import { expect, test } from 'bun:test'
import type mysql from 'mysql2/promise'
import {
  ALL_BYTES,
  connect,
  describeTarget,
  escapeMysqlBytes,
  type Target,
  type TargetKind,
  TEST_TIMEOUT_MS,
} from './support.ts'

const TABLE = 'CREATE TABLE blobs (id INT PRIMARY KEY, how VARCHAR(40), b BLOB)'

/** What one row reads back as, every way: each must be the 256 bytes. */
interface Readback {
  text: string | null
  binary: string | null
  hex: string | null
  length: number | null
}

const WANT: Readback = {
  text: ALL_BYTES.toString('hex'),
  binary: ALL_BYTES.toString('hex'),
  hex: ALL_BYTES.toString('hex').toUpperCase(),
  length: 256,
}

const hexOf = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v === null ? null : `not bytes: ${String(v)}`)

/** Reads row `id` on a MySQL port: `b` over the text and the binary protocol, HEX(b) and LENGTH(b). */
async function readBack(port: number, id: number): Promise<Readback> {
  const c = await connect(port)
  try {
    const [text] = (await c.query('SELECT b, HEX(b) AS h, LENGTH(b) AS n FROM blobs WHERE id = ?', [id])) as any
    const [binary] = (await c.execute('SELECT b FROM blobs WHERE id = ?', [id])) as any
    const row = text[0]
    return {
      text: row ? hexOf(row.b) : null,
      binary: binary[0] ? hexOf(binary[0].b) : null,
      hex: row ? String(row.h) : null,
      length: row ? Number(row.n) : null,
    }
  } finally {
    await c.end()
  }
}

/** One way of writing the bytes: the connection it needs and the statement it sends. */
interface Method {
  id: number
  how: string
  write(target: Target): Promise<unknown>
}

/** mysql2's charset number for `binary`. */
const BINARY_CHARSET = 63

/**
 * A connection whose query text is sent byte for byte (mysql2 encodes a query in the
 * connection's charset: binary maps each char 0…255 to that byte), switched to utf8mb4
 * with `SET NAMES utf8mb4` as a mysqldump file is before its INSERTs. mysql2 follows
 * the server's session-state report of that SET and would encode later queries as
 * UTF-8, so the encoding is pinned back to binary: the bytes go out as they are, as the
 * mariadb CLI sends a dump file's.
 */
async function rawBytesConnection(target: Target): Promise<mysql.Connection> {
  const c = await connect(target.port, { charset: 'BINARY' })
  await c.query('SET NAMES utf8mb4')
  ;(c as any).connection.config.charsetNumber = BINARY_CHARSET
  return c
}

async function withConnection<T>(open: Promise<mysql.Connection>, fn: (c: mysql.Connection) => Promise<T>) {
  const c = await open
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}

const METHODS: Method[] = [
  {
    id: 1,
    how: 'raw string literal (mysqldump escaping)',
    write: (t) =>
      withConnection(rawBytesConnection(t), (c) =>
        c.query(`INSERT INTO blobs VALUES (1, 'raw', '${escapeMysqlBytes(ALL_BYTES)}')`),
      ),
  },
  {
    id: 2,
    how: "_binary'…' literal",
    write: (t) =>
      withConnection(rawBytesConnection(t), (c) =>
        c.query(`INSERT INTO blobs VALUES (2, '_binary', _binary'${escapeMysqlBytes(ALL_BYTES)}')`),
      ),
  },
  {
    id: 3,
    how: "hex literal X'…'",
    write: (t) =>
      withConnection(connect(t.port), (c) =>
        c.query(`INSERT INTO blobs VALUES (3, 'X hex', X'${ALL_BYTES.toString('hex')}')`),
      ),
  },
  {
    id: 4,
    how: 'hex literal 0x…',
    write: (t) =>
      withConnection(connect(t.port), (c) =>
        c.query(`INSERT INTO blobs VALUES (4, '0x hex', 0x${ALL_BYTES.toString('hex')})`),
      ),
  },
  {
    id: 5,
    how: 'prepared statement parameter (mysql2 execute)',
    write: (t) =>
      withConnection(connect(t.port), (c) =>
        c.execute('INSERT INTO blobs VALUES (?, ?, ?)', [5, 'prepared', ALL_BYTES]),
      ),
  },
]

const TARGETS: readonly TargetKind[] = ['mariadb', 'ddb-mysql', 'ddb-sqlite']

for (const kind of TARGETS) {
  describeTarget(kind, 'all 256 byte values in a BLOB', (target) => {
    test(
      'the table is created',
      async () => {
        await withConnection(connect(target().port), (c) => c.query(TABLE))
      },
      TEST_TIMEOUT_MS,
    )

    for (const method of METHODS) {
      test(
        `${method.how}: read back byte for byte on the master and the slave`,
        async () => {
          const t = target()
          await method.write(t).catch((err) => {
            throw new Error(`${method.how}: the INSERT failed on ${t.name}: ${err.code} ${err.errno}: ${err.message}`)
          })
          expect(await readBack(t.port, method.id), `${method.how}, read on ${t.name}'s master`).toEqual(WANT)
          if (t.slavePort === undefined) return
          await t.expectReplicated()
          expect(await readBack(t.slavePort, method.id), `${method.how}, read on ${t.name}'s slave`).toEqual(WANT)
        },
        TEST_TIMEOUT_MS,
      )
    }
  })
}
