import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { type TempDir, tempDir } from '../../test/support/util.ts'
import type { Param } from '../entry.ts'
import { DdbError, StoreError } from '../errors.ts'
import { FK_OFF, FK_ON } from './sqlite-foreign-keys.ts'
import { openSqliteStore, type SqliteStore } from './sqlite-store.ts'
import type { StoreStatement } from './store.ts'

let dir: TempDir
let store: SqliteStore

beforeEach(async () => {
  dir = await tempDir('ddb-sqlite-store-')
  store = openSqliteStore(join(dir.path, 'store.sqlite'))
  const tx = await store.begin()
  await tx.runMany(
    [
      'CREATE TABLE parent (id INTEGER PRIMARY KEY)',
      'CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INT REFERENCES parent (id) ON DELETE CASCADE)',
      'CREATE TABLE pinned (id INTEGER PRIMARY KEY, parent_id INT REFERENCES parent (id))',
      'INSERT INTO parent VALUES (1), (2), (3)',
      'INSERT INTO child VALUES (10, 1), (20, 2)',
      'INSERT INTO pinned VALUES (30, 3)',
    ].map((sql) => statement(sql)),
  )
  await tx.commit()
})

afterEach(async () => {
  await store.close()
  await dir.remove()
})

/** A statement as the writer hands it to the store, with its session's settings. */
function statement(sql: string, settings?: Record<string, Param>): StoreStatement {
  return { db: null, sql, params: [], ...(settings ? { settings } : {}) }
}

const checksOff = { foreign_key_checks: 0 }

/** Runs one statement in a writer's transaction of the mode it needs, and commits. */
async function write(sql: string, settings?: Record<string, Param>): Promise<void> {
  const s = statement(sql, settings)
  const tx = await store.begin(store.transactionMode([s]))
  try {
    await tx.runMany([s])
    await tx.commit()
  } catch (err) {
    await tx.rollback()
    throw err
  }
}

async function ids(table: string): Promise<number[]> {
  return (await store.read(null, `SELECT id FROM ${table} ORDER BY id`, [])).rows.map((r) => Number(r[0]))
}

async function failure(p: Promise<unknown>): Promise<StoreError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(StoreError)
  return err as StoreError
}

describe('transactionMode', () => {
  test.each<[string, Record<string, Param> | undefined, string]>([
    ['INSERT INTO child VALUES (1, 1)', undefined, FK_ON],
    ['INSERT INTO child VALUES (1, 1)', { foreign_key_checks: 1, sql_mode: '' }, FK_ON],
    ['INSERT INTO child VALUES (1, 1)', { time_zone: '+00:00' }, FK_ON],
    ['INSERT INTO child VALUES (1, 1)', { foreign_key_checks: 0 }, FK_OFF],
    ['INSERT INTO child VALUES (1, 1)', { foreign_key_checks: 'OFF' }, FK_OFF],
    ['DROP TABLE parent', undefined, FK_OFF],
    ['/* a comment */ drop table if exists "parent"', undefined, FK_OFF],
    ['DROP VIEW v', undefined, FK_ON],
    ["INSERT INTO t VALUES ('DROP TABLE parent')", undefined, FK_ON],
  ])('%s with settings %j: %s', (sql, settings, mode) => {
    expect(store.transactionMode([{ sql, ...(settings ? { settings } : {}) }])).toBe(mode)
  })

  test("one statement that needs foreign keys off makes the entry's mode fk-off", () => {
    expect(
      store.transactionMode([
        { sql: 'CREATE TABLE "ddb_rebuild_parent" (id INTEGER PRIMARY KEY)' },
        { sql: 'DROP TABLE "parent"' },
        { sql: 'ALTER TABLE "ddb_rebuild_parent" RENAME TO "parent"' },
      ]),
    ).toBe(FK_OFF)
    expect(store.transactionMode([])).toBe(FK_ON)
  })
})

describe('foreign keys on (the default)', () => {
  test('an orphan child row is refused, as a child row (MySQL 1452)', async () => {
    const err = await failure(write('INSERT INTO child VALUES (11, 99)'))
    expect(err.storeCode).toBe('SQLITE_CONSTRAINT_FOREIGNKEY')
    expect(err.rejectedByServer).toBe(true)
    expect(err.message).toStartWith('Cannot add or update a child row: a foreign key constraint fails')
    expect(await ids('child')).toEqual([10, 20])
  })

  test('updating a child row to an orphan is refused as a child row', async () => {
    const err = await failure(write('UPDATE child SET parent_id = 99 WHERE id = 10'))
    expect(err.message).toStartWith('Cannot add or update a child row')
  })

  test('deleting or re-keying a referenced parent row is refused, as a parent row (MySQL 1451)', async () => {
    expect((await failure(write('DELETE FROM parent WHERE id = 3'))).message).toStartWith(
      'Cannot delete or update a parent row: a foreign key constraint fails',
    )
    expect((await failure(write('UPDATE parent SET id = 33 WHERE id = 3'))).message).toStartWith(
      'Cannot delete or update a parent row',
    )
    expect(await ids('parent')).toEqual([1, 2, 3])
  })

  test('ON DELETE CASCADE deletes the children', async () => {
    await write('DELETE FROM parent WHERE id = 1')
    expect(await ids('child')).toEqual([20])
  })

  test('a client transaction (ddb sql, any client) is checked too', async () => {
    const tx = await store.beginClientTransaction()
    const err = await failure(tx.runMany([statement('INSERT INTO child VALUES (11, 99)')]))
    expect(err.message).toStartWith('Cannot add or update a child row')
    await tx.runMany([statement('INSERT INTO child VALUES (12, 2)')])
    await tx.commit()
    expect(await ids('child')).toEqual([10, 12, 20])
  })

  test('a deferred foreign key still violated makes COMMIT refuse, and nothing commits', async () => {
    await write(
      'CREATE TABLE later (id INTEGER PRIMARY KEY, parent_id INT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)',
    )
    expect(store.commitCanRefuse).toBe(true)
    const tx = await store.begin()
    await tx.runMany([statement('INSERT INTO later VALUES (1, 99)')])
    const err = await failure(tx.commit())
    expect(err.rejectedByServer).toBe(true)
    expect(err.storeCode).toBe('SQLITE_CONSTRAINT_FOREIGNKEY')
    await tx.rollback()
    expect(await ids('later')).toEqual([])
    await write('INSERT INTO child VALUES (11, 1)') // the writer is free again
  })
})

