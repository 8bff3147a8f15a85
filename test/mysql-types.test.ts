import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import mysql from 'mysql2/promise'
import { COLUMN_CHARSET, COLUMN_FLAG, COLUMN_TYPE } from '../src/mysql-protocol.ts'
import { columnTypeOf } from '../src/store/mysql-session.ts'
import { sqliteColumnType } from '../src/store/sqlite-types.ts'
import { decodeMessage } from '../src/wire/decode.ts'
import { type Cluster, withCluster } from './support/cluster.ts'
import { mariadbCli } from './support/mysql-client.ts'

/** What a client learns about a column from its definition packet. */
const metadataOf = (fields: mysql.FieldPacket[]) =>
  fields.map((f) => ({
    name: f.name,
    columnType: f.columnType,
    flags: f.flags,
    decimals: f.decimals,
    columnLength: f.columnLength,
    binary: f.characterSet === COLUMN_CHARSET.BINARY,
  }))

describe('sqliteColumnType', () => {
  const T = COLUMN_TYPE
  test.each([
    ['INTEGER', T.LONGLONG],
    ['BIGINT UNSIGNED', T.LONGLONG],
    ['TINYINT(1)', T.LONGLONG],
    ['VARCHAR(20)', T.VAR_STRING],
    ['TEXT', T.VAR_STRING],
    ['CLOB', T.VAR_STRING],
    ['BLOB', T.BLOB],
    ['REAL', T.DOUBLE],
    ['FLOAT', T.DOUBLE],
    ['DOUBLE PRECISION', T.DOUBLE],
    ['DECIMAL(10,2)', T.NEWDECIMAL],
    ['NUMERIC', T.NEWDECIMAL],
    ['BOOLEAN', T.TINY],
    ['DATE', T.DATE],
    ['datetime', T.DATETIME],
    ['DATETIME(3)', T.DATETIME],
    ['TIMESTAMP', T.TIMESTAMP],
    ['TIME', T.TIME],
  ])('%s → type %p', (declared, type) => {
    expect(sqliteColumnType(declared)?.type).toBe(type)
  })

  test.each([[null], [''], ['JSON'], ['MONEY']])('%p: unknown, so the values decide', (declared) => {
    expect(sqliteColumnType(declared)).toBeNull()
  })

  test('lengths, scales and charsets follow the declaration', () => {
    expect(sqliteColumnType('VARCHAR(20)')).toMatchObject({ length: 80, charset: COLUMN_CHARSET.UTF8MB4 })
    expect(sqliteColumnType('DECIMAL(10,2)')).toMatchObject({ length: 12, decimals: 2, charset: COLUMN_CHARSET.BINARY })
    expect(sqliteColumnType('DATETIME(3)')).toMatchObject({ length: 23, decimals: 3 })
    expect(sqliteColumnType('BLOB')).toMatchObject({
      charset: COLUMN_CHARSET.BINARY,
      flags: COLUMN_FLAG.BLOB | COLUMN_FLAG.BINARY,
    })
  })
})

describe('columnTypeOf', () => {
  test('copies the driver field metadata', () => {
    const field = {
      name: 'u',
      columnType: COLUMN_TYPE.LONGLONG,
      columnLength: 20,
      decimals: 0,
      flags: COLUMN_FLAG.UNSIGNED | COLUMN_FLAG.NUM,
      characterSet: 63,
    }
    expect(columnTypeOf(field)).toEqual({
      type: COLUMN_TYPE.LONGLONG,
      length: 20,
      decimals: 0,
      flags: 0x8020,
      charset: 63,
    })
  })
})

describe('decodeMessage: a read result may carry columnTypes', () => {
  const result = (columnTypes: unknown) => ({
    type: 'result',
    id: 1,
    result: [{ kind: 'read', columns: ['a', 'b'], rows: [], columnTypes }],
  })
  test('absent, or one per column (null: unknown)', () => {
    expect(() => decodeMessage(result(undefined))).not.toThrow()
    expect(() =>
      decodeMessage(result([{ type: 8, length: 20, decimals: 0, flags: 0, charset: 63 }, null])),
    ).not.toThrow()
  })
  test('a malformed one is refused, naming the field', () => {
    expect(() => decodeMessage(result([{ type: 'INT' }]))).toThrow(
      'field result[0].columnTypes[0].type must be a non-negative integer',
    )
  })
})

