import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { type FakeStore, fakeStore } from '../../test/support/fake-store.ts'
import { type TempDir, tempDir } from '../../test/support/util.ts'
import { DdbError, StoreError } from '../errors.ts'
import { ReplicationLog } from '../log/replication-log.ts'
import { createLogger } from '../logger.ts'
import { classify } from '../sql/classify.ts'
import { applyEntries } from '../store/apply.ts'
import { openSqliteStore, type SqliteStore } from '../store/sqlite-store.ts'
import type { StoreStatement } from '../store/store.ts'
import { ClientTransaction } from './client-transaction.ts'
import { type ClassifiedStatement, Writer } from './writer.ts'

let dir: TempDir
let log: ReplicationLog
let store: FakeStore
let writer: Writer

beforeEach(async () => {
  dir = await tempDir('ddb-client-txn-')
  log = ReplicationLog.open(join(dir.path, 'log.sqlite'))
  store = fakeStore({ kind: 'mysql' })
  writer = new Writer(store, log, createLogger({}, { write: () => {} }), (err) => {
    throw err
  })
})

afterEach(async () => {
  await writer.close()
  log.close()
  await dir.remove()
})

function transaction(idleMs?: number): ClientTransaction {
  const begin = () => store.beginClientTransaction()
  return new ClientTransaction({ begin, endsTransaction: (err) => store.endsTransaction(err) }, writer, 'app', idleMs)
}

function stmt(sql: string, params: ClassifiedStatement['statement']['params'] = []): ClassifiedStatement {
  return { statement: { sql, params }, classification: classify(sql) }
}

/** Fails statements whose SQL contains `marker` with `err`; the others affect one row, insert id 7. */
function failing(marker: string, err: unknown) {
  return (s: StoreStatement) => {
    if (s.sql.includes(marker)) throw err
    return { affectedRows: 1, insertId: 7 }
  }
}