describe('foreign_key_checks = 0: foreign keys off, as MySQL has them', () => {
  test('an orphan is accepted and a parent delete does not cascade; the next default transaction checks again', async () => {
    await write('INSERT INTO child VALUES (11, 99)', checksOff)
    await write('DELETE FROM parent WHERE id = 1', checksOff)
    await write('DELETE FROM parent WHERE id = 3', checksOff)
    expect(await ids('child')).toEqual([10, 11, 20])
    expect(await ids('parent')).toEqual([2])
    await failure(write('INSERT INTO child VALUES (12, 98)'))
    await write('DELETE FROM parent WHERE id = 2')
    expect(await ids('child')).toEqual([10, 11])
  })

  test('runAutocommit runs a statement in the mode its settings need', async () => {
    await store.runAutocommit(statement('INSERT INTO child VALUES (11, 99)', checksOff))
    await failure(store.runAutocommit(statement('INSERT INTO child VALUES (12, 98)')))
    expect(await ids('child')).toEqual([10, 11, 20])
  })

  test("DROP TABLE runs with foreign keys off: the rows that referenced the table's rows stay", async () => {
    // The table rebuild of ALTER TABLE … ADD FOREIGN KEY, as the MySQL translation writes it.
    const rebuild = [
      'CREATE TABLE "ddb_rebuild_parent" (id INTEGER PRIMARY KEY, name TEXT)',
      'INSERT INTO "ddb_rebuild_parent" (id) SELECT id FROM "parent" ORDER BY rowid',
      'DROP TABLE "parent"',
      'ALTER TABLE "ddb_rebuild_parent" RENAME TO "parent"',
    ].map((sql) => statement(sql))
    const tx = await store.begin(store.transactionMode(rebuild))
    await tx.runMany(rebuild)
    await tx.commit()
    expect(await ids('child')).toEqual([10, 20])
    expect(await ids('pinned')).toEqual([30])
    await failure(write('INSERT INTO child VALUES (11, 99)')) // and the children still reference the new table
    await write('DELETE FROM parent WHERE id = 1')
    expect(await ids('child')).toEqual([20])
  })
})

describe("a client's transaction begins in the mode its first statement needs", () => {
  test('with foreign_key_checks = 0 it runs unchecked; a statement that needs checks is refused, and it goes on', async () => {
    const tx = await store.beginClientTransaction()
    await tx.runMany([statement('INSERT INTO child VALUES (11, 99)', checksOff)])
    const err = await tx.runMany([statement('INSERT INTO child VALUES (12, 98)')]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DdbError)
    expect(err).toMatchObject({ code: 'UNSUPPORTED' })
    expect((err as Error).message).toContain('set it before BEGIN')
    await tx.runMany([statement('INSERT INTO child VALUES (13, 97)', checksOff)])
    await tx.commit()
    expect(await ids('child')).toEqual([10, 11, 13, 20])
  })

  test('a read begins it too, in the mode of its settings', async () => {
    const tx = await store.beginClientTransaction()
    await tx.read(null, 'SELECT 1', [], checksOff)
    await tx.runMany([statement('INSERT INTO child VALUES (11, 99)', checksOff)])
    await expect(tx.runMany([statement('INSERT INTO child VALUES (12, 1)')])).rejects.toMatchObject({
      code: 'UNSUPPORTED',
    })
    await tx.commit()
    expect(await ids('child')).toEqual([10, 11, 20])
  })

  test('DROP TABLE after statements that need checks is refused with the reason', async () => {
    const tx = await store.beginClientTransaction()
    await tx.runMany([statement('INSERT INTO child VALUES (11, 1)')])
    await expect(tx.runMany([statement('DROP TABLE pinned')])).rejects.toThrow('DROP TABLE inside a transaction')
    await tx.rollback()
    expect(await ids('child')).toEqual([10, 20])
  })

  test('savepoints made before its first statement are made after its BEGIN', async () => {
    const tx = await store.beginClientTransaction()
    await tx.savepoint('a')
    await tx.savepoint('b')
    await tx.release('b')
    await expect(tx.rollbackTo('b')).rejects.toThrow('no such savepoint: b')
    await tx.runMany([statement('INSERT INTO child VALUES (11, 99)', checksOff)])
    await tx.rollbackTo('a')
    await tx.runMany([statement('INSERT INTO child VALUES (12, 98)', checksOff)])
    await tx.release('a')
    await tx.commit()
    expect(await ids('child')).toEqual([10, 12, 20])
  })

  test('one that ends before any statement ran commits or rolls back nothing, and frees the writer', async () => {
    const tx = await store.beginClientTransaction()
    await tx.savepoint('a')
    await tx.commit()
    const other = await store.beginClientTransaction()
    await other.rollback()
    await write('INSERT INTO child VALUES (11, 1)')
    expect(await ids('child')).toEqual([10, 11, 20])
  })
})
