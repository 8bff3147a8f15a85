import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import type { Client } from '../src/wire/client.ts'
import { type Backend, createBackend } from './support/backends.ts'
import { type DdbNode, rowsOf, runDdb, startMaster, startSlave, statusOf, waitApplied } from './support/ddb.ts'

/** Runs statements one by one on one client (its session keeps USE); returns the last write's offset. */
async function run(c: Client, statements: string[]): Promise<number> {
  let offset = 0
  for (const sql of statements) {
    const [answer] = await c.query(sql)
    if (answer?.kind === 'write') offset = answer.offset
  }
  return offset
}

async function rows(node: DdbNode, sql: string): Promise<Record<string, unknown>[]> {
  const c = await node.client()
  try {
    return rowsOf(await c.query(sql))
  } finally {
    c.close()
  }
}

/** The databases among `names` that exist on a node. */
async function databases(node: DdbNode, names: string[]): Promise<string[]> {
  const found = await rows(
    node,
    `SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name IN (${names.map((n) => `'${n}'`).join(', ')}) ORDER BY schema_name`,
  )
  return found.map((r) => String(r.name))
}

/** The master's offset, the slave's applied offset (status), and the offset its store holds must all agree. */
async function expectCaughtUp(backend: Backend, master: DdbNode, slave: DdbNode, slaveStore: string): Promise<void> {
  const m = await statusOf(master)
  const offset = m.role === 'master' ? m.offset : -1
  await waitApplied(slave, offset)
  const s = await statusOf(slave)
  expect(s.role === 'slave' && { applied: s.applied, error: s.error }).toEqual({ applied: offset, error: null })
  expect(await backend.offsetOf(slaveStore)).toBe(offset)
}

