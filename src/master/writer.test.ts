import { afterEach, beforeEach, describe, expect, spyOn, test } from 'bun:test'
import { join } from 'node:path'
import { type FakeStore, fakeStore, holdNextCommit } from '../../test/support/fake-store.ts'
import { type TempDir, tempDir } from '../../test/support/util.ts'
import type { WriteResult } from '../entry.ts'
import { StoreError } from '../errors.ts'
import { ReplicationLog } from '../log/replication-log.ts'
import { createLogger } from '../logger.ts'
import { classify } from '../sql/classify.ts'
import type { StoreStatement } from '../store/store.ts'
import { type WriteRequest, Writer } from './writer.ts'

let dir: TempDir
let log: ReplicationLog
let logged: string[]
let fatal: unknown[]

beforeEach(async () => {
  dir = await tempDir('ddb-writer-')
  log = ReplicationLog.open(join(dir.path, 'log.sqlite'))
  logged = []
  fatal = []
})

afterEach(async () => {
  log.close()
  await dir.remove()
})

function writerOn(store: FakeStore): Writer {
  const logger = createLogger({}, { write: (line) => logged.push(line) })
  return new Writer(store, log, logger, (err) => fatal.push(err))
}

/** One client's write of one statement. */
function req(sql: string, db: string | null = null): WriteRequest {
  return { db, statements: [{ statement: { sql, params: [] }, classification: classify(sql) }] }
}

/** A statement the database refused (the statement did not run). */
function rejected(message: string, storeCode?: number): StoreError {
  return new StoreError(message, { rejectedByServer: true, storeCode })
}

/** Each statement's result: n rows affected and insert id 10·n, n from "VALUES (n)". */
function numbered(s: StoreStatement) {
  const n = Number(/\((\d+)\)/.exec(s.sql)?.[1] ?? 1)
  return { affectedRows: n, insertId: 10 * n }
}

/** Fails a statement whose SQL contains `marker` with `err`; the others answer as numbered() does. */
function failing(marker: string, err: unknown) {
  return (s: StoreStatement) => {
    if (s.sql.includes(marker)) throw err
    return numbered(s)
  }
}

/** The log's entries, as offset and statements. */
function logEntries(): Array<[number, string[]]> {
  return log.readAfter(0, 100).map((e) => [e.offset, e.statements.map((s) => s.sql)])
}

/** How each promise settled, in settling order. */
function settled(promises: Promise<WriteResult>[]): Promise<Array<WriteResult | Error>> {
  return Promise.all(promises.map((p) => p.catch((err: Error) => err)))
}

describe('group commit', () => {
  test('writes submitted while a commit is in flight share one store transaction and one log append', async () => {
    const store = fakeStore()
    store.result = numbered
    const writer = writerOn(store)
    const append = spyOn(log, 'append')
    const held = holdNextCommit(store)
    const first = writer.submit(req('INSERT INTO t VALUES (1)'))
    await held.reached
    const rest = [2, 3, 4].map((n) => writer.submit(req(`INSERT INTO t VALUES (${n})`)))
    held.open()

    expect(await Promise.all([first, ...rest])).toEqual([
      { offset: 1, affectedRows: 1, insertId: 10 },
      { offset: 2, affectedRows: 2, insertId: 20 },
      { offset: 3, affectedRows: 3, insertId: 30 },
      { offset: 4, affectedRows: 4, insertId: 40 },
    ])
    expect(store.calls).toEqual([
      'begin',
      'runMany INSERT INTO t VALUES (1)',
      'setState 1',
      'commit',
      'begin',
      'runMany INSERT INTO t VALUES (2); INSERT INTO t VALUES (3); INSERT INTO t VALUES (4)',
      'setState 4',
      'commit',
    ])
    expect(append.mock.calls.map(([entries]) => entries.map((e) => e.offset))).toEqual([[1], [2, 3, 4]])
    const entries = log.readAfter(0, 100)
    expect(entries.map((e) => [e.offset, e.affected, e.statements[0]!.insertId])).toEqual([
      [1, [1], 10],
      [2, [2], 20],
      [3, [3], 30],
      [4, [4], 40],
    ])
    // The store's state row commits with the batch, entries included (recovery gives them back to a log that lacks them).
    expect(store.state.offset).toBe(4)
    expect(store.state.logId).toBe(log.id)
    expect(JSON.parse(store.state.pending!)).toEqual(entries.slice(1))
    append.mockRestore()
  })

  test('each request runs in its own database at the entry time', async () => {
    const store = fakeStore({ kind: 'mysql', ddlCommitsImplicitly: false })
    const seen: StoreStatement[] = []
    store.result = (s) => {
      seen.push(s)
      return { affectedRows: 1, insertId: 0 }
    }
    const writer = writerOn(store)
    await Promise.all([
      writer.submit(req('UPDATE t SET a = 1', 'one')),
      writer.submit(req('UPDATE t SET a = 2', 'two')),
    ])
    expect(seen.map((s) => s.db)).toEqual(['one', 'two'])
    const entries = log.readAfter(0, 10)
    expect(entries.map((e) => e.db)).toEqual(['one', 'two'])
    expect(seen.map((s) => s.ts)).toEqual(entries.map((e) => e.ts))
  })
})

