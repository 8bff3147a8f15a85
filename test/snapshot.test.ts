/**
 * Snapshot bootstrap (issue 13): a master adopts the data its store already holds, and a
 * slave whose position is before the log's start (a new slave of it) receives a
 * consistent snapshot at an exact offset, loads it into staging, takes it over in one
 * step and streams on from there; killed mid-way it goes on from the last chunk it
 * committed; a master restarted mid-way is tolerated. Real processes, both stores.
 */
import { describe, expect, test } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Cluster, type StoreKind, withCluster } from './support/cluster.ts'
import { expectSlavesEqualMaster, masterOffset, select, startWriters, waitCaughtUp } from './support/compare.ts'
import { type DdbNode, runDdb, statusOf } from './support/ddb.ts'
import { freePort, waitFor } from './support/util.ts'

/** Rows in the big table: enough for a load that takes a while, so it can be killed mid-way… */
const BIG_ROWS = 300_000
/** …and, in the test of adoption under writes, the million. */
const MILLION = 1_000_000

/** The tables a team already has before it starts ddb: foreign keys, BLOBs, a view, a trigger, a table with no key. */
function existingSchema(kind: StoreKind, bigRows: number): string[] {
  if (kind === 'mysql')
    return [
      'CREATE DATABASE IF NOT EXISTS app CHARACTER SET utf8mb4',
      'CREATE TABLE app.parent (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, UNIQUE KEY (name))',
      `CREATE TABLE app.child (id BIGINT AUTO_INCREMENT PRIMARY KEY, parent_id INT NOT NULL, data BLOB, amount DECIMAL(12,2),
         at DATETIME(6), f FLOAT, d DOUBLE, twice INT AS (parent_id * 2) VIRTUAL,
         FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE)`,
      'CREATE TABLE app.big (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL)',
      'CREATE TABLE app.nokey (a VARCHAR(10), b INT)',
      'CREATE TABLE app.acked (id BIGINT PRIMARY KEY)',
      'CREATE VIEW app.parent_children AS SELECT p.name, COUNT(*) AS n FROM app.parent p JOIN app.child c ON c.parent_id = p.id GROUP BY p.name',
      'CREATE TRIGGER app.nokey_ai AFTER INSERT ON app.nokey FOR EACH ROW UPDATE app.parent SET name = CONCAT(name, "!") WHERE id = 1',
      `INSERT INTO app.parent (name) SELECT CONCAT('p', seq) FROM app.seq_1_to_300`,
      `INSERT INTO app.child (parent_id, data, amount, at, f, d)
         SELECT 1 + seq % 300, UNHEX(CONCAT(LPAD(HEX(seq % 256), 2, '0'), '00FF')), seq / 7, '2024-02-29 13:14:15.123456', seq / 3, seq / 7 FROM app.seq_1_to_3000`,
      `INSERT INTO app.big SELECT seq, CONCAT('value ', seq) FROM app.seq_1_to_${bigRows}`,
      `INSERT INTO app.nokey VALUES ('x', 1), ('y', 2), ('x', 1)`,
      'DELETE FROM app.parent WHERE id = 300', // the AUTO_INCREMENT counter is past every row
    ]
  return [
    'CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE)',
    'CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE, data BLOB, amount REAL)',
    'CREATE INDEX child_parent ON child (parent_id)',
    'CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT NOT NULL)',
    'CREATE TABLE nokey (a TEXT, b INTEGER)',
    'CREATE TABLE acked (id INTEGER PRIMARY KEY)',
    'CREATE VIEW parent_children AS SELECT p.name, COUNT(*) AS n FROM parent p JOIN child c ON c.parent_id = p.id GROUP BY p.name',
    `CREATE TRIGGER nokey_ai AFTER INSERT ON nokey BEGIN UPDATE parent SET name = name || '!' WHERE id = 1; END`,
    `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 300) INSERT INTO parent (name) SELECT 'p' || i FROM s`,
    `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 3000)
       INSERT INTO child (parent_id, data, amount) SELECT 1 + i % 300, unhex(printf('%02X00FF', i % 256)), i / 7.0 FROM s`,
    `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${bigRows}) INSERT INTO big SELECT i, 'value ' || i FROM s`,
    `INSERT INTO nokey VALUES ('x', 1), ('y', 2), ('x', 1)`,
    'DELETE FROM parent WHERE id = 300',
  ]
}