describe('result column types over the MySQL protocol, MySQL store', () => {
  let cluster: Cluster
  let ddbPort: number
  let storePort: number

  beforeAll(async () => {
    cluster = await withCluster({ store: 'mysql', slaves: 0, mysql: true })
    storePort = Number(new URL(cluster.masterStore).port)
    ddbPort = await cluster.mysqlPort(cluster.master)
    const c = await mysql.createConnection({ host: '127.0.0.1', port: ddbPort, user: 'root', database: 'app' })
    try {
      await c.query(`CREATE TABLE types_t (
        id INT PRIMARY KEY, i INT, ti TINYINT, si SMALLINT, mi MEDIUMINT, u BIGINT UNSIGNED, d DECIMAL(10,2), f DOUBLE,
        fl FLOAT, v VARCHAR(20), t TEXT, dt DATE, dtm DATETIME(6), ts TIMESTAMP NULL DEFAULT NULL, tm TIME(6), y YEAR, b BLOB)`)
      await c.query(`INSERT INTO types_t VALUES
        (1, -5, -128, -300, 70000, 18446744073709551615, 12.34, 1.5, 0.1, 'héllo', 'long text ✓', '2024-02-29',
         '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15', '-838:59:59.000000', 2024, X'00ff10'),
        (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (3, 0, 0, 0, 0, 0, -0.5, -2.25e300, 0, '', '', '1999-12-31', '1999-12-31 00:00:00', '2000-01-01 00:00:00', '00:00:01.5', 1999, X'')`)
    } finally {
      await c.end()
    }
  })

  afterAll(async () => {
    await cluster?.[Symbol.asyncDispose]()
  })

  /** Runs `fn` on a mysql2 connection to ddb and one to the backing mariadbd, with the same options. */
  async function both<T>(
    options: Partial<mysql.ConnectionOptions>,
    fn: (c: mysql.Connection) => Promise<T>,
  ): Promise<[T, T]> {
    const open = (port: number) =>
      mysql.createConnection({ host: '127.0.0.1', port, user: 'root', database: 'app', ...options })
    const [viaDdb, direct] = await Promise.all([open(ddbPort), open(storePort)])
    try {
      return [await fn(viaDdb), await fn(direct)]
    } finally {
      await Promise.all([viaDdb.end(), direct.end()])
    }
  }

  test.each([
    ['default options', {}],
    [
      'dateStrings, supportBigNumbers, decimalNumbers',
      { dateStrings: true, supportBigNumbers: true, bigNumberStrings: true, decimalNumbers: true },
    ],
  ])('query(): the values and column types equal what mariadbd sends (%s)', async (_name, options) => {
    const [viaDdb, direct] = await both(options, (c) => c.query('SELECT * FROM types_t ORDER BY id'))
    expect(viaDdb[0]).toEqual(direct[0])
    expect(metadataOf(viaDdb[1])).toEqual(metadataOf(direct[1]))
    const [row] = viaDdb[0] as Array<Record<string, unknown>>
    if (!('dateStrings' in options)) {
      expect(row!.dtm).toBeInstanceOf(Date)
      expect(row!.d).toBe('12.34')
    }
    expect(row!.b).toEqual(Buffer.from([0, 0xff, 0x10]))
  })

  test.each([
    ['default options', {}],
    [
      'dateStrings, supportBigNumbers, decimalNumbers',
      { dateStrings: true, supportBigNumbers: true, bigNumberStrings: true, decimalNumbers: true },
    ],
  ])('execute(): the binary rows decode as from mariadbd (%s)', async (_name, options) => {
    const [viaDdb, direct] = await both(options, (c) =>
      c.execute('SELECT * FROM types_t WHERE id >= ? ORDER BY id', [0]),
    )
    expect(viaDdb[0]).toEqual(direct[0])
    expect(metadataOf(viaDdb[1])).toEqual(metadataOf(direct[1]))
  })

  test('reads inside a client transaction carry the types too', async () => {
    const [viaDdb, direct] = await both({}, async (c) => {
      await c.query('BEGIN')
      try {
        return await c.query('SELECT id, u, d, dtm, ts, b FROM types_t ORDER BY id')
      } finally {
        await c.query('COMMIT')
      }
    })
    expect(viaDdb[0]).toEqual(direct[0])
    expect(metadataOf(viaDdb[1])).toEqual(metadataOf(direct[1]))
  })

  test("expressions keep the server's types too", async () => {
    const sql =
      "SELECT COUNT(*) AS n, SUM(d) AS s, MAX(dtm) AS m, CAST('2020-01-02' AS DATE) AS c, 1.5 AS lit, NULL AS z FROM types_t"
    for (const run of [(c: mysql.Connection) => c.query(sql), (c: mysql.Connection) => c.execute(sql)]) {
      const [viaDdb, direct] = await both({}, run)
      expect(viaDdb[0]).toEqual(direct[0])
      expect(metadataOf(viaDdb[1])).toEqual(metadataOf(direct[1]))
    }
  })

  test('the mariadb CLI prints the table as mariadbd does', async () => {
    const [viaDdb, direct] = await Promise.all(
      [ddbPort, storePort].map((port) => mariadbCli(port, 'SELECT * FROM types_t ORDER BY id', ['-D', 'app'])),
    )
    expect(viaDdb!.stderr).toBe('')
    expect(viaDdb!.code).toBe(0)
    expect(viaDdb!.stdout).toBe(direct!.stdout)
    const table = await mariadbCli(ddbPort, 'SELECT id, d, dtm, b FROM types_t ORDER BY id', ['-D', 'app', '--table'])
    expect(table.stderr).toBe('')
    expect(table.stdout).toContain('2024-02-29 13:14:15.123456')
  })
})