describe('savepoint fallback', () => {
  test('one failing statement in a batch: the batch runs again behind savepoints, only its client fails', async () => {
    const store = fakeStore()
    const duplicate = rejected('Duplicate entry', 1062)
    store.result = failing('(2)', duplicate)
    const writer = writerOn(store)
    const answers = await settled([1, 2, 3].map((n) => writer.submit(req(`INSERT INTO t VALUES (${n})`))))

    expect(answers).toEqual([
      { offset: 1, affectedRows: 1, insertId: 10 },
      duplicate,
      { offset: 2, affectedRows: 3, insertId: 30 },
    ])
    expect(store.calls).toEqual([
      'begin',
      'runMany INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); INSERT INTO t VALUES (3)',
      'rollback',
      'begin',
      'savepoint w0',
      'runMany INSERT INTO t VALUES (1)',
      'savepoint w1',
      'runMany INSERT INTO t VALUES (2)',
      'rollbackTo w1',
      'savepoint w2',
      'runMany INSERT INTO t VALUES (3)',
      'setState 2',
      'commit',
    ])
    expect(logEntries()).toEqual([
      [1, ['INSERT INTO t VALUES (1)']],
      [2, ['INSERT INTO t VALUES (3)']],
    ])
    expect(writer.published.current).toBe(2)
  })

  test('a lone write that fails is answered its error without savepoints', async () => {
    const store = fakeStore()
    const duplicate = rejected('Duplicate entry', 1062)
    store.result = failing('(1)', duplicate)
    const writer = writerOn(store)
    await expect(writer.submit(req('INSERT INTO t VALUES (1)'))).rejects.toBe(duplicate)
    expect(store.calls).toEqual(['begin', 'runMany INSERT INTO t VALUES (1)', 'rollback'])
    expect(log.lastOffset()).toBe(0)
  })

  test('when every write of the batch fails, nothing commits and nothing is logged', async () => {
    const store = fakeStore()
    const err = rejected('no such table: t')
    store.result = () => {
      throw err
    }
    const writer = writerOn(store)
    const answers = await settled([1, 2].map((n) => writer.submit(req(`INSERT INTO t VALUES (${n})`))))
    expect(answers).toEqual([err, err])
    expect(store.calls.slice(-2)).toEqual(['rollbackTo w1', 'rollback'])
    expect(store.calls).not.toContain('commit')
    expect(log.lastOffset()).toBe(0)
  })

  test('a savepoint that cannot be rolled back to fails every write the transaction held', async () => {
    const store = fakeStore()
    const duplicate = rejected('Duplicate entry', 1062)
    store.result = failing('(2)', duplicate)
    let fallback = false
    store.onBegin = (txn) => {
      if (!fallback) {
        fallback = true
        return
      }
      txn.rollbackTo = async () => {
        throw new StoreError('connection lost')
      }
    }
    const writer = writerOn(store)
    const answers = await settled([1, 2, 3].map((n) => writer.submit(req(`INSERT INTO t VALUES (${n})`))))
    expect(answers).toEqual([duplicate, duplicate, duplicate])
    expect(store.calls.slice(-2)).toEqual(['runMany INSERT INTO t VALUES (2)', 'rollback'])
    expect(log.lastOffset()).toBe(0)
  })

  test('a store error that is not a server rejection fails the whole batch, and the writer goes on', async () => {
    const store = fakeStore()
    const lost = new StoreError('connection lost')
    store.result = failing('(2)', lost)
    const writer = writerOn(store)
    const answers = await settled([1, 2, 3].map((n) => writer.submit(req(`INSERT INTO t VALUES (${n})`))))

    expect(answers).toEqual([lost, lost, lost])
    expect(store.calls).toEqual([
      'begin',
      'runMany INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); INSERT INTO t VALUES (3)',
      'rollback',
    ])
    expect(log.lastOffset()).toBe(0)
    store.result = numbered
    expect(await writer.submit(req('INSERT INTO t VALUES (4)'))).toEqual({ offset: 1, affectedRows: 4, insertId: 40 })
  })
})

