import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { rowObjects } from '../src/entry.ts'
import { StoreError, UsageError } from '../src/errors.ts'
import { COLUMN_TYPE } from '../src/mysql-protocol.ts'
import { openStore } from '../src/store/open-store.ts'
import type { Store } from '../src/store/store.ts'
import { type Mariadb, startMariadb } from './support/mariadb.ts'
import { freePort, type TempDir, tempDir } from './support/util.ts'

/** How the contract suite gets a fresh, never used store of one kind. */
interface Fixture {
  setup(): Promise<void>
  teardown(): Promise<void>
  /** A URL nobody has opened yet (MySQL: a new database, and no `ddb` state database). */
  freshUrl(): Promise<string>
  /** The column definition of an auto-increment primary key. */
  autoId: string
}

function sqliteFixture(): Fixture {
  let dir: TempDir
  let n = 0
  return {
    setup: async () => {
      dir = await tempDir('ddb-store-contract-')
    },
    teardown: () => dir.remove(),
    freshUrl: async () => `sqlite:${dir.path}/store-${++n}.sqlite`,
    autoId: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  }
}

function mysqlFixture(server: { current?: Mariadb }): Fixture {
  let n = 0
  return {
    setup: async () => {
      server.current = await startMariadb()
    },
    teardown: async () => server.current?.stop(),
    freshUrl: async () => {
      await server.current!.query('DROP DATABASE IF EXISTS ddb')
      return server.current!.url(`app${++n}`)
    },
    autoId: 'INT PRIMARY KEY AUTO_INCREMENT',
  }
}

/** Every byte value, to prove BLOBs round-trip unchanged. */
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('base64')