describe('ClientTransaction', () => {
  test('statements run in a store transaction of its own, begun at the first statement, in its database', async () => {
    const seen: StoreStatement[] = []
    store.result = (s) => {
      seen.push(s)
      return { affectedRows: 2, insertId: 0 }
    }
    store.rows = () => ({ columns: ['n'], rows: [[2]] })
    const txn = transaction()
    expect(store.calls).toEqual([])
    expect(await txn.write(stmt('UPDATE t SET a = 1'))).toEqual({ offset: 0, affectedRows: 2, insertId: 0 })
    expect(await txn.read('SELECT COUNT(*) AS n FROM t', [])).toEqual({ columns: ['n'], rows: [[2]] })
    expect(store.calls).toEqual([
      'client begin',
      'client runMany UPDATE t SET a = 1',
      'client read SELECT COUNT(*) AS n FROM t',
    ])
    expect(seen.map((s) => s.db)).toEqual(['app'])
    expect(log.lastOffset()).toBe(0)
    await txn.rollback()
  })

  test('commit makes one entry of every statement, with the insert ids, and answers its offset', async () => {
    store.result = (s) => ({ affectedRows: 1, insertId: s.sql.startsWith('INSERT') ? 7 : 0 })
    const txn = transaction()
    await txn.write(stmt('INSERT INTO t VALUES (?)', [1]))
    await txn.write(stmt('UPDATE t SET a = 2'))
    expect(await txn.commit()).toEqual({ offset: 1, affectedRows: 2, insertId: 7 })

    const entries = log.readAfter(0, 10)
    expect(entries).toHaveLength(1)
    const [entry] = entries
    expect(entry!.db).toBe('app')
    expect(entry!.affected).toEqual([1, 1])
    expect(entry!.statements.map(({ ts: _, ...s }) => s)).toEqual([
      { sql: 'INSERT INTO t VALUES (?)', params: [1], insertId: 7 },
      { sql: 'UPDATE t SET a = 2', params: [] },
    ])
    expect(store.calls.slice(-2)).toEqual(['client setState 1', 'client commit'])
    expect(store.state.offset).toBe(1)
    expect(writer.published.current).toBe(1)
  })

  test('a commit with nothing written commits the store transaction and logs nothing', async () => {
    const txn = transaction()
    await txn.read('SELECT 1', [])
    expect(await txn.commit()).toBeNull()
    expect(store.calls).toEqual(['client begin', 'client read SELECT 1', 'client commit'])
    expect(log.lastOffset()).toBe(0)
  })

  test('rollback rolls the store transaction back and logs nothing; it is safe twice', async () => {
    const txn = transaction()
    await txn.write(stmt('INSERT INTO t VALUES (1)'))
    await txn.rollback()
    await txn.rollback()
    expect(store.calls).toEqual(['client begin', 'client runMany INSERT INTO t VALUES (1)', 'client rollback'])
    expect(log.lastOffset()).toBe(0)
    expect(store.state.offset).toBe(0)
    await expect(txn.write(stmt('INSERT INTO t VALUES (2)'))).rejects.toMatchObject({ code: 'NO_TRANSACTION' })
  })

  test('an idle transaction is rolled back, and its next statement says why', async () => {
    const txn = transaction(20)
    await txn.write(stmt('INSERT INTO t VALUES (1)'))
    await Bun.sleep(60)
    expect(store.calls.at(-1)).toBe('client rollback')
    const err = (await txn.write(stmt('INSERT INTO t VALUES (2)')).catch((e) => e)) as DdbError
    expect(err).toBeInstanceOf(DdbError)
    expect(err.code).toBe('TRANSACTION_ABORTED')
    expect(err.message).toContain('idle for 0.02 s, so ddb rolled it back')
    await expect(txn.commit()).rejects.toMatchObject({ code: 'TRANSACTION_ABORTED' })
    await txn.rollback()
    expect(log.lastOffset()).toBe(0)
  })

  test('each statement restarts the idle timer', async () => {
    const txn = transaction(80)
    for (let i = 0; i < 6; i++) {
      await txn.write(stmt(`INSERT INTO t VALUES (${i})`))
      await Bun.sleep(20)
    }
    expect(store.calls).not.toContain('client rollback')
    expect((await txn.commit())?.offset).toBe(1)
  })

  test('the idle clock stops while a statement runs: a statement longer than the timeout is not rolled back', async () => {
    let slow = true
    store.onBegin = (t) => {
      const runMany = t.runMany
      t.runMany = async (statements, state) => {
        if (slow) await Bun.sleep(100) // one statement that runs longer than the idle timeout
        return runMany(statements, state)
      }
    }
    const txn = transaction(30)
    await txn.write(stmt('UPDATE t SET a = 1'))
    slow = false
    await txn.write(stmt('INSERT INTO t VALUES (2)'))
    expect(store.calls).not.toContain('client rollback')
    expect((await txn.commit())?.offset).toBe(1)
  })

  test('a commit refused before it reaches the store (the master shutting down) rolls the store transaction back', async () => {
    const txn = transaction()
    await txn.write(stmt('INSERT INTO t VALUES (1)'))
    await writer.close()
    await expect(txn.commit()).rejects.toThrow('commit refused: the master is shutting down')
    expect(store.calls.at(-1)).toBe('client rollback')
    expect(store.txns.every((t) => t.ended)).toBe(true)
  })

  test('a failed commit of a transaction that wrote nothing rolls it back', async () => {
    store.onBegin = (t) => {
      t.commit = async () => {
        throw new StoreError('commit failed: connection lost')
      }
    }
    const txn = transaction()
    await txn.read('SELECT 1', [])
    await expect(txn.commit()).rejects.toThrow('connection lost')
    expect(store.calls.at(-1)).toBe('client rollback')
  })

  test('a deadlock ends the transaction, as InnoDB rolls it back: it is no longer open and logs nothing', async () => {
    const deadlock = new StoreError('Deadlock found', { rejectedByServer: true, storeCode: 1213 })
    store.result = failing('deadlock', deadlock)
    const txn = transaction()
    await txn.write(stmt('INSERT INTO t VALUES (1)'))
    expect(txn.open).toBe(true)
    await expect(txn.write(stmt("UPDATE t SET a = 'deadlock'"))).rejects.toBe(deadlock)
    expect(txn.open).toBe(false)
    expect(store.calls.at(-1)).toBe('client rollback')
    await expect(txn.write(stmt('INSERT INTO t VALUES (2)'))).rejects.toMatchObject({ code: 'NO_TRANSACTION' })
    await txn.rollback()
    expect(log.lastOffset()).toBe(0)
  })

  test('a rolled-back savepoint takes its statements out of the entry', async () => {
    const txn = transaction()
    await txn.write(stmt('INSERT INTO t VALUES (1)'))
    await txn.savepoint('s1')
    await txn.write(stmt('INSERT INTO t VALUES (2)'))
    await txn.savepoint('s2')
    await txn.write(stmt('INSERT INTO t VALUES (3)'))
    await txn.rollbackTo('S1') // savepoint names compare case-insensitively, as in MySQL
    await expect(txn.rollbackTo('s2')).rejects.toMatchObject({ code: 'SAVEPOINT_UNKNOWN' })
    await txn.write(stmt('INSERT INTO t VALUES (4)'))
    expect((await txn.commit())?.offset).toBe(1)
    expect(log.get(1)?.statements.map((s) => s.sql)).toEqual(['INSERT INTO t VALUES (1)', 'INSERT INTO t VALUES (4)'])
  })

  test('USE inside it: later statements carry their database, the entry keeps the first', async () => {
    const txn = transaction()
    await txn.write(stmt('INSERT INTO t VALUES (1)'))
    txn.use('other')
    await txn.write(stmt('INSERT INTO t VALUES (2)'))
    await txn.commit()
    const entry = log.get(1)!
    expect(entry.db).toBe('app')
    expect(entry.statements.map((s) => s.db)).toEqual([undefined, 'other'])
  })

  test('a lost connection aborts it too', async () => {
    store.result = failing('(2)', new StoreError('connection lost'))
    const txn = transaction()
    await expect(txn.write(stmt('INSERT INTO t VALUES (2)'))).rejects.toThrow('connection lost')
    await expect(txn.commit()).rejects.toMatchObject({ code: 'TRANSACTION_ABORTED' })
    await txn.rollback()
    expect(store.calls.at(-1)).toBe('client rollback')
  })

  test('a statement the server rejects undoes just that statement: the transaction goes on', async () => {
    store.result = failing('dup', new StoreError('Duplicate entry', { rejectedByServer: true, storeCode: 1062 }))
    const txn = transaction()
    await txn.write(stmt('INSERT INTO t VALUES (1)'))
    await expect(txn.write(stmt("INSERT INTO t VALUES ('dup')"))).rejects.toThrow('Duplicate entry')
    await txn.write(stmt('INSERT INTO t VALUES (3)'))
    expect(await txn.commit()).toMatchObject({ offset: 1, affectedRows: 2 })
    expect(log.get(1)!.statements.map((s) => s.sql)).toEqual(['INSERT INTO t VALUES (1)', 'INSERT INTO t VALUES (3)'])
  })

  test('a statement the store refuses to run (UNSUPPORTED) leaves the transaction as it was', async () => {
    store.result = failing('(2)', new DdbError('UNSUPPORTED', 'SET foreign_key_checks inside a transaction: …'))
    const txn = transaction()
    await txn.write(stmt('INSERT INTO t VALUES (1)'))
    await expect(txn.write(stmt('INSERT INTO t VALUES (2)'))).rejects.toMatchObject({ code: 'UNSUPPORTED' })
    await txn.write(stmt('INSERT INTO t VALUES (3)'))
    expect(await txn.commit()).toMatchObject({ offset: 1, affectedRows: 2 })
  })
})

