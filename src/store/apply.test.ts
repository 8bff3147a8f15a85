import { describe, expect, test } from 'bun:test'
import { type FakeStore, fakeStore } from '../../test/support/fake-store.ts'
import type { Entry, Param } from '../entry.ts'
import { StoreError } from '../errors.ts'
import { ApplyError, applyEntries, hasDdl } from './apply.ts'

const entry = (...sql: string[]) => ({ statements: sql.map((s) => ({ sql: s })) })

test.each<[string, boolean]>([
  ['INSERT INTO t VALUES (1)', false],
  ["  update t SET v = 'CREATE TABLE x (a INT)'", false],
  ['DELETE FROM t', false],
  ['REPLACE INTO t VALUES (1)', false],
  ['CREATE TABLE t (a INT)', true],
  ['  drop table t', true],
  ['/*!40101 CREATE TABLE t (a INT) */', true],
  ['/* made by a tool */ ALTER TABLE t ADD COLUMN b INT', true],
  ['WITH x AS (SELECT 1) UPDATE t SET v = 1', false],
])('hasDdl: %s → %p', (sql, ddl) => {
  expect(hasDdl(entry(sql))).toBe(ddl)
})

test('hasDdl: one DDL statement among DML makes the entry DDL', () => {
  expect(hasDdl(entry('INSERT INTO t VALUES (1)', 'TRUNCATE TABLE t'))).toBe(true)
})

describe('applyEntries: one transaction per run of one mode', () => {
  /** Entry `offset` with one statement per SQL text, run with `settings`. */
  function entry(offset: number, sql: string[], settings?: Record<string, Param>): Entry {
    return {
      offset,
      ts: 1,
      db: null,
      statements: sql.map((s) => ({ sql: s, params: [], ...(settings ? { settings } : {}) })),
      affected: sql.map(() => 1),
      epoch: 1,
      hash: '',
      checksum: 0,
    }
  }
  const off = { foreign_key_checks: 0 }

  /** The fake store, recording the offset each transaction's state row gets. */
  function recordingStore(): FakeStore {
    const store = fakeStore()
    store.onBegin = (txn) => {
      const { runMany } = txn
      txn.runMany = async (statements, state) => {
        const results = await runMany(statements, state)
        if (state) store.calls.push(`state ${state.offset}`)
        return results
      }
    }
    return store
  }

  test('a run is split where the mode changes, each part committed with its own offset', async () => {
    const store = recordingStore()
    await applyEntries(
      store,
      [
        entry(1, ['INSERT INTO t VALUES (1)']),
        entry(2, ['INSERT INTO t VALUES (2)']),
        entry(3, ['INSERT INTO t VALUES (3)'], off),
        entry(4, []), // skipped by the filters: joins the run it is in
        entry(5, ['INSERT INTO t VALUES (5)'], off),
        entry(6, ['INSERT INTO t VALUES (6)']),
      ],
      'log',
    )
    expect(store.calls).toEqual([
      'begin',
      'runMany INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)',
      'state 2',
      'commit',
      'begin fk-off',
      'runMany INSERT INTO t VALUES (3); INSERT INTO t VALUES (5)',
      'state 5',
      'commit',
      'begin',
      'runMany INSERT INTO t VALUES (6)',
      'state 6',
      'commit',
    ])
    expect(store.state).toEqual({ offset: 6, logId: 'log' })
  })

  test("an entry's mode is the store's for all its statements (SQLite: fk-off if one needs it)", async () => {
    const store = recordingStore()
    const mixed = entry(2, ['INSERT INTO t VALUES (2)'])
    mixed.statements.push({ sql: 'INSERT INTO t VALUES (3)', params: [], settings: off })
    mixed.affected.push(1)
    await applyEntries(store, [entry(1, ['INSERT INTO t VALUES (1)']), mixed], 'log')
    expect(store.calls.filter((c) => c.startsWith('begin'))).toEqual(['begin', 'begin fk-off'])
    expect(store.state.offset).toBe(2)
  })

  test('the entry-by-entry retry after a failure keeps the part’s mode', async () => {
    const store = recordingStore()
    const err = new StoreError('FOREIGN KEY constraint failed', { rejectedByServer: true })
    store.result = (s) => {
      if (s.sql.includes('(4)')) throw err
      return { affectedRows: 1, insertId: 0 }
    }
    store.state = { offset: 2, logId: 'log' } // entries 1 and 2 applied before
    const entries = [3, 4].map((n) => entry(n, [`INSERT INTO t VALUES (${n})`], off))
    await expect(applyEntries(store, entries, 'log')).rejects.toBeInstanceOf(ApplyError)
    expect(store.calls.filter((c) => c.startsWith('begin'))).toEqual(['begin fk-off', 'begin fk-off', 'begin fk-off'])
    expect(store.state.offset).toBe(3)
  })
})
