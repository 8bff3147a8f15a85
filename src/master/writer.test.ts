import { afterEach, beforeEach, describe, expect, spyOn, test } from 'bun:test'
import { join } from 'node:path'
import { type FakeStore, fakeStore, holdNextCommit } from '../../test/support/fake-store.ts'
import { type TempDir, tempDir } from '../../test/support/util.ts'
import type { Param, WriteResult } from '../entry.ts'
import { StoreError } from '../errors.ts'
import { ReplicationLog } from '../log/replication-log.ts'
import { createLogger } from '../logger.ts'
import { classify } from '../sql/classify.ts'
import { applyEntries } from '../store/apply.ts'
import { openSqliteStore } from '../store/sqlite-store.ts'
import type { Store, StoreStatement } from '../store/store.ts'
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

function writerOn(store: Store): Writer {
  const logger = createLogger({}, { write: (line) => logged.push(line) })
  return new Writer(store, log, logger, (err) => fatal.push(err))
}

/** One client's write of one statement (with its session's settings). */
function req(sql: string, db: string | null = null, settings?: Record<string, Param>): WriteRequest {
  return {
    db,
    statements: [{ statement: { sql, params: [], ...(settings ? { settings } : {}) }, classification: classify(sql) }],
  }
}

/** A write made with foreign_key_checks = 0. */
function unchecked(sql: string): WriteRequest {
  return req(sql, null, { foreign_key_checks: 0 })
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

describe('transaction modes (SQLite: foreign keys on or off, set before BEGIN)', () => {
  test('a batch ends before the first write that needs another mode; the rest follow in log order', async () => {
    const store = fakeStore()
    store.result = numbered
    const writer = writerOn(store)
    const held = holdNextCommit(store)
    const first = writer.submit(req('INSERT INTO t VALUES (1)'))
    await held.reached
    const rest = [
      writer.submit(req('INSERT INTO t VALUES (2)')),
      writer.submit(unchecked('INSERT INTO t VALUES (3)')),
      writer.submit(unchecked('INSERT INTO t VALUES (4)')),
      writer.submit(req('INSERT INTO t VALUES (5)')),
      writer.submit(unchecked('INSERT INTO t VALUES (6)')),
    ]
    held.open()
    expect((await Promise.all([first, ...rest])).map((r) => r.offset)).toEqual([1, 2, 3, 4, 5, 6])
    expect(store.calls).toEqual([
      'begin',
      'runMany INSERT INTO t VALUES (1)',
      'setState 1',
      'commit',
      'begin',
      'runMany INSERT INTO t VALUES (2)',
      'setState 2',
      'commit',
      'begin fk-off',
      'runMany INSERT INTO t VALUES (3); INSERT INTO t VALUES (4)',
      'setState 4',
      'commit',
      'begin',
      'runMany INSERT INTO t VALUES (5)',
      'setState 5',
      'commit',
      'begin fk-off',
      'runMany INSERT INTO t VALUES (6)',
      'setState 6',
      'commit',
    ])
    expect(logEntries().map(([offset, [sql]]) => [offset, sql])).toEqual(
      [1, 2, 3, 4, 5, 6].map((n) => [n, `INSERT INTO t VALUES (${n})`]),
    )
    expect(log.get(3)!.statements[0]!.settings).toEqual({ foreign_key_checks: 0 })
  })

  test('the savepoint fallback runs in the batch’s mode', async () => {
    const store = fakeStore()
    store.result = failing('(2)', rejected('FOREIGN KEY constraint failed'))
    const writer = writerOn(store)
    const answers = await settled([1, 2, 3].map((n) => writer.submit(unchecked(`INSERT INTO t VALUES (${n})`))))
    expect(answers.map((a) => (a instanceof Error ? a.message : a.offset))).toEqual([
      1,
      'FOREIGN KEY constraint failed',
      2,
    ])
    expect(store.calls.filter((c) => c.startsWith('begin'))).toEqual(['begin fk-off', 'begin fk-off'])
  })
})

describe('a store whose COMMIT can refuse (SQLite: a deferred foreign key)', () => {
  /** Refuses the COMMIT of every transaction that ran a statement containing `marker`. */
  function refusingCommitsOf(store: FakeStore, marker: string, err: StoreError): void {
    store.onBegin = (txn) => {
      let culprit = false
      const { runMany, commit } = txn
      txn.runMany = (statements, state) => {
        culprit ||= statements.some((s) => s.sql.includes(marker))
        return runMany(statements, state)
      }
      txn.commit = async () => {
        if (!culprit) return commit()
        store.calls.push('commit refused')
        throw err
      }
    }
  }

  test("is heard before the log takes the batch: the batch's writes run again one by one, only the culprit fails", async () => {
    const store = fakeStore({ commitCanRefuse: true })
    store.result = numbered
    const refused = rejected('FOREIGN KEY constraint failed')
    refusingCommitsOf(store, '(2)', refused)
    const writer = writerOn(store)
    const append = spyOn(log, 'append')
    const answers = await settled([1, 2, 3].map((n) => writer.submit(req(`INSERT INTO t VALUES (${n})`))))

    expect(answers).toEqual([
      { offset: 1, affectedRows: 1, insertId: 10 },
      refused,
      { offset: 2, affectedRows: 3, insertId: 30 },
    ])
    expect(store.calls).toEqual([
      'begin',
      'runMany INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); INSERT INTO t VALUES (3)',
      'setState 3',
      'commit refused',
      'rollback',
      'begin',
      'runMany INSERT INTO t VALUES (1)',
      'setState 1',
      'commit',
      'begin',
      'runMany INSERT INTO t VALUES (2)',
      'setState 2',
      'commit refused',
      'rollback',
      'begin',
      'runMany INSERT INTO t VALUES (3)',
      'setState 2',
      'commit',
    ])
    expect(append.mock.calls.map(([entries]) => entries.map((e) => e.offset))).toEqual([[1], [2]])
    expect(logEntries()).toEqual([
      [1, ['INSERT INTO t VALUES (1)']],
      [2, ['INSERT INTO t VALUES (3)']],
    ])
    expect(writer.published.current).toBe(2)
    expect(fatal).toEqual([])
    append.mockRestore()
  })

  test('a refused COMMIT of a lone write fails it, logs nothing and reconciles nothing', async () => {
    const store = fakeStore({ commitCanRefuse: true })
    const refused = rejected('FOREIGN KEY constraint failed')
    refusingCommitsOf(store, '(1)', refused)
    const writer = writerOn(store)
    await expect(writer.submit(req('INSERT INTO t VALUES (1)'))).rejects.toBe(refused)
    expect(store.calls).toEqual([
      'begin',
      'runMany INSERT INTO t VALUES (1)',
      'setState 1',
      'commit refused',
      'rollback',
    ])
    expect(log.lastOffset()).toBe(0)
    expect((await writer.submit(req('INSERT INTO t VALUES (2)'))).offset).toBe(1)
  })

  test('a COMMIT that fails otherwise (the outcome unknown) is logged and reconciled, as on any store', async () => {
    const store = fakeStore({ commitCanRefuse: true })
    store.onBegin = (txn) => {
      store.onBegin = () => {}
      txn.commit = async () => {
        store.calls.push('commit fails')
        throw new StoreError('disk I/O error')
      }
    }
    const writer = writerOn(store)
    expect((await writer.submit(req('INSERT INTO t VALUES (1)'))).offset).toBe(1)
    expect(store.calls.slice(3)).toEqual([
      'commit fails',
      'rollback',
      'readState',
      'begin',
      'runMany INSERT INTO t VALUES (1)',
      'commit',
    ])
    expect(log.lastOffset()).toBe(1)
    expect(fatal).toEqual([])
  })
})

describe('foreign keys on a real SQLite store', () => {
  test('in one group-commit batch, a write that breaks a foreign key fails only its client; replayed, the log gives the same store', async () => {
    const store = openSqliteStore(join(dir.path, 'master.sqlite'))
    const writer = writerOn(store)
    await writer.submit(req('CREATE TABLE parent (id INTEGER PRIMARY KEY)'))
    await writer.submit(
      req('CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INT REFERENCES parent (id) ON DELETE CASCADE)'),
    )
    await writer.submit(
      req(
        'CREATE TABLE later (id INTEGER PRIMARY KEY, parent_id INT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)',
      ),
    )
    await writer.submit(req('INSERT INTO parent VALUES (1), (2), (3)'))
    // Submitted in one go, they queue while the writer yields to I/O: one batch per run of one mode.
    const answers = await settled([
      writer.submit(req('INSERT INTO child VALUES (10, 1)')),
      writer.submit(req('INSERT INTO child VALUES (11, 99)')), // an orphan: refused
      writer.submit(req('INSERT INTO child VALUES (12, 2)')),
      writer.submit(unchecked('INSERT INTO child VALUES (13, 98)')), // an orphan, unchecked: accepted
      writer.submit(unchecked('DELETE FROM parent WHERE id = 2')), // no cascade
      writer.submit(req('DELETE FROM parent WHERE id = 1')), // cascades to child 10
      writer.submit(req('INSERT INTO later VALUES (1, 3)')),
      writer.submit(req('INSERT INTO later VALUES (2, 97)')), // deferred: refused at COMMIT
      writer.submit(req('INSERT INTO later VALUES (3, 3)')),
    ])
    const outcome = (a: WriteResult | Error) => (a instanceof Error ? a.message.split(':')[0] : a.offset)
    expect(answers.map(outcome)).toEqual([
      5,
      'Cannot add or update a child row',
      6,
      7,
      8,
      9,
      10,
      'FOREIGN KEY constraint failed',
      11,
    ])
    const rows = async (s: Store, table: string) => (await s.read(null, `SELECT * FROM ${table} ORDER BY id`, [])).rows
    expect(await rows(store, 'parent')).toEqual([[3]])
    expect(await rows(store, 'child')).toEqual([
      [12, 2],
      [13, 98],
    ])
    expect(await rows(store, 'later')).toEqual([
      [1, 3],
      [3, 3],
    ])
    expect((await store.readState()).offset).toBe(11)
    expect(fatal).toEqual([])

    const replica = openSqliteStore(join(dir.path, 'replica.sqlite'))
    await applyEntries(replica, log.readAfter(0, 100), log.id)
    for (const table of ['parent', 'child', 'later'])
      expect(await rows(replica, table)).toEqual(await rows(store, table))
    expect((await replica.readState()).offset).toBe(11)
    await writer.close()
    await replica.close()
    await store.close()
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
    expect(store.calls).toEqual(['readState', 'runAutocommit CREATE TABLE t (a INT)', 'writeState 1'])
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
      'readState',
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
      'readState',
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

describe('a store that lost transactions it had committed (MySQL with innodb_flush_log_at_trx_commit = 0)', () => {
  // The writer's own logic, on a fake; test/store-flush.test.ts proves it on a real mariadbd killed -9 at flush=0.
  /** A MySQL-like fake whose first two writes committed, then forgotten by its server. */
  async function forgetful() {
    const store = fakeStore({ kind: 'mysql' })
    store.result = numbered
    const writer = writerOn(store)
    await Promise.all([writer.submit(req('INSERT INTO t VALUES (1)')), writer.submit(req('INSERT INTO t VALUES (2)'))])
    await writer.submit(req('INSERT INTO t VALUES (3)'))
    store.state = { offset: 1, logId: log.id } // the server restarted without entries 2 and 3
    store.calls.length = 0
    return { store, writer }
  }

  test('the next commit is stopped by the state guard; the lost entries and the batch are applied from the log', async () => {
    const { store, writer } = await forgetful()
    expect(await writer.submit(req('INSERT INTO t VALUES (4)'))).toEqual({ offset: 4, affectedRows: 4, insertId: 40 })
    expect(store.state.offset).toBe(4)
    expect(store.calls).toEqual([
      'begin',
      'runMany INSERT INTO t VALUES (4)',
      'setState 4',
      'commit', // refused: the state row is at 1, not 3
      'rollback',
      'readState',
      'begin',
      'runMany INSERT INTO t VALUES (2); INSERT INTO t VALUES (3); INSERT INTO t VALUES (4)',
      'commit',
    ])
    expect(logged.join('')).toContain('the store lost transactions it had committed')
    expect(fatal).toEqual([])
  })

  test('an idle master heals: checkStore applies what the store lost', async () => {
    const { store, writer } = await forgetful()
    await writer.checkStore()
    expect(store.state.offset).toBe(3)
    expect(store.calls).toContain('runMany INSERT INTO t VALUES (2); INSERT INTO t VALUES (3)')
    store.calls.length = 0
    await writer.checkStore() // nothing lost now: one look, nothing applied
    expect(store.calls).toEqual(['readState'])
  })

  test('a DDL first applies what the store lost, then runs', async () => {
    const { store, writer } = await forgetful()
    expect((await writer.submit(req('ALTER TABLE t ADD b INT'))).offset).toBe(4)
    expect(store.calls).toEqual([
      'readState',
      'begin',
      'runMany INSERT INTO t VALUES (2); INSERT INTO t VALUES (3)',
      'commit',
      'runAutocommit ALTER TABLE t ADD b INT',
      'writeState 4',
    ])
  })
})