/** A master whose store held data before ddb started on it, and no slave yet. */
async function clusterWithExistingData(kind: StoreKind, bigRows = BIG_ROWS): Promise<Cluster> {
  const cluster = await withCluster({ store: kind, slaves: 0, masterDown: true, compiled: true })
  try {
    for (const sql of existingSchema(kind, bigRows)) await cluster.direct(cluster.masterStore, sql)
    await cluster.restartMaster()
  } catch (err) {
    await cluster[Symbol.asyncDispose]()
    throw err
  }
  return cluster
}

/** The big table, summed on the store itself (too big to compare row by row through ddb). */
async function bigSummary(cluster: Cluster, node: DdbNode): Promise<unknown> {
  const sql =
    cluster.kind === 'mysql'
      ? 'SELECT COUNT(*) AS n, SUM(id) AS ids, BIT_XOR(CRC32(v)) AS crc FROM app.big'
      : 'SELECT COUNT(*) AS n, SUM(id) AS ids, SUM(length(v)) AS len FROM big'
  const [row] = await cluster.direct(node === cluster.master ? cluster.masterStore : cluster.storeOf(node), sql)
  return JSON.parse(JSON.stringify(row, (_, v) => (typeof v === 'bigint' ? String(v) : v)))
}

/** A table of `node` through its MySQL port, its numbers as numbers (MySQL's DECIMALs are text, SQLite's numbers). */
async function normalized(node: DdbNode, table: string): Promise<unknown[]> {
  const rows = await select(node, `SELECT * FROM ${table} ORDER BY 1, 2`)
  const number = (v: unknown) => (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v)
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, number(v)])))
}

/** Waits until the slave has stopped applying (an entry or a snapshot it cannot take). */
async function waitStopped(slave: DdbNode): Promise<void> {
  await waitFor(
    async () => {
      const s = await statusOf(slave)
      return s.role === 'slave' && s.stopped
    },
    { timeoutMs: 30_000, what: 'the slave to stop' },
  )
}

/** Every table equal (the big one by its summary), and the same views and AUTO_INCREMENT counters. */
async function expectEqual(cluster: Cluster, slave: DdbNode): Promise<void> {
  await expectSlavesEqualMaster(cluster.master, [slave], cluster.kind)
  expect(await bigSummary(cluster, slave)).toEqual(await bigSummary(cluster, cluster.master))
  expect(await select(slave, 'SELECT * FROM parent_children ORDER BY name')).toEqual(
    await select(cluster.master, 'SELECT * FROM parent_children ORDER BY name'),
  )
}

/** Waits until the slave's status shows its snapshot load past `rows`. */
async function loadPast(slave: DdbNode, rows: number): Promise<number> {
  let loaded = 0
  await waitFor(
    async () => {
      const s = await statusOf(slave)
      loaded = s.role === 'slave' && s.snapshot ? s.snapshot.rows : 0
      return loaded > rows
    },
    { timeoutMs: 60_000, what: `the snapshot load past ${rows} rows`, intervalMs: 20 },
  )
  return loaded
}

const resumedRows = (log: string) => Number(/snapshot load resumed [^\n]*rows=(\d+)/.exec(log)?.[1] ?? -1)