describe('DDL on a store whose DDL commits implicitly', () => {
  test('the entry is logged first, then the DDL runs, then the offset is written, then it is published', async () => {
    const store = fakeStore({ kind: 'mysql' })
    const logWhenRun: number[] = []
    store.result = () => {
      logWhenRun.push(log.lastOffset())
      return { affectedRows: 5, insertId: 0 }
    }
    const publishedWhenStateWritten: number[] = []
    const writeState = store.writeState
    store.writeState = (state) => {
      publishedWhenStateWritten.push(writer.published.current)
      return writeState(state)
    }
    const writer = writerOn(store)
    expect(await writer.submit(req('CREATE TABLE t (a INT)', 'app'))).toEqual({
      offset: 1,
      affectedRows: 0,
      insertId: 0,
    })
    expect(store.calls).toEqual(['runAutocommit CREATE TABLE t (a INT)', 'writeState 1'])
    expect(logWhenRun).toEqual([1])
    expect(publishedWhenStateWritten).toEqual([0])
    expect(writer.published.current).toBe(1)
    expect(store.state).toEqual({ offset: 1, logId: log.id })
    expect(log.get(1)!.db).toBe('app')
  })

  test('DDL runs alone, between the batches of the writes queued around it', async () => {
    const store = fakeStore({ kind: 'mysql' })
    const writer = writerOn(store)
    const answers = await Promise.all([
      writer.submit(req('INSERT INTO t VALUES (1)')),
      writer.submit(req('INSERT INTO t VALUES (2)')),
      writer.submit(req('ALTER TABLE t ADD b INT')),
      writer.submit(req('INSERT INTO t VALUES (3)')),
    ])
    expect(answers.map((a) => a.offset)).toEqual([1, 2, 3, 4])
    expect(store.calls).toEqual([
      'begin',
      'runMany INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)',
      'setState 2',
      'commit',
      'runAutocommit ALTER TABLE t ADD b INT',
      'writeState 3',
      'begin',
      'runMany INSERT INTO t VALUES (3)',
      'setState 4',
      'commit',
    ])
  })

  test('where DDL is transactional (SQLite) it shares the batch', async () => {
    const store = fakeStore({ kind: 'sqlite' })
    const writer = writerOn(store)
    await Promise.all([writer.submit(req('CREATE TABLE u (a INT)')), writer.submit(req('INSERT INTO u VALUES (1)'))])
    expect(store.calls).toEqual([
      'begin',
      'runMany CREATE TABLE u (a INT); INSERT INTO u VALUES (1)',
      'setState 2',
      'commit',
    ])
  })

  test('a DDL the server rejects is removed from the log and its client gets the error; offsets stay gap-free', async () => {
    const store = fakeStore({ kind: 'mysql' })
    const exists = rejected("Table 't' already exists", 1050)
    store.result = failing('CREATE', exists)
    const writer = writerOn(store)
    const answers = await settled([
      writer.submit(req('INSERT INTO t VALUES (1)')),
      writer.submit(req('CREATE TABLE t (a INT)')),
      writer.submit(req('INSERT INTO t VALUES (2)')),
    ])
    expect(answers).toEqual([
      { offset: 1, affectedRows: 1, insertId: 10 },
      exists,
      { offset: 2, affectedRows: 2, insertId: 20 },
    ])
    expect(logEntries()).toEqual([
      [1, ['INSERT INTO t VALUES (1)']],
      [2, ['INSERT INTO t VALUES (2)']],
    ])
    expect(store.calls).not.toContain('writeState 2')
    expect(store.state.offset).toBe(2)
    expect(writer.published.current).toBe(2)
  })

  test('a DDL whose store fails after it was logged is reconciled: run again, and its client answered', async () => {
    const store = fakeStore({ kind: 'mysql' })
    let attempts = 0
    store.result = () => {
      if (attempts++ === 0) throw new StoreError('connection lost')
      return { affectedRows: 0, insertId: 0 }
    }
    const writer = writerOn(store)
    expect((await writer.submit(req('CREATE TABLE t (a INT)'))).offset).toBe(1)
    expect(store.calls).toEqual([
      'runAutocommit CREATE TABLE t (a INT)',
      'readState',
      'runAutocommit CREATE TABLE t (a INT)',
      'writeState 1',
    ])
    expect(log.lastOffset()).toBe(1)
    expect(logged.join('')).toContain('store failed during DDL after log commit; reconciling')
    expect(fatal).toEqual([])
  })
})