for (const kind of ['sqlite', 'mysql'] as const) {
  describe(`Store contract (${kind})`, () => {
    const server: { current?: Mariadb } = {}
    const fx = kind === 'sqlite' ? sqliteFixture() : mysqlFixture(server)
    let store: Store

    beforeAll(() => fx.setup())
    afterAll(() => fx.teardown())
    beforeEach(async () => {
      store = await openStore(await fx.freshUrl())
    })
    afterEach(() => store.close())

    const createItems = () =>
      store.runAutocommit({
        db: null,
        sql: `CREATE TABLE items (id ${fx.autoId}, name VARCHAR(200), data BLOB)`,
        params: [],
      })
    const names = async () =>
      (await store.read(null, 'SELECT name FROM items ORDER BY id', [])).rows.map(([name]) => name)

    test('a fresh store has offset 0 and no log id', async () => {
      expect(store.kind).toBe(kind)
      expect(await store.readState()).toEqual({ offset: 0, logId: null, pending: null })
    })

    test('setState then commit is visible to readState', async () => {
      const txn = await store.begin()
      await txn.setState({ offset: 7, logId: 'log-a' })
      expect(await store.readState()).toEqual({ offset: 0, logId: null, pending: null })
      await txn.commit()
      expect(await store.readState()).toEqual({ offset: 7, logId: 'log-a', pending: null })
    })

    test('setState then rollback is not', async () => {
      const txn = await store.begin()
      await txn.setState({ offset: 3, logId: 'log-b' })
      await txn.rollback()
      expect(await store.readState()).toEqual({ offset: 0, logId: null, pending: null })
    })

    test('pending entries commit with the state and are replaced by the next state', async () => {
      const pending = JSON.stringify([{ offset: 5, sql: "it's \\ a ; test" }])
      const txn = await store.begin()
      await txn.setState({ offset: 5, logId: 'log-p', pending })
      await txn.commit()
      expect(await store.readState()).toEqual({ offset: 5, logId: 'log-p', pending })
      await store.writeState({ offset: 6, logId: 'log-p' })
      expect(await store.readState()).toEqual({ offset: 6, logId: 'log-p', pending: null })
    })

    test('runMany runs statements in order and writes the state with them', async () => {
      await createItems()
      const txn = await store.begin()
      const results = await txn.runMany(
        [
          { db: null, sql: "INSERT INTO items (id, name) VALUES (1, 'a -- not a comment')", params: [] },
          {
            db: null,
            sql: 'INSERT INTO items (id, name) VALUES (?, ?) -- trailing comment',
            params: [2, "b'; DROP TABLE items; --"],
          },
          { db: null, sql: 'UPDATE items SET name = name', params: [] },
        ],
        { offset: 9, logId: 'log-m' },
      )
      await txn.commit()
      expect(results.map((r) => r.affectedRows)).toEqual([1, 1, 2])
      expect(await store.readState()).toEqual({ offset: 9, logId: 'log-m', pending: null })
      const rows = rowObjects(await store.read(null, 'SELECT id, name FROM items ORDER BY id', []))
      expect(rows).toEqual([
        { id: 1, name: 'a -- not a comment' },
        { id: 2, name: "b'; DROP TABLE items; --" },
      ])
    })

    test('runMany rejects on a failing statement, and the transaction rolls back whole', async () => {
      await createItems()
      const txn = await store.begin()
      await expect(
        txn.runMany([
          { db: null, sql: "INSERT INTO items (id, name) VALUES (1, 'a')", params: [] },
          { db: null, sql: "INSERT INTO items (id, name) VALUES (1, 'dup')", params: [] },
        ]),
      ).rejects.toThrow(StoreError)
      await txn.rollback()
      expect((await store.read(null, 'SELECT COUNT(*) AS n FROM items', [])).rows).toEqual([[0]])
    })

    test('writeState outside a transaction is visible at once', async () => {
      await store.writeState({ offset: 12, logId: 'log-c' })
      expect(await store.readState()).toEqual({ offset: 12, logId: 'log-c', pending: null })
    })

    test('uncommitted data is invisible to read() and visible after commit', async () => {
      await createItems()
      const txn = await store.begin()
      await txn.run(null, "INSERT INTO items (name) VALUES ('a')", [])
      expect(await names()).toEqual([])
      await txn.commit()
      expect(await names()).toEqual(['a'])
    })

    test('rollbackTo undoes only what ran after the savepoint', async () => {
      await createItems()
      const txn = await store.begin()
      await txn.run(null, "INSERT INTO items (name) VALUES ('kept')", [])
      await txn.savepoint('client_1')
      await txn.run(null, "INSERT INTO items (name) VALUES ('undone')", [])
      await txn.rollbackTo('client_1')
      await txn.run(null, "INSERT INTO items (name) VALUES ('after')", [])
      await txn.commit()
      expect(await names()).toEqual(['kept', 'after'])
    })

    test('run() returns affectedRows and insertId', async () => {
      await createItems()
      const txn = await store.begin()
      expect(await txn.run(null, "INSERT INTO items (name) VALUES ('a')", [])).toEqual({ affectedRows: 1, insertId: 1 })
      expect(await txn.run(null, "INSERT INTO items (name) VALUES ('b'), ('c')", [])).toMatchObject({ affectedRows: 2 })
      expect((await txn.run(null, "UPDATE items SET name = 'x' WHERE id > 1", [])).affectedRows).toBe(2)
      // Rows matched, not rows changed: the same on both stores (mysql2 sets CLIENT_FOUND_ROWS).
      expect((await txn.run(null, "UPDATE items SET name = 'x' WHERE id > 1", [])).affectedRows).toBe(2)
      expect((await txn.run(null, 'DELETE FROM items WHERE id = 3', [])).affectedRows).toBe(1)
      expect((await txn.run(null, 'DELETE FROM items WHERE id = 99', [])).affectedRows).toBe(0)
      await txn.commit()
    })

    test('params bind numbers, tricky strings, null and bytes', async () => {
      await createItems()
      const tricky = `it's a "quote", a back\\slash\\, a ? and an emoji 😀`
      const txn = await store.begin()
      await txn.run(null, 'INSERT INTO items (id, name, data) VALUES (?, ?, ?)', [5, tricky, { $bytes: ALL_BYTES }])
      await txn.run(null, "INSERT INTO items (id, name, data) VALUES (?, 'literal ?', ?)", [6, null])
      await txn.commit()
      const rows = rowObjects(await store.read(null, 'SELECT id, name, data FROM items WHERE id >= ? ORDER BY id', [5]))
      expect(rows).toEqual([
        { id: 5, name: tricky, data: { $bytes: ALL_BYTES } },
        { id: 6, name: 'literal ?', data: null },
      ])
    })

    test('read() values are JSON-safe', async () => {
      await store.runAutocommit({
        db: null,
        sql: 'CREATE TABLE v (big BIGINT, small BIGINT, amount DECIMAL(10,2), at DATETIME(6), data BLOB)',
        params: [],
      })
      const txn = await store.begin()
      await txn.run(null, 'INSERT INTO v VALUES (?, ?, ?, ?, ?)', [
        '9007199254740993',
        42,
        '12.50',
        '2024-01-02 03:04:05.123456',
        { $bytes: 'AP8=' },
      ])
      await txn.commit()
      const result = await store.read(
        null,
        'SELECT big, small, amount, at, data, 9223372036854775807 AS lit FROM v',
        [],
      )
      expect(result.columns).toEqual(['big', 'small', 'amount', 'at', 'data', 'lit'])
      expect(rowObjects(result)).toEqual([
        {
          big: '9007199254740993',
          small: 42,
          amount: kind === 'mysql' ? '12.50' : 12.5, // MySQL DECIMAL stays exact; SQLite stores a REAL
          at: '2024-01-02 03:04:05.123456',
          data: { $bytes: 'AP8=' },
          lit: '9223372036854775807',
        },
      ])
      expect(JSON.parse(JSON.stringify(result.rows))).toEqual(result.rows)
    })

    test('read() of an empty result still names its columns, and gives their types', async () => {
      await createItems()
      const result = await store.read(null, 'SELECT name, data FROM items', [])
      expect(result).toMatchObject({ columns: ['name', 'data'], rows: [] })
      expect(result.columnTypes?.map((t) => t?.type)).toEqual([COLUMN_TYPE.VAR_STRING, COLUMN_TYPE.BLOB])
    })

    test('begin() serializes: a second caller waits for the first to finish', async () => {
      await createItems()
      const first = await store.begin()
      let secondStarted = false
      const second = store.begin().then((txn) => {
        secondStarted = true
        return txn
      })
      const autocommit = store.runAutocommit({ db: null, sql: "INSERT INTO items (name) VALUES ('auto')", params: [] })
      await Bun.sleep(100)
      expect(secondStarted).toBe(false)
      await first.run(null, "INSERT INTO items (name) VALUES ('first')", [])
      await first.commit()
      const txn = await second
      await txn.run(null, "INSERT INTO items (name) VALUES ('second')", [])
      await txn.commit()
      await autocommit
      expect(await names()).toEqual(['first', 'second', 'auto'])
    })

    test('a syntax error rejects with StoreError and the transaction can still roll back', async () => {
      const txn = await store.begin()
      await txn.setState({ offset: 1, logId: 'x' })
      const err = await txn.run(null, 'SELEC 1', []).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StoreError)
      expect((err as StoreError).storeCode).toBe(kind === 'mysql' ? 1064 : 'SQLITE_ERROR')
      expect((err as StoreError).rejectedByServer).toBe(true)
      await txn.rollback()
      await txn.rollback()
      expect(await store.readState()).toEqual({ offset: 0, logId: null, pending: null })
      const next = await store.begin()
      await next.rollback()
    })

    test('a finished transaction refuses further statements', async () => {
      const txn = await store.begin()
      await txn.commit()
      await expect(txn.run(null, 'SELECT 1', [])).rejects.toBeInstanceOf(StoreError)
    })

    test('close() twice is fine, and a closed store refuses work', async () => {
      await store.close()
      await store.close()
      await expect(store.begin()).rejects.toBeInstanceOf(StoreError)
      await expect(store.read(null, 'SELECT 1', [])).rejects.toBeInstanceOf(StoreError)
    })

    test('runAutocommit runs DDL outside any transaction', async () => {
      await createItems()
      await store.runAutocommit({ db: null, sql: 'CREATE TABLE later (id INT)', params: [] })
      expect((await store.read(null, 'SELECT COUNT(*) AS n FROM later', [])).rows).toEqual([[0]])
    })

    if (kind === 'mysql') {
      test('run() in another database switches to it, and back', async () => {
        await server.current!.query('CREATE DATABASE IF NOT EXISTS `other`')
        await store.runAutocommit({ db: 'other', sql: 'CREATE TABLE IF NOT EXISTS elsewhere (v INT)', params: [] })
        await createItems()
        const txn = await store.begin()
        await txn.run('other', 'INSERT INTO elsewhere VALUES (1)', [])
        await txn.run(null, "INSERT INTO items (name) VALUES ('home')", [])
        await txn.run(null, 'USE `other`', []) // tracked from the server's session-state report
        await txn.run(null, "INSERT INTO items (name) VALUES ('home again')", [])
        await txn.commit()
        expect((await store.read('other', 'SELECT v FROM elsewhere', [])).rows).toEqual([[1]])
        expect(await names()).toEqual(['home', 'home again'])
        expect(await server.current!.query('SELECT v FROM other.elsewhere')).toEqual([{ v: 1 }])
      })

      test('runManyAndCommit commits in one go when each statement affected the rows expected of it', async () => {
        await createItems()
        const txn = await store.begin()
        const results = await txn.runManyAndCommit!(
          [
            { db: null, sql: "INSERT INTO items (id, name) VALUES (1, 'a'), (2, 'b')", params: [] },
            { db: null, sql: 'UPDATE items SET name = name WHERE id = 1', params: [] },
            { db: null, sql: 'SELECT 1', params: [] },
          ],
          [2, 1, null],
          { offset: 4, logId: 'log-g' },
        )
        expect(results.map((r) => r.affectedRows)).toEqual([2, 1, 0])
        expect(await store.readState()).toEqual({ offset: 4, logId: 'log-g', pending: null })
        expect(await names()).toEqual(['a', 'b'])
        await txn.rollback() // already finished: a no-op
      })

      test('runManyAndCommit commits nothing when a statement affected other rows than expected', async () => {
        await createItems()
        const txn = await store.begin()
        const err = await txn.runManyAndCommit!(
          [
            { db: null, sql: "INSERT INTO items (id, name) VALUES (1, 'a')", params: [] },
            { db: null, sql: 'DELETE FROM items WHERE id = 2', params: [] },
          ],
          [1, 1],
          { offset: 5, logId: 'log-g' },
        ).catch((e: unknown) => e)
        expect(err).toBeInstanceOf(StoreError)
        expect((err as StoreError).rejectedByServer).toBe(true)
        await txn.rollback()
        expect(await names()).toEqual([])
        expect((await store.readState()).offset).toBe(0)
      })

      test("client transactions reuse a finished one's connection, but not a broken one", async () => {
        await createItems()
        const connectionOf = async (tx: Awaited<ReturnType<Store['beginClientTransaction']>>) =>
          Number((await tx.read(null, 'SELECT CONNECTION_ID() AS id', [])).rows[0]![0])
        const first = await store.beginClientTransaction()
        const id = await connectionOf(first)
        await first.run(null, "INSERT INTO items (name) VALUES ('one')", [])
        await first.commit()
        const second = await store.beginClientTransaction()
        expect(await connectionOf(second)).toBe(id)
        await second.rollback()
        const third = await store.beginClientTransaction()
        expect(await connectionOf(third)).toBe(id)
        await server.current!.query(`KILL ${id}`)
        expect(
          await third.run(null, "INSERT INTO items (name) VALUES ('lost')", []).catch((e: unknown) => e),
        ).toBeInstanceOf(StoreError)
        await third.rollback()
        const fourth = await store.beginClientTransaction()
        expect(await connectionOf(fourth)).not.toBe(id)
        await fourth.run(null, "INSERT INTO items (name) VALUES ('four')", [])
        await fourth.commit()
        expect(await names()).toEqual(['one', 'four'])
      })

      test("a client transaction on a reused connection reads the current time, not the last one's pinned clock", async () => {
        await createItems()
        const first = await store.beginClientTransaction()
        await first.runMany([
          { db: null, sql: "INSERT INTO items (name) VALUES ('old')", params: [], ts: Date.UTC(2001, 0, 1) },
        ])
        await first.commit()
        const second = await store.beginClientTransaction()
        const [[year]] = (await second.read(null, 'SELECT YEAR(NOW()) AS y', [])).rows as [[number]]
        expect(Number(year)).toBe(new Date().getUTCFullYear())
        await second.rollback()
      })

      test('a transaction on a killed connection rejects; the next begin() reconnects', async () => {
        await createItems()
        const txn = await store.begin()
        await txn.run(null, "INSERT INTO items (name) VALUES ('lost')", [])
        const others = await server.current!.query(
          "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'root' AND ID <> CONNECTION_ID()",
        )
        for (const { ID } of others) await server.current!.query(`KILL ${ID}`)
        const err = await txn.run(null, "INSERT INTO items (name) VALUES ('x')", []).catch((e: unknown) => e)
        expect(err).toBeInstanceOf(StoreError)
        expect((err as StoreError).rejectedByServer).toBe(false)
        await txn.rollback()
        const next = await store.begin()
        await next.run(null, "INSERT INTO items (name) VALUES ('kept')", [])
        await next.commit()
        expect(await server.current!.query(`SELECT name FROM ${store.defaultDb}.items`)).toEqual([{ name: 'kept' }])
      })

      test('displayUrl masks the password', async () => {
        const port = await freePort()
        const err = await openStore(`mysql://root:secret@127.0.0.1:${port}/app`).catch((e: unknown) => e)
        expect((err as Error).message).toBe(`connect mysql://root:***@127.0.0.1:${port}/app: connection refused`)
      })
    }
  })
}