for (const kind of ['sqlite', 'mysql'] as const) {
  describe(`snapshots on ${kind} stores`, () => {
    test('a master adopts the data its store held (foreign keys, BLOBs, a view, a trigger, 1,000,000 rows in one table); a new slave gets it by snapshot while 8 clients write', async () => {
      await using cluster = await clusterWithExistingData(kind, MILLION)
      // Offset 1 stands for the data adopted: the log starts after it.
      expect((await runDdb(['log', 'tail', '--log', cluster.log])).stderr).toBe('log starts after offset 1\n')
      expect(cluster.master.log()).toContain('adopted the data already in the store')

      const writers = startWriters(cluster.master, 8)
      const slave = await cluster.addSlave()
      // A MySQL master gets a SQLite slave too, of its one database app.
      const sqliteSlave =
        kind === 'mysql'
          ? await cluster.addSlave({ store: await cluster.newStore('sqlite'), args: ['--replicate-db', 'app'] })
          : null
      for (const s of [slave, sqliteSlave])
        if (s)
          await waitFor(async () => (await statusOf(s)).role === 'slave' && /snapshot loaded/.test(s.log()), {
            timeoutMs: 180_000,
            what: 'the snapshot to load',
          })
      await writers.stop()
      expect(writers.acked.length).toBeGreaterThan(0)
      await expectEqual(cluster, slave)
      for (const s of [slave, sqliteSlave]) {
        if (!s) continue
        await waitCaughtUp(s, await masterOffset(cluster.master), 60_000)
        const ids = (await select(s, 'SELECT id FROM acked')).map((r) => Number(r.id))
        expect(new Set(ids)).toEqual(new Set(writers.acked)) // every write acknowledged during the snapshot, once
      }
      if (sqliteSlave)
        for (const table of ['parent', 'child', 'nokey', 'parent_children'])
          expect(await normalized(sqliteSlave, table), table).toEqual(await normalized(cluster.master, table))
      const checksum = await runDdb(['checksum', '--to', cluster.master.address])
      expect(checksum.stdout).toMatch(/big: equal \(\d+ rows\)/)
      expect(checksum.stdout).not.toContain('DIFFERS')
      expect(checksum.stderr).toContain(`and ${sqliteSlave ? 2 : 1} slave(s)`)
      expect(checksum.code).toBe(0) // every table, the big one too, equal at one offset, on every slave
      // The write pause is the moment the snapshot's read view was taken.
      expect(cluster.master.log()).toMatch(/snapshot opened [^\n]*writePauseMs=[\d.]+/)
      const status = await statusOf(slave)
      expect(status.role === 'slave' && status.snapshot).toBe(null)
      expect(slave.log()).toMatch(/snapshot loading [^\n]*percent=/) // progress while it loads
    }, 240_000)

    test('a slave killed -9 mid-snapshot goes on from the last chunk it committed, at two points', async () => {
      await using cluster = await clusterWithExistingData(kind)
      let slave = await cluster.addSlave()
      let before = 0
      for (const at of [BIG_ROWS / 4, BIG_ROWS / 2]) {
        before = await loadPast(slave, at)
        await slave.kill9()
        slave = await cluster.restartSlave(slave)
        await waitFor(() => resumedRows(slave.log()) >= 0, { timeoutMs: 30_000, what: 'the load to resume' })
        // It did not load again what it had: it resumed at or past the rows it had shown (chunks commit with their position).
        expect(resumedRows(slave.log())).toBeGreaterThanOrEqual(Math.min(before, at) - 10_000)
        expect(resumedRows(slave.log())).toBeGreaterThan(0)
      }
      await waitFor(() => /snapshot loaded/.test(slave.log()), { timeoutMs: 120_000, what: 'the snapshot to load' })
      await cluster.master.client().then((c) => c.query('INSERT INTO acked (id) VALUES (1)'))
      await expectEqual(cluster, slave)
    }, 240_000)

    test('a master restarted mid-snapshot: the slave starts a new snapshot and ends equal', async () => {
      await using cluster = await clusterWithExistingData(kind)
      const slave = await cluster.addSlave()
      await loadPast(slave, BIG_ROWS / 4)
      await cluster.master.kill9()
      await cluster.restartMaster()
      await waitFor(() => /snapshot loaded/.test(slave.log()), { timeoutMs: 120_000, what: 'the snapshot to load' })
      expect(slave.log()).toContain('the master no longer has the snapshot being loaded; starting again')
      await expectEqual(cluster, slave)
    }, 240_000)

    test('ddb snapshot --out writes the snapshot to a file; a slave --from-snapshot starts from it and follows on; a cut file is refused', async () => {
      await using cluster = await clusterWithExistingData(kind)
      const file = join(cluster.dir, 'snapshot.ndjson')
      const taken = await runDdb(['snapshot', '--to', cluster.master.address, '--out', file])
      expect(taken.code).toBe(0)
      expect(taken.stderr).toMatch(/snapshot written to .*snapshot\.ndjson: \d+ rows/)
      await cluster.master.client().then((c) => c.query('INSERT INTO acked (id) VALUES (3)'))
      // Taking a snapshot is not being a replica: the registry does not wait for it.
      const master = await statusOf(cluster.master)
      expect(master.role === 'master' && master.replicas).toEqual([])

      const slave = await cluster.addSlave({ args: ['--from-snapshot', file] })
      await expectEqual(cluster, slave)
      expect(slave.log()).toContain('loading a snapshot file')
      expect(cluster.master.log().match(/snapshot opened/g)).toHaveLength(1) // the file's: the slave needed none of its own
      // Restarted with the same flag, it has nothing to load and goes on.
      const again = await cluster.restartSlave(slave)
      await waitFor(() => again.log().includes('--from-snapshot has nothing to load'), {
        timeoutMs: 30_000,
        what: 'the restart',
      })

      const cut = join(cluster.dir, 'cut.ndjson')
      const text = readFileSync(file, 'utf8')
      const half = text.slice(0, Math.floor(text.length / 2))
      writeFileSync(cut, half.slice(0, half.lastIndexOf('\n') + 1)) // whole lines, the last ones missing
      const refused = await runDdb([
        'slave',
        '--master',
        cluster.master.address,
        '--db',
        await cluster.newStore(),
        '--from-snapshot',
        cut,
        '--listen',
        `127.0.0.1:${await freePort()}`,
        '--mysql-listen',
        'off',
      ])
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toContain('the file was cut short')
    }, 240_000)

    test('a slave stopped at the start offset streams on without a snapshot; a new one after writes still snapshots', async () => {
      await using cluster = await clusterWithExistingData(kind)
      const first = await cluster.addSlave()
      await waitCaughtUp(first, await masterOffset(cluster.master), 120_000)
      await first.stop()
      await cluster.master.client().then((c) => c.query('INSERT INTO acked (id) VALUES (2)'))
      const again = await cluster.restartSlave(first)
      await expectEqual(cluster, again)
      expect(again.log()).not.toContain('snapshot load started')
    }, 240_000)
  })
}