describe('replication filters on mysql stores', () => {
  let backend: Backend
  beforeAll(() => {
    backend = createBackend('mysql')
  })
  afterAll(async () => {
    await backend.close()
  })

  test('--replicate-db and --ignore-db apply only the chosen databases, and skipped entries still advance the offset', async () => {
    await using master = await startMaster(await backend.newStore(), join(backend.dir, 'filters.log'))
    const onlyAStore = await backend.newStore()
    const notBStore = await backend.newStore()
    // One slave follows live, the other catches up from the log afterwards: both paths filter.
    await using onlyA = await startSlave(master.address, onlyAStore, { args: ['--replicate-db', 'a'] })
    const c = await master.client()
    await run(c, [
      'CREATE DATABASE a',
      'CREATE DATABASE b',
      'CREATE TABLE main_t (id INTEGER PRIMARY KEY)',
      'INSERT INTO main_t (id) VALUES (100)',
      'USE a',
      'CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR(20))',
      "INSERT INTO t (id, v) VALUES (1, 'a-one'), (2, 'a-two')",
      'USE b',
      'CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR(20))',
      "INSERT INTO t (id, v) VALUES (1, 'b-one')",
      "UPDATE t SET v = 'b-uno' WHERE id = 1",
      'USE a',
      "UPDATE t SET v = 'a-uno' WHERE id = 1",
      'DELETE FROM t WHERE id = 2',
      'USE app',
      'INSERT INTO main_t (id) VALUES (101)',
    ])
    await using notB = await startSlave(master.address, notBStore, {
      args: ['--ignore-db', 'b', '--ignore-db', 'nothing'],
    })

    for (const [slave, store] of [
      [onlyA, onlyAStore],
      [notB, notBStore],
    ] as const) {
      await expectCaughtUp(backend, master, slave, store)
      expect(await rows(slave, 'SELECT * FROM a.t ORDER BY id')).toEqual([{ id: 1, v: 'a-uno' }])
    }
    expect(await rows(master, 'SELECT * FROM b.t ORDER BY id')).toEqual([{ id: 1, v: 'b-uno' }])

    // --replicate-db a: database a only; CREATE DATABASE b counts as b's, and app's entries are skipped.
    expect(await databases(onlyA, ['a', 'b'])).toEqual(['a'])
    await expect(rows(onlyA, 'SELECT * FROM app.main_t')).rejects.toThrow(/main_t/)
    // --ignore-db b: everything else, including the default database.
    expect(await databases(notB, ['a', 'b'])).toEqual(['a'])
    expect(await rows(notB, 'SELECT * FROM app.main_t ORDER BY id')).toEqual([{ id: 100 }, { id: 101 }])

    // Live, after both caught up: a's write arrives, b's is skipped but still counted.
    await run(c, [
      'USE b',
      "INSERT INTO t (id, v) VALUES (2, 'b-two')",
      'USE a',
      "INSERT INTO t (id, v) VALUES (3, 'a-three')",
      'USE b',
      'DELETE FROM t',
    ])
    for (const [slave, store] of [
      [onlyA, onlyAStore],
      [notB, notBStore],
    ] as const) {
      await expectCaughtUp(backend, master, slave, store)
      expect(await rows(slave, 'SELECT * FROM a.t ORDER BY id')).toEqual([
        { id: 1, v: 'a-uno' },
        { id: 3, v: 'a-three' },
      ])
    }

    // The filters show in the slave's status.
    const a = await statusOf(onlyA)
    expect(a.role === 'slave' && a.filters).toEqual({ replicateDb: ['a'], ignoreDb: [] })
    const b = await statusOf(notB)
    expect(b.role === 'slave' && b.filters).toEqual({ replicateDb: [], ignoreDb: ['b', 'nothing'] })
    const text = await runDdb(['status', '--to', onlyA.address])
    expect(text.stdout).toMatch(/^replicate +a$/m)
    const json = await runDdb(['status', '--to', notB.address, '--json'])
    expect(JSON.parse(json.stdout).filters).toEqual({ replicateDb: [], ignoreDb: ['b', 'nothing'] })

    // A restart resumes from the stored offset with the same filters and nothing replayed twice.
    await notB.stop()
    await using again = await startSlave(master.address, notBStore, { args: ['--ignore-db', 'b'] })
    const last = await run(c, ['USE a', "INSERT INTO t (id, v) VALUES (4, 'a-four')"])
    await waitApplied(again, last)
    expect(await rows(again, 'SELECT id FROM a.t ORDER BY id')).toEqual([{ id: 1 }, { id: 3 }, { id: 4 }])
    expect(await backend.offsetOf(notBStore)).toBe(last)
  })
})

describe('replication filters on sqlite stores', () => {
  let backend: Backend
  beforeAll(() => {
    backend = createBackend('sqlite')
  })
  afterAll(async () => {
    await backend.close()
  })

  test('entries without a database are never filtered', async () => {
    await using master = await startMaster(await backend.newStore(), join(backend.dir, 'filters.log'))
    const c = await master.client()
    await run(c, [
      'CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR(20))',
      "INSERT INTO t (id, v) VALUES (1, 'one'), (2, 'two')",
    ])
    const store = await backend.newStore()
    await using slave = await startSlave(master.address, store, {
      args: ['--replicate-db', 'a', '--ignore-db', 'main', '--ignore-db', 'app'],
    })
    await run(c, [
      "UPDATE t SET v = 'uno' WHERE id = 1",
      'DELETE FROM t WHERE id = 2',
      "INSERT INTO t (id, v) VALUES (3, 'three')",
    ])
    await expectCaughtUp(backend, master, slave, store)
    expect(await rows(slave, 'SELECT * FROM t ORDER BY id')).toEqual([
      { id: 1, v: 'uno' },
      { id: 3, v: 'three' },
    ])
    expect(await rows(slave, 'SELECT * FROM t ORDER BY id')).toEqual(await rows(master, 'SELECT * FROM t ORDER BY id'))
    const s = await statusOf(slave)
    expect(s.role === 'slave' && s.filters).toEqual({ replicateDb: ['a'], ignoreDb: ['main', 'app'] })
  })
})