describe('a store commit that fails after the log commit', () => {
  test('is reconciled: the store, behind the log, applies the entries again; the client is answered', async () => {
    const store = fakeStore()
    store.onBegin = (txn) => {
      store.onBegin = () => {}
      txn.commit = async () => {
        store.calls.push('commit fails')
        throw new StoreError('connection lost')
      }
    }
    const writer = writerOn(store)
    expect(await writer.submit(req('INSERT INTO t VALUES (1)'))).toEqual({ offset: 1, affectedRows: 1, insertId: 0 })
    expect(store.calls).toEqual([
      'begin',
      'runMany INSERT INTO t VALUES (1)',
      'setState 1',
      'commit fails',
      'rollback',
      'readState',
      'begin',
      'runMany INSERT INTO t VALUES (1)',
      'commit',
    ])
    expect(store.state).toEqual({ offset: 1, logId: log.id })
    expect(writer.published.current).toBe(1)
    expect(logged.join('')).toContain('store commit failed after log commit; reconciling')
    expect(fatal).toEqual([])
  })

  test('is reconciled: a store whose offset says the commit happened applies nothing again', async () => {
    const store = fakeStore()
    store.onBegin = (txn) => {
      store.onBegin = () => {}
      const commit = txn.commit
      txn.commit = async () => {
        await commit()
        throw new StoreError('connection lost while committing')
      }
    }
    const writer = writerOn(store)
    expect((await writer.submit(req('INSERT INTO t VALUES (1)'))).offset).toBe(1)
    expect(store.calls).toEqual(['begin', 'runMany INSERT INTO t VALUES (1)', 'setState 1', 'commit', 'readState'])
    expect(writer.published.current).toBe(1)
  })

  test("a batch waiting for its turn during a client transaction's reconcile rolls back and runs again after it", async () => {
    const store = fakeStore()
    const writer = writerOn(store)
    const client = await store.beginClientTransaction()
    const results = await client.runMany([{ db: null, sql: 'INSERT INTO t VALUES (1)', params: [] }])
    const gate = Promise.withResolvers<void>()
    const reached = Promise.withResolvers<void>()
    client.commit = async () => {
      reached.resolve()
      await gate.promise
      throw new StoreError('connection lost')
    }
    const committing = writer.commitTransaction(
      client,
      { ts: Date.now(), db: null, statements: [{ sql: 'INSERT INTO t VALUES (1)', params: [] }], affected: [1] },
      results,
    )
    await reached.promise
    store.onBegin = (txn) => {
      // The batch gives the writer back slowly: the reconcile's transaction must wait for it.
      store.onBegin = () => {}
      const rollback = txn.rollback
      txn.rollback = async () => {
        await Bun.sleep(10)
        return rollback()
      }
    }
    const batch = writer.submit(req('INSERT INTO t VALUES (2)'))
    while (!store.calls.includes('runMany INSERT INTO t VALUES (2)')) await Bun.sleep(1)
    await Bun.sleep(5) // the batch now waits for its turn, holding the store's writer
    gate.resolve()

    expect((await committing).offset).toBe(1)
    expect((await batch).offset).toBe(2)
    expect(store.calls).toEqual([
      'client begin',
      'client runMany INSERT INTO t VALUES (1)',
      'client setState 1',
      'begin',
      'runMany INSERT INTO t VALUES (2)',
      'client rollback',
      'readState',
      'rollback', // the waiting batch gives the writer back
      'begin', // the reconcile applies entry 1 again
      'runMany INSERT INTO t VALUES (1)',
      'commit',
      'begin', // then the batch runs again
      'runMany INSERT INTO t VALUES (2)',
      'setState 2',
      'commit',
    ])
    expect(logEntries()).toEqual([
      [1, ['INSERT INTO t VALUES (1)']],
      [2, ['INSERT INTO t VALUES (2)']],
    ])
    expect(store.state.offset).toBe(2)
  })
})