describe('ClientTransaction on a SQLite store', () => {
  test('it runs in the foreign-key mode of its statements, and replays in it', async () => {
    const sqlite = openSqliteStore(join(dir.path, 'master.sqlite'))
    const own = new Writer(sqlite, log, createLogger({}, { write: () => {} }), (err) => {
      throw err
    })
    const run = async (sql: string) => {
      const tx = await sqlite.begin()
      await tx.runMany([{ db: null, sql, params: [] }])
      await tx.commit()
    }
    await run('CREATE TABLE parent (id INTEGER PRIMARY KEY)')
    await run('CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INT REFERENCES parent (id))')
    const txn = new ClientTransaction(
      { begin: () => sqlite.beginClientTransaction(), endsTransaction: () => false },
      own,
      null,
    )
    const off = (sql: string): ClassifiedStatement => ({
      statement: { sql, params: [], settings: { foreign_key_checks: 0 } },
      classification: classify(sql),
    })
    await txn.write(off('INSERT INTO child VALUES (1, 99)'))
    await expect(txn.write(stmt('INSERT INTO child VALUES (2, 98)'))).rejects.toThrow('set it before BEGIN')
    await txn.write(off('INSERT INTO child VALUES (3, 97)'))
    expect((await txn.commit())?.offset).toBe(1)
    const rows = async (s: SqliteStore) => (await s.read(null, 'SELECT * FROM child ORDER BY id', [])).rows
    expect(await rows(sqlite)).toEqual([
      [1, 99],
      [3, 97],
    ])

    const replica = openSqliteStore(join(dir.path, 'replica.sqlite'))
    for (const sql of [
      'CREATE TABLE parent (id INTEGER PRIMARY KEY)',
      'CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INT REFERENCES parent (id))',
    ]) {
      const tx = await replica.begin()
      await tx.runMany([{ db: null, sql, params: [] }])
      await tx.commit()
    }
    await applyEntries(replica, log.readAfter(0, 10), log.id)
    expect(await rows(replica)).toEqual(await rows(sqlite))
    await own.close()
    await replica.close()
    await sqlite.close()
  })
})