test('a DDL on a MySQL master during a snapshot is not stalled by it; the slave starts a new snapshot and ends equal', async () => {
  await using cluster = await clusterWithExistingData('mysql')
  const slave = await cluster.addSlave()
  await loadPast(slave, BIG_ROWS / 10)
  const started = Date.now()
  await cluster.master.client().then((c) => c.query('CREATE TABLE ddl_during (id INT PRIMARY KEY)'))
  expect(Date.now() - started).toBeLessThan(10_000) // not held behind the snapshot's metadata locks
  expect(cluster.master.log()).toContain('closing the snapshots being sent, for a DDL')
  await waitFor(() => /snapshot loaded/.test(slave.log()), { timeoutMs: 120_000, what: 'the snapshot to load' })
  await expectEqual(cluster, slave)
  expect(
    await select(slave, "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = 'ddl_during'"),
  ).toEqual([{ n: 1 }])
}, 240_000)

test('a SQLite slave of a MySQL master replays its writes as MySQL ran them: ids past deleted rows, REPLACE, ON DUPLICATE KEY UPDATE, clock defaults, DDL', async () => {
  await using cluster = await clusterWithExistingData('mysql', 1_000)
  const slave = await cluster.addSlave({ store: await cluster.newStore('sqlite'), args: ['--replicate-db', 'app'] })
  const c = await cluster.master.client()
  for (const sql of [
    "INSERT INTO parent (name) VALUES ('after 300')", // id 301: the counter is past the deleted row, on SQLite too
    "REPLACE INTO parent (id, name) VALUES (2, 'replaced')",
    "INSERT INTO parent (id, name) VALUES (3, 'p3') ON DUPLICATE KEY UPDATE name = CONCAT(VALUES(name), ' again')",
    'UPDATE child SET amount = amount * 2 WHERE parent_id = 4 ORDER BY id LIMIT 3',
    'INSERT INTO child (parent_id, data, amount, at) VALUES (1, 0x00ff00, 12.5, NOW(6))',
    'DELETE FROM child WHERE id < 10',
    'CREATE TABLE later (id INT AUTO_INCREMENT PRIMARY KEY, made DATETIME DEFAULT CURRENT_TIMESTAMP, n INT, KEY (n))',
    'INSERT INTO later (n) VALUES (1), (2), (3)',
    'ALTER TABLE later ADD COLUMN note VARCHAR(20) DEFAULT NULL',
    "UPDATE later SET note = 'x' WHERE n > 1",
    'INSERT IGNORE INTO later (n) VALUES (4), (5)', // skipped none: its ids have no gap
  ])
    await c.query(sql)
  await waitCaughtUp(slave, await masterOffset(cluster.master), 60_000)
  for (const table of ['parent', 'child', 'nokey', 'later', 'parent_children'])
    expect(await normalized(slave, table), table).toEqual(await normalized(cluster.master, table))
  const checksum = await runDdb(['checksum', '--to', cluster.master.address])
  expect(checksum.stdout).toMatch(/later: equal \(5 rows\)/)
  expect(checksum.code, checksum.stdout).toBe(0)

  // A write SQLite cannot replay the same stops the slave at it, with the reason: 'p7' is
  // skipped, and InnoDB's ids for the other two rows have a gap where it would have gone.
  await c.query("INSERT IGNORE INTO parent (name) VALUES ('fresh 1'), ('p7'), ('fresh 2')")
  const offset = await masterOffset(cluster.master)
  await waitStopped(slave)
  const s = await statusOf(slave)
  expect(s.role === 'slave' && s.applied).toBe(offset - 1)
  expect(s.role === 'slave' && s.error).toContain('MySQL leaves gaps among them')
}, 240_000)