describe('published', () => {
  test('advances only once both the log and the store committed', async () => {
    const store = fakeStore()
    const writer = writerOn(store)
    const held = holdNextCommit(store)
    const write = writer.submit(req('INSERT INTO t VALUES (1)'))
    await held.reached
    await Bun.sleep(1)
    expect(log.lastOffset()).toBe(1) // the log committed while the store commits
    expect(writer.published.current).toBe(0)
    expect(writer.publishedAfter(0)).toBeNull()
    held.open()
    expect((await write).offset).toBe(1)
    expect(writer.published.current).toBe(1)
    expect(writer.publishedAfter(0)!.map((e) => e.offset)).toEqual([1])
    expect(writer.publishedAfter(1)).toBeNull()
  })

  test('starts at the log’s last offset', async () => {
    log.append(
      log.prepare([{ ts: 1, db: null, statements: [{ sql: 'INSERT INTO t VALUES (1)', params: [] }], affected: [1] }]),
    )
    const writer = writerOn(fakeStore())
    expect(writer.published.current).toBe(1)
    expect((await writer.submit(req('INSERT INTO t VALUES (2)'))).offset).toBe(2)
  })
})

describe('close', () => {
  test('refuses new writes and waits for the queued ones', async () => {
    const store = fakeStore()
    const writer = writerOn(store)
    const held = holdNextCommit(store)
    const order: string[] = []
    const first = writer.submit(req('INSERT INTO t VALUES (1)')).then((r) => order.push(`write ${r.offset}`))
    await held.reached
    const second = writer.submit(req('INSERT INTO t VALUES (2)')).then((r) => order.push(`write ${r.offset}`))
    const closing = writer.close().then(() => order.push('closed'))

    await expect(writer.submit(req('INSERT INTO t VALUES (3)'))).rejects.toThrow(
      'write refused: the master is shutting down',
    )
    const tx = await store.beginClientTransaction()
    await expect(
      writer.commitTransaction(tx, { ts: 1, db: null, statements: [{ sql: 'x', params: [] }], affected: [0] }, []),
    ).rejects.toThrow('commit refused: the master is shutting down')
    await Bun.sleep(5)
    expect(order).toEqual([])
    held.open()
    await Promise.all([first, second, closing])
    expect(order).toEqual(['write 1', 'write 2', 'closed'])
    expect(await writer.published.wait(3, 1_000)).toBe('closed')
  })

  test("waits for a client transaction's commit in flight", async () => {
    const store = fakeStore()
    const writer = writerOn(store)
    const held = holdNextCommit(store, 'client')
    const tx = await store.beginClientTransaction()
    const order: string[] = []
    const committed = writer
      .commitTransaction(
        tx,
        { ts: 1, db: null, statements: [{ sql: 'INSERT INTO t VALUES (1)', params: [] }], affected: [1] },
        [{ affectedRows: 1, insertId: 0 }],
      )
      .then((r) => order.push(`commit ${r.offset}`))
    await held.reached
    const closing = writer.close().then(() => order.push('closed'))
    await Bun.sleep(5)
    expect(order).toEqual([])
    held.open()
    await Promise.all([committed, closing])
    expect(order).toEqual(['commit 1', 'closed'])
  })
})
