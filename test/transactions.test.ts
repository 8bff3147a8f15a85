import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { BACKEND_KINDS } from './support/backends.ts'
import { type Cluster, withCluster } from './support/cluster.ts'
import { masterOffset, tailLog } from './support/compare.ts'
import { type DdbNode, rowsOf, waitApplied } from './support/ddb.ts'
import { waitFor } from './support/util.ts'

for (const kind of BACKEND_KINDS) {
  describe(`transactions on ${kind} stores`, () => {
    let cluster: Cluster
    let master: DdbNode
    let slave: DdbNode
    let log: string
    beforeAll(async () => {
      cluster = await withCluster({ store: kind })
      ;({ master, slave, log } = cluster)
      const c = await master.client()
      await c.query('CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)')
      await c.query('INSERT INTO acct (id, balance) VALUES (1, 100), (2, 100)')
      await c.query('CREATE TABLE other (id INTEGER PRIMARY KEY)')
      c.close()
    })
    afterAll(async () => {
      await cluster?.[Symbol.asyncDispose]()
    })

    test('BEGIN … COMMIT becomes one entry, applied whole on the slave', async () => {
      const c = await master.client()
      await c.query('BEGIN')
      await c.query('UPDATE acct SET balance = balance - 30 WHERE id = 1')
      await c.query('UPDATE acct SET balance = balance + 30 WHERE id = 2')
      expect(rowsOf(await c.query('SELECT id, balance FROM acct ORDER BY id'))).toEqual([
        { id: 1, balance: 70 },
        { id: 2, balance: 130 },
      ])
      const [commit] = await c.query('COMMIT')
      expect(commit).toMatchObject({ kind: 'write', affectedRows: 2 })
      const offset = commit?.kind === 'write' ? commit.offset : 0
      const [entry] = await tailLog(log, '--from', String(offset))
      expect(entry!.statements.map((s) => s.sql)).toEqual([
        'UPDATE acct SET balance = balance - 30 WHERE id = 1',
        'UPDATE acct SET balance = balance + 30 WHERE id = 2',
      ])
      await waitApplied(slave, offset)
      const s = await slave.client()
      expect(rowsOf(await s.query('SELECT id, balance FROM acct ORDER BY id'))).toEqual([
        { id: 1, balance: 70 },
        { id: 2, balance: 130 },
      ])
      c.close()
      s.close()
    })

    test('each statement of a transaction runs at its own time, on the master and on the slave', async () => {
      const c = await master.client()
      await c.query(
        kind === 'mysql'
          ? 'CREATE TABLE clock (id INTEGER PRIMARY KEY, at DATETIME)'
          : 'CREATE TABLE clock (id INTEGER PRIMARY KEY, at TEXT)',
      )
      const now = kind === 'mysql' ? 'NOW()' : "datetime('now')"
      await c.query('BEGIN')
      await c.query(`INSERT INTO clock (id, at) VALUES (1, ${now})`)
      await Bun.sleep(1_100)
      await c.query(`INSERT INTO clock (id, at) VALUES (2, ${now})`)
      const [commit] = await c.query('COMMIT')
      const rows = rowsOf(await c.query('SELECT id, at FROM clock ORDER BY id'))
      expect(rows[0]!.at).not.toEqual(rows[1]!.at) // a second apart, as in MySQL: the clock is not pinned at BEGIN
      await waitApplied(slave, commit?.kind === 'write' ? commit.offset : 0)
      const s = await slave.client()
      expect(rowsOf(await s.query('SELECT id, at FROM clock ORDER BY id'))).toEqual(rows)
      c.close()
      s.close()
    })

    test('ROLLBACK logs nothing, and others never see the rolled-back writes', async () => {
      const before = await masterOffset(master)
      const c = await master.client()
      const other = await master.client()
      await c.query('BEGIN')
      await c.query('INSERT INTO acct (id, balance) VALUES (3, 1)')
      expect(rowsOf(await c.query('SELECT COUNT(*) AS n FROM acct'))).toEqual([{ n: 3 }])
      expect(rowsOf(await other.query('SELECT COUNT(*) AS n FROM acct'))).toEqual([{ n: 2 }])
      await c.query('ROLLBACK')
      expect(rowsOf(await other.query('SELECT COUNT(*) AS n FROM acct'))).toEqual([{ n: 2 }])
      expect(await masterOffset(master)).toBe(before)
      c.close()
      other.close()
    })

    test('a client that disconnects mid-transaction rolls back', async () => {
      const before = await masterOffset(master)
      const c = await master.client()
      await c.query('BEGIN')
      await c.query('INSERT INTO acct (id, balance) VALUES (4, 1)')
      c.close()
      const other = await master.client()
      // SQLite: the transaction held the single writer; once rolled back, writes flow again.
      await waitFor(async () => rowsOf(await other.query('SELECT COUNT(*) AS n FROM acct WHERE id = 4'))[0]?.n === 0, {
        timeoutMs: 5_000,
        what: 'the rollback',
      })
      const [w] = await other.query('INSERT INTO other (id) VALUES (1)')
      expect(w?.kind === 'write' && w.offset).toBe(before + 1)
      other.close()
    })

    test('a transaction does not block other clients beyond what the store locks', async () => {
      const c = await master.client()
      const other = await master.client()
      await c.query('BEGIN')
      await c.query('UPDATE acct SET balance = balance + 1 WHERE id = 1')
      const write = other.query('INSERT INTO other (id) VALUES (2)')
      if (kind === 'mysql') {
        // A different table: InnoDB holds no lock it needs, so it commits while the transaction is open.
        const [w] = await write
        expect(w?.kind).toBe('write')
        await c.query('COMMIT')
      } else {
        // SQLite locks the whole database for a write transaction: the write waits for COMMIT.
        const raced = await Promise.race([write.then(() => 'written'), Bun.sleep(300).then(() => 'waiting')])
        expect(raced).toBe('waiting')
        await c.query('COMMIT')
        expect((await write)[0]?.kind).toBe('write')
      }
      const offset = await masterOffset(master)
      await waitApplied(slave, offset)
      const s = await slave.client()
      expect(rowsOf(await s.query('SELECT id, balance FROM acct ORDER BY id'))).toEqual(
        rowsOf(await other.query('SELECT id, balance FROM acct ORDER BY id')),
      )
      c.close()
      other.close()
      s.close()
    })

    test('conflicting transactions replay in commit order', async () => {
      const t1 = await master.client()
      const t2 = await master.client()
      await t1.query('BEGIN')
      await t1.query('UPDATE acct SET balance = balance * 2 WHERE id = 2')
      await t2.query('BEGIN')
      // t2 waits for t1's row lock (MySQL) or for the single writer (SQLite); it commits second.
      const second = (async () => {
        await t2.query('UPDATE acct SET balance = balance + 5 WHERE id = 2')
        return t2.query('COMMIT')
      })()
      await Bun.sleep(100)
      const [first] = await t1.query('COMMIT')
      const [last] = await second
      expect(first?.kind === 'write' && last?.kind === 'write' && last.offset > first.offset).toBe(true)
      await waitApplied(slave, last?.kind === 'write' ? last.offset : 0)
      const s = await slave.client()
      expect(rowsOf(await s.query('SELECT balance FROM acct WHERE id = 2'))).toEqual(
        rowsOf(await t1.query('SELECT balance FROM acct WHERE id = 2')),
      )
      t1.close()
      t2.close()
      s.close()
    })

    test('as in MySQL, USE works inside a transaction and DDL commits it first: two entries, in order', async () => {
      const c = await master.client()
      await c.query('BEGIN')
      if (kind === 'mysql') {
        await c.query('CREATE DATABASE IF NOT EXISTS side')
        await c.query('BEGIN')
        await c.query('INSERT INTO other (id) VALUES (100)')
        await c.query('USE side')
        const [ddl] = await c.query('CREATE TABLE x (id INT PRIMARY KEY)')
        const offset = ddl?.kind === 'write' ? ddl.offset : 0
        const [transaction, create] = await tailLog(log, '--from', String(offset - 1))
        expect(transaction!.statements.map((s) => s.sql)).toEqual(['INSERT INTO other (id) VALUES (100)'])
        expect(create).toMatchObject({
          offset,
          db: 'side',
          statements: [{ sql: 'CREATE TABLE x (id INT PRIMARY KEY)' }],
        })
        await c.query('BEGIN')
        await c.query('INSERT INTO x (id) VALUES (1)')
        await c.query('USE app')
        await c.query('INSERT INTO other (id) VALUES (101)')
        const [commit] = await c.query('COMMIT')
        const [entry] = await tailLog(log, '--from', String(commit?.kind === 'write' ? commit.offset : 0))
        expect(entry).toMatchObject({
          db: 'side',
          statements: [{ sql: 'INSERT INTO x (id) VALUES (1)' }, { db: 'app' }],
        })
        await waitApplied(slave, await masterOffset(master))
        expect(rowsOf(await (await slave.client()).query('SELECT id FROM side.x'))).toEqual([{ id: 1 }])
        expect(rowsOf(await (await slave.client()).query('SELECT id FROM other WHERE id >= 100 ORDER BY id'))).toEqual([
          { id: 100 },
          { id: 101 },
        ])
      } else {
        // A SQLite client keeps SQLite's rules: no nested BEGIN; DDL is transactional.
        await expect(c.query('BEGIN')).rejects.toThrow(/already open/)
        await c.query('ROLLBACK')
      }
      c.close()
    })
  })
}