test('a SQLite slave of a MySQL master needs the one database it copies, and refuses a table it cannot hold, before it loads anything', async () => {
  await using cluster = await withCluster({ store: 'mysql', slaves: 0, masterDown: true, compiled: true })
  await cluster.direct(cluster.masterStore, 'CREATE DATABASE IF NOT EXISTS app')
  await cluster.direct(cluster.masterStore, 'CREATE TABLE app.t (id INT PRIMARY KEY)')
  await cluster.direct(cluster.masterStore, 'CREATE TABLE app.g (id INT PRIMARY KEY, p POINT)')
  await cluster.restartMaster()
  for (const [args, reason] of [
    [[], 'name the one database it copies with --replicate-db NAME'],
    [['--replicate-db', 'app'], 'table g of database app'],
  ] as const) {
    const slave = await cluster.addSlave({ store: await cluster.newStore('sqlite'), args: [...args] })
    await waitStopped(slave)
    const s = await statusOf(slave)
    expect(s.role === 'slave' && s.error).toContain(reason)
    expect(s.role === 'slave' && s.applied).toBe(0)
  }
})

test('replication filters: a MySQL slave with --replicate-db app gets app from the snapshot, not the other database', async () => {
  await using cluster = await withCluster({ store: 'mysql', slaves: 0, masterDown: true, compiled: true })
  for (const sql of [
    'CREATE DATABASE IF NOT EXISTS app',
    'CREATE DATABASE other',
    'CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT)',
    'CREATE TABLE other.t (id INT PRIMARY KEY, v TEXT)',
    `INSERT INTO app.t VALUES (1, 'a'), (2, 'b')`,
    `INSERT INTO other.t VALUES (1, 'secret')`,
  ])
    await cluster.direct(cluster.masterStore, sql)
  await cluster.restartMaster()
  const slave = await cluster.addSlave({ args: ['--replicate-db', 'app'] })
  await waitCaughtUp(slave, await masterOffset(cluster.master), 60_000)
  const store = cluster.storeOf(slave)
  expect(await cluster.direct(store, 'SELECT id, v FROM app.t ORDER BY id')).toEqual([
    { id: 1, v: 'a' },
    { id: 2, v: 'b' },
  ])
  expect(
    await cluster.direct(store, "SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'other'"),
  ).toEqual([])
})
