import { describe, expect, test } from 'bun:test'
import type { Client } from '../src/wire/client.ts'
import { type Cluster, withCluster } from './support/cluster.ts'
import { select } from './support/compare.ts'
import { type DdbNode, runDdb, statusOf, waitApplied } from './support/ddb.ts'

/** Runs statements one by one on one client (its session keeps USE); returns the last write's offset. */
async function run(c: Client, statements: string[]): Promise<number> {
  let offset = 0
  for (const sql of statements) {
    const [answer] = await c.query(sql)
    if (answer?.kind === 'write') offset = answer.offset
  }
  return offset
}

/** The databases among `names` that exist on a node. */
async function databases(node: DdbNode, names: string[]): Promise<string[]> {
  const found = await select(
    node,
    `SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name IN (${names.map((n) => `'${n}'`).join(', ')}) ORDER BY schema_name`,
  )
  return found.map((r) => String(r.name))
}

/** The master's offset, the slave's applied offset (status), and the offset its store holds must all agree. */
async function expectCaughtUp(cluster: Cluster, slave: DdbNode): Promise<void> {
  const { master } = cluster
  const m = await statusOf(master)
  const offset = m.role === 'master' ? m.offset : -1
  await waitApplied(slave, offset)
  const s = await statusOf(slave)
  expect(s.role === 'slave' && { applied: s.applied, error: s.error }).toEqual({ applied: offset, error: null })
  expect(await cluster.offsetOf(slave)).toBe(offset)
}

describe('replication filters on mysql stores', () => {
  test('--replicate-db and --ignore-db apply only the chosen databases, and skipped entries still advance the offset', async () => {
    await using cluster = await withCluster({ store: 'mysql', slaves: 0 })
    const { master } = cluster
    const notBStore = await cluster.newStore()
    // One slave follows live, the other catches up from the log afterwards: both paths filter.
    const onlyA = await cluster.addSlave({ args: ['--replicate-db', 'a'] })
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
    const notB = await cluster.addSlave({ store: notBStore, args: ['--ignore-db', 'b', '--ignore-db', 'nothing'] })

    for (const slave of [onlyA, notB]) {
      await expectCaughtUp(cluster, slave)
      expect(await select(slave, 'SELECT * FROM a.t ORDER BY id')).toEqual([{ id: 1, v: 'a-uno' }])
    }
    expect(await select(master, 'SELECT * FROM b.t ORDER BY id')).toEqual([{ id: 1, v: 'b-uno' }])

    // --replicate-db a: database a only; CREATE DATABASE b counts as b's, and app's entries are skipped.
    expect(await databases(onlyA, ['a', 'b'])).toEqual(['a'])
    await expect(select(onlyA, 'SELECT * FROM app.main_t')).rejects.toThrow(/main_t/)
    // --ignore-db b: everything else, including the default database.
    expect(await databases(notB, ['a', 'b'])).toEqual(['a'])
    expect(await select(notB, 'SELECT * FROM app.main_t ORDER BY id')).toEqual([{ id: 100 }, { id: 101 }])

    // Live, after both caught up: a's write arrives, b's is skipped but still counted.
    await run(c, [
      'USE b',
      "INSERT INTO t (id, v) VALUES (2, 'b-two')",
      'USE a',
      "INSERT INTO t (id, v) VALUES (3, 'a-three')",
      'USE b',
      'DELETE FROM t',
    ])
    for (const slave of [onlyA, notB]) {
      await expectCaughtUp(cluster, slave)
      expect(await select(slave, 'SELECT * FROM a.t ORDER BY id')).toEqual([
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
    const again = await cluster.restartSlave(notB, { args: ['--ignore-db', 'b'] })
    const last = await run(c, ['USE a', "INSERT INTO t (id, v) VALUES (4, 'a-four')"])
    await waitApplied(again, last)
    expect(await select(again, 'SELECT id FROM a.t ORDER BY id')).toEqual([{ id: 1 }, { id: 3 }, { id: 4 }])
    expect(await cluster.offsetOf(again)).toBe(last)
  })
})

describe('replication filters on sqlite stores', () => {
  test('entries without a database are never filtered', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
    const { master } = cluster
    const c = await master.client()
    await run(c, [
      'CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR(20))',
      "INSERT INTO t (id, v) VALUES (1, 'one'), (2, 'two')",
    ])
    const slave = await cluster.addSlave({ args: ['--replicate-db', 'a', '--ignore-db', 'main', '--ignore-db', 'app'] })
    await run(c, [
      "UPDATE t SET v = 'uno' WHERE id = 1",
      'DELETE FROM t WHERE id = 2',
      "INSERT INTO t (id, v) VALUES (3, 'three')",
    ])
    await expectCaughtUp(cluster, slave)
    expect(await select(slave, 'SELECT * FROM t ORDER BY id')).toEqual([
      { id: 1, v: 'uno' },
      { id: 3, v: 'three' },
    ])
    expect(await select(slave, 'SELECT * FROM t ORDER BY id')).toEqual(
      await select(master, 'SELECT * FROM t ORDER BY id'),
    )
    const s = await statusOf(slave)
    expect(s.role === 'slave' && s.filters).toEqual({ replicateDb: ['a'], ignoreDb: ['main', 'app'] })
  })
})