describe('result column types over the MySQL protocol, SQLite store', () => {
  let cluster: Cluster
  let port: number

  beforeAll(async () => {
    cluster = await withCluster({ store: 'sqlite', slaves: 0, mysql: true })
    port = await cluster.mysqlPort(cluster.master)
    // Made through ddb's own port, in SQLite's dialect (an untyped column, a date column holding text),
    // to see what the MySQL port reports for what a SQLite table can hold.
    const c = await cluster.master.client()
    await c.query(`CREATE TABLE s_t (id INTEGER PRIMARY KEY, n INTEGER, r REAL, t TEXT, b BLOB, dt DATETIME, d DATE,
      dec DECIMAL(10,2), odd DATETIME, untyped)`)
    await c.query(`INSERT INTO s_t VALUES
      (1, 42, 2.5, 'txt', X'00ff', '2024-02-29 13:14:15', '2024-02-29', 12.5, 'not a date', 7),
      (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`)
    c.close()
  })

  afterAll(async () => {
    await cluster?.[Symbol.asyncDispose]()
  })

  const expected = [
    {
      id: 1,
      n: 42,
      r: 2.5,
      t: 'txt',
      b: Buffer.from([0, 0xff]),
      dt: new Date(2024, 1, 29, 13, 14, 15),
      d: new Date(2024, 1, 29),
      dec: '12.50', // DECIMAL(10,2): written with its scale, as MySQL writes it
      odd: 'not a date',
      untyped: 7,
      n1: 43,
    },
    { id: 2, n: null, r: null, t: null, b: null, dt: null, d: null, dec: null, odd: null, untyped: null, n1: null },
  ]
  const sql = 'SELECT s_t.*, n + 1 AS n1 FROM s_t WHERE id >= ? ORDER BY id'

  test('query(): numbers as numbers, BLOB as a Buffer, a declared DATETIME as a Date', async () => {
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })
    try {
      const [rows, fields] = await c.query(sql, [0])
      expect(rows as unknown).toEqual(expected)
      const types = Object.fromEntries(fields.map((f) => [f.name, f.columnType]))
      expect(types).toMatchObject({
        id: COLUMN_TYPE.LONGLONG,
        r: COLUMN_TYPE.DOUBLE,
        b: COLUMN_TYPE.BLOB,
        dt: COLUMN_TYPE.DATETIME,
        odd: COLUMN_TYPE.VAR_STRING,
      })
    } finally {
      await c.end()
    }
  })

  test('execute(): the same values through the binary protocol', async () => {
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })
    try {
      const [rows] = await c.execute(sql, [0])
      expect(rows as unknown).toEqual(expected)
    } finally {
      await c.end()
    }
  })

  test('the mariadb CLI prints the table', async () => {
    const r = await mariadbCli(port, 'SELECT * FROM s_t ORDER BY id', ['-N'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const first = r.stdout.split('\n')[0]!.split('\t')
    expect(first.slice(0, 4)).toEqual(['1', '42', '2.5', 'txt'])
    expect(first.slice(5)).toEqual(['2024-02-29 13:14:15', '2024-02-29', '12.50', 'not a date', '7'])
  })
})