describe('openStore', () => {
  test.each([
    'x',
    'sqlite:',
    'postgres://root@localhost/app',
    'mysql://root@localhost',
    'mysql://root@localhost/',
    'mysql://root@localhost:notaport/app',
    'mysql://root@localhost/app/more',
    'mysql://root@localhost/app?sock=/tmp/x.sock',
    'mysql://root@localhost/app?socket=',
    'mysql://root@localhost/app?socket=/a&socket=/b',
  ])('refuses %p with UsageError', async (url) => {
    const err = await openStore(url).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UsageError)
    expect((err as Error).message).toStartWith(`invalid --db URL "${url}": expected sqlite:<file> or mysql://`)
  })

  test('a bad URL is reported without its password', async () => {
    const err = await openStore('mysql://root:secret@localhost:nope/app').catch((e: unknown) => e)
    expect((err as Error).message).toStartWith('invalid --db URL "mysql://root:***@localhost:nope/app"')
  })

  test('MySQL at a closed port fails quickly with StoreError', async () => {
    const port = await freePort()
    const started = Date.now()
    const err = await openStore(`mysql://root@127.0.0.1:${port}/app`).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StoreError)
    expect((err as StoreError).message).toBe(`connect mysql://root@127.0.0.1:${port}/app: connection refused`)
    expect((err as StoreError).hint).toBeString()
    expect(Date.now() - started).toBeLessThan(3_000)
  })

  test('MySQL at a missing Unix socket (?socket=) fails with StoreError naming it', async () => {
    const err = await openStore('mysql://root@localhost/app?socket=/nonexistent-ddb-dir/mysqld.sock').catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(StoreError)
    expect((err as StoreError).message).toBe(
      'connect mysql://root@localhost:3306/app?socket=/nonexistent-ddb-dir/mysqld.sock: no such socket',
    )
    expect((err as StoreError).hint).toContain('names its socket')
  })

  test('SQLite in a missing directory fails with StoreError', async () => {
    const err = await openStore('sqlite:/nonexistent-ddb-dir/x.sqlite').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StoreError)
    expect((err as Error).message).toStartWith('open sqlite:/nonexistent-ddb-dir/x.sqlite: ')
  })
})
