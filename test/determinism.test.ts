/**
 * Invariant 4, end to end: a replayed statement means the same on the slave.
 * The master's clock travels with each entry, per-server values (RAND(), UUID(),
 * SYSDATE() …) become literals or are refused, generated keys match, and the
 * log keeps what the client wrote. Every test ends by comparing every table of
 * the master with its slaves, row for row.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { DdbError } from '../src/errors.ts'
import type { Client } from '../src/wire/client.ts'
import { BACKEND_KINDS } from './support/backends.ts'
import { type Cluster, withCluster } from './support/cluster.ts'
import {
  expectSlavesEqualMaster,
  masterOffset,
  select,
  tailLog,
  waitCaughtUp,
  write,
  writeOne,
} from './support/compare.ts'
import type { DdbNode } from './support/ddb.ts'

/** Sends `sql` and expects ddb to refuse it as unsafe, with a message matching `reason`. */
async function expectRefused(c: Client, sql: string, reason: RegExp): Promise<void> {
  const err = await c.query(sql).then(
    () => null,
    (e: unknown) => e,
  )
  expect(err, `${sql} should be refused`).toBeInstanceOf(DdbError)
  expect((err as DdbError).code, sql).toBe('UNSAFE_STATEMENT')
  expect((err as DdbError).message, sql).toMatch(reason)
}

/** The auto-increment key column, as each dialect writes it. */
const AUTO_ID = { sqlite: 'id INTEGER PRIMARY KEY AUTOINCREMENT', mysql: 'id INT AUTO_INCREMENT PRIMARY KEY' } as const

for (const kind of BACKEND_KINDS) {
  describe(`determinism on ${kind} stores`, () => {
    let cluster: Cluster
    let log: string
    let master: DdbNode
    let slave: DdbNode
    let c: Client

    beforeAll(async () => {
      cluster = await withCluster({ store: kind })
      ;({ log, master, slave } = cluster)
      c = await master.client()
    })
    afterAll(async () => {
      c?.close()
      await cluster?.[Symbol.asyncDispose]()
    })

    test("time functions replay at the master's clock, on a slave that applies later", async () => {
      const written = Date.now()
      if (kind === 'mysql') {
        await writeOne(
          c,
          `CREATE TABLE clock (
          id INT PRIMARY KEY,
          created DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
          updated TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
          now6 DATETIME(6), today DATE, unix BIGINT, utc DATETIME, note VARCHAR(20))`,
        )
        await writeOne(
          c,
          'INSERT INTO clock (id, now6, today, unix, utc) VALUES (1, NOW(6), CURDATE(), UNIX_TIMESTAMP(), UTC_TIMESTAMP())',
        )
        await Bun.sleep(30)
        await writeOne(
          c,
          'INSERT INTO clock (id, now6, today, unix, utc) VALUES (2, NOW(6), CURDATE(), UNIX_TIMESTAMP(), UTC_TIMESTAMP()), (3, NOW(6), CURRENT_DATE, UNIX_TIMESTAMP(NOW()), UTC_TIMESTAMP())',
        )
        await Bun.sleep(30)
        expect((await writeOne(c, "UPDATE clock SET note = 'touched' WHERE id = 2")).affectedRows).toBe(1)
        await writeOne(
          c,
          'INSERT INTO clock (id, now6, unix) SELECT id + 10, NOW(6), UNIX_TIMESTAMP() FROM clock ORDER BY id',
        )
        // DDL runs outside the store transaction on MySQL; its clock is pinned all the same (existing rows get the default).
        await Bun.sleep(30)
        await writeOne(c, 'ALTER TABLE clock ADD COLUMN added DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)')
        // On the master the row's defaults and NOW(6) come from the one pinned clock.
        const [row1] = await select(
          master,
          'SELECT created, updated, now6, UNIX_TIMESTAMP(now6) AS epoch, unix FROM clock WHERE id = 1',
        )
        expect(row1!.created).toBe(row1!.now6)
        expect(row1!.updated).toBe(row1!.now6)
        expect(Math.abs(Number(row1!.epoch) * 1000 - written)).toBeLessThan(5_000)
        expect(Number(row1!.unix)).toBe(Math.floor(Number(row1!.epoch)))
        const [row2] = await select(master, 'SELECT created, updated FROM clock WHERE id = 2')
        expect(String(row2!.updated) > String(row2!.created)).toBe(true)
      } else {
        await writeOne(
          c,
          'CREATE TABLE clock (id INTEGER PRIMARY KEY, ts TEXT, dt TEXT, d TEXT, epoch TEXT, ct TEXT, jd REAL, unix INTEGER)',
        )
        await writeOne(
          c,
          "INSERT INTO clock (id, ts, dt, d, epoch) VALUES (1, CURRENT_TIMESTAMP, datetime('now'), date('now'), strftime('%s','now'))",
        )
        await Bun.sleep(30)
        await writeOne(
          c,
          "INSERT INTO clock (id, ts, dt, d, epoch) VALUES (2, CURRENT_TIMESTAMP, datetime('now'), date('now'), strftime('%s','now')), (3, CURRENT_TIMESTAMP, datetime(), date(), strftime('%s'))",
        )
        await Bun.sleep(30)
        expect(
          (
            await writeOne(
              c,
              "UPDATE clock SET ct = CURRENT_TIME, jd = julianday('now'), unix = unixepoch() WHERE id = 2",
            )
          ).affectedRows,
        ).toBe(1)
        await writeOne(
          c,
          "INSERT INTO clock (id, dt, epoch) SELECT id + 10, datetime('now'), strftime('%s','now') FROM clock ORDER BY id",
        )
        await expectRefused(
          c,
          "INSERT INTO clock (id, dt) VALUES (99, datetime('now', 'localtime'))",
          /datetime\('now', 'localtime'\) depends on the server's time zone/,
        )
        const [row1] = await select(master, 'SELECT ts, dt, d, epoch FROM clock WHERE id = 1')
        expect(row1!.ts).toBe(row1!.dt)
        expect(Math.abs(Number(row1!.epoch) * 1000 - written)).toBeLessThan(5_000)
        expect(row1!.d).toBe(new Date(written).toISOString().slice(0, 10))
      }
      // A slave started more than a second later replays the same values, not its own clock.
      await Bun.sleep(1_100)
      // Stopped at the end of the test: the late slave gets none of the later tests' writes.
      await using late = await cluster.addSlave()
      await expectSlavesEqualMaster(master, [slave, late], kind)
    })

    if (kind === 'sqlite') {
      test('a SQLite column default that reads the clock is refused, with the reason', async () => {
        await writeOne(c, 'CREATE TABLE stamped (id INTEGER PRIMARY KEY, at TEXT)')
        const before = await masterOffset(master)
        await expectRefused(
          c,
          'CREATE TABLE bad (id INTEGER PRIMARY KEY, at TEXT DEFAULT CURRENT_TIMESTAMP)',
          /DEFAULT CURRENT_TIMESTAMP.*column default.*insert the value explicitly/,
        )
        await expectRefused(
          c,
          "CREATE TABLE bad (id INTEGER PRIMARY KEY, at TEXT DEFAULT (datetime('now')))",
          /DEFAULT \(datetime\('now'\)\).*column default/,
        )
        await expectRefused(
          c,
          'ALTER TABLE stamped ADD COLUMN day TEXT DEFAULT CURRENT_DATE',
          /DEFAULT CURRENT_DATE.*column default/,
        )
        expect(await masterOffset(master)).toBe(before)
        expect(await select(master, "SELECT name FROM sqlite_master WHERE name = 'bad'")).toEqual([])
        await expectSlavesEqualMaster(master, [slave], kind)
      })
    }

    test('random values and UUIDs are written as literals; per-row ones are refused', async () => {
      if (kind === 'mysql') {
        await writeOne(
          c,
          'CREATE TABLE rnd (id INT PRIMARY KEY, r DOUBLE, u CHAR(36), us BIGINT UNSIGNED, sys DATETIME(6))',
        )
        await writeOne(c, 'INSERT INTO rnd (id, r, u, us) VALUES (1, RAND(), UUID(), UUID_SHORT())')
        await writeOne(
          c,
          'INSERT INTO rnd (id, r, u, us) VALUES (2, RAND(), UUID(), UUID_SHORT()), (3, RAND(), UUID(), UUID_SHORT()), (4, RAND(), UUID(), UUID_SHORT())',
        )
        await writeOne(c, 'INSERT INTO rnd (id, sys) VALUES (5, SYSDATE()), (6, SYSDATE(6))')
        expect(
          (await c.query('INSERT INTO rnd (id, r, u) VALUES (?, RAND(), ?)', [7, 'why? RAND()']))[0],
        ).toMatchObject({ kind: 'write', affectedRows: 1 })
        const rows = await select(master, 'SELECT r, u, us FROM rnd WHERE id <= 4 ORDER BY id')
        expect(new Set(rows.map((r) => r.r)).size).toBe(4)
        expect(new Set(rows.map((r) => r.u)).size).toBe(4)
        expect(new Set(rows.map((r) => String(r.us))).size).toBe(4)
        for (const r of rows)
          expect(String(r.u)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
        await expectRefused(c, 'UPDATE rnd SET r = RAND()', /RAND\(\) is evaluated once per row in an UPDATE/)
        await expectRefused(c, 'UPDATE rnd SET u = UUID() WHERE id = 1', /UUID\(\) is evaluated once per row/)
        await expectRefused(
          c,
          'INSERT INTO rnd (id, r) SELECT id + 100, RAND() FROM rnd ORDER BY id',
          /RAND\(\) is evaluated once per row in an INSERT … SELECT/,
        )
      } else {
        await writeOne(c, 'CREATE TABLE rnd (id INTEGER PRIMARY KEY, r INTEGER, b BLOB)')
        await writeOne(c, 'INSERT INTO rnd (id, r, b) VALUES (1, random(), randomblob(8))')
        await writeOne(
          c,
          'INSERT INTO rnd (id, r, b) VALUES (2, random(), randomblob(8)), (3, abs(random()) % 100, randomblob(8)), (4, 7 -random(), randomblob(1))',
        )
        expect(
          (await c.query('INSERT INTO rnd (id, r, b) VALUES (?, random(), ?)', [5, { $bytes: 'AAEC' }]))[0],
        ).toMatchObject({ kind: 'write', affectedRows: 1 })
        const rows = await select(master, 'SELECT r, b, length(b) AS n FROM rnd WHERE id <= 4 ORDER BY id')
        expect(rows.map((r) => r.n)).toEqual([8, 8, 8, 1])
        expect(new Set(rows.map((r) => JSON.stringify(r.b))).size).toBe(4)
        await expectRefused(c, 'UPDATE rnd SET r = random()', /random\(\) is evaluated once per row in an UPDATE/)
        await expectRefused(c, 'DELETE FROM rnd WHERE r < random()', /random\(\) is evaluated once per row in a DELETE/)
      }
      await expectSlavesEqualMaster(master, [slave], kind)
    })

    test('functions that depend on the server or the session are refused, and nothing is logged', async () => {
      await writeOne(c, 'CREATE TABLE who (id INTEGER PRIMARY KEY, v VARCHAR(100))')
      await writeOne(c, "INSERT INTO who (id, v) VALUES (1, 'one')")
      const before = await masterOffset(master)
      const refusals: [string, RegExp][] =
        kind === 'mysql'
          ? [
              ['INSERT INTO who (id, v) VALUES (2, USER())', /USER\(\) differs between servers/],
              ['INSERT INTO who (id, v) VALUES (2, CONNECTION_ID())', /CONNECTION_ID\(\) differs between servers/],
              ['INSERT INTO who (id, v) VALUES (2, DATABASE())', /DATABASE\(\) differs between servers/],
              ['UPDATE who SET v = CURRENT_USER WHERE id = 1', /CURRENT_USER differs between servers/],
              ['UPDATE who SET v = (@n := 1) WHERE id = 1', /@n is a user variable/],
              ['UPDATE who SET v = @@hostname WHERE id = 1', /@@hostname differs between servers/],
              // LAST_INSERT_ID() is the session's, written in as a literal; LAST_INSERT_ID(expr) would set the store connection's.
              ['UPDATE who SET v = LAST_INSERT_ID(5) WHERE id = 1', /LAST_INSERT_ID\(5\) differs between servers/],
              ['INSERT INTO who (id, v) VALUES (2, VERSION())', /VERSION\(\) differs between servers/],
            ]
          : [
              [
                'INSERT INTO who (id, v) VALUES (2, last_insert_rowid())',
                /last_insert_rowid\(\) differs between servers/,
              ],
              ['UPDATE who SET v = changes() WHERE id = 1', /changes\(\) differs between servers/],
              ['INSERT INTO who (id, v) VALUES (2, sqlite_version())', /sqlite_version\(\) differs between servers/],
            ]
      for (const [sql, reason] of refusals) await expectRefused(c, sql, reason)
      expect(await masterOffset(master)).toBe(before)
      expect((await tailLog(log, '-n', '1'))[0]!.offset).toBe(before)
      expect(await select(master, 'SELECT id, v FROM who')).toEqual([{ id: 1, v: 'one' }])
      await expectSlavesEqualMaster(master, [slave], kind)
    })

    if (kind === 'mysql') {
      test('a user variable a write reads is written in as its value, as MySQL logs it', async () => {
        await c.query("SET @v = CONCAT('t', 'wo'), @t = NOW()")
        const { offset } = await writeOne(c, 'INSERT INTO who (id, v) VALUES (2, @v)')
        const [entry] = await tailLog(log, '--from', String(offset))
        expect(entry!.statements[0]).toMatchObject({
          sql: "INSERT INTO who (id, v) VALUES (2, 'two')",
          original: 'INSERT INTO who (id, v) VALUES (2, @v)',
        })
        expect(await select(master, 'SELECT v FROM who WHERE id = 2')).toEqual([{ v: 'two' }])
        await expectSlavesEqualMaster(master, [slave], kind)
        await writeOne(c, 'DELETE FROM who WHERE id = 2')
      })
    }

    test('LIMIT without ORDER BY, and INSERT … SELECT without ORDER BY, are refused; ordered ones replay the same', async () => {
      await writeOne(c, 'CREATE TABLE lim (id INTEGER PRIMARY KEY, v INTEGER)')
      await writeOne(c, 'CREATE TABLE lim_copy (id INTEGER PRIMARY KEY, v INTEGER)')
      await writeOne(c, `CREATE TABLE lim_keys (${AUTO_ID[kind]}, src INTEGER, v INTEGER)`)
      await writeOne(c, 'INSERT INTO lim (id, v) VALUES (1, 50), (2, 40), (3, 30), (4, 20), (5, 10), (6, 0)')
      const before = await masterOffset(master)
      await expectRefused(c, 'UPDATE lim SET v = v + 100 LIMIT 1', /UPDATE with LIMIT but no ORDER BY/)
      await expectRefused(c, 'UPDATE lim SET v = v + 100 WHERE v > 5 LIMIT 2', /UPDATE with LIMIT but no ORDER BY/)
      await expectRefused(c, 'DELETE FROM lim LIMIT 1', /DELETE with LIMIT but no ORDER BY/)
      await expectRefused(c, 'INSERT INTO lim_copy SELECT * FROM lim', /INSERT … SELECT without ORDER BY/)
      await expectRefused(
        c,
        'INSERT INTO lim_keys (src, v) SELECT id, v FROM lim WHERE v > 0',
        /INSERT … SELECT without ORDER BY/,
      )
      expect(await masterOffset(master)).toBe(before)
      expect((await writeOne(c, 'UPDATE lim SET v = v + 100 ORDER BY v LIMIT 2')).affectedRows).toBe(2)
      expect((await writeOne(c, 'DELETE FROM lim ORDER BY id DESC LIMIT 1')).affectedRows).toBe(1)
      expect((await writeOne(c, 'INSERT INTO lim_copy SELECT * FROM lim ORDER BY id')).affectedRows).toBe(5)
      expect(
        (await writeOne(c, 'INSERT INTO lim_keys (src, v) SELECT id, v FROM lim ORDER BY v DESC, id')).affectedRows,
      ).toBe(5)
      expect(await select(master, 'SELECT id, v FROM lim ORDER BY id')).toEqual([
        { id: 1, v: 50 },
        { id: 2, v: 40 },
        { id: 3, v: 30 },
        { id: 4, v: 20 },
        { id: 5, v: 110 },
      ])
      expect(await select(master, 'SELECT id, src FROM lim_keys ORDER BY id')).toEqual(
        [5, 1, 2, 3, 4].map((src, i) => ({ id: i + 1, src })),
      )
      await expectSlavesEqualMaster(master, [slave], kind)
    })

    test('auto-increment keys are equal on slaves with 16 concurrent clients, some of whose inserts fail', async () => {
      await writeOne(
        c,
        `CREATE TABLE seq (${AUTO_ID[kind]}, who INTEGER NOT NULL, n INTEGER NOT NULL, UNIQUE (who, n))`,
      )
      const clients = 16
      const perClient = 100
      const acked = new Map<number, { who: number; n: number }>()
      let failed = 0
      await Promise.all(
        Array.from({ length: clients }, async (_, who) => {
          const conn = await master.client()
          try {
            for (let i = 0; i < perClient; i++) {
              // Every tenth insert repeats the one before it: a duplicate (who, n) that fails on purpose.
              const n = i % 10 === 9 ? i - 1 : i
              try {
                const { insertId, affectedRows } = await writeOne(
                  conn,
                  `INSERT INTO seq (who, n) VALUES (${who}, ${n})`,
                )
                expect(affectedRows).toBe(1)
                expect(acked.has(insertId), `insert id ${insertId} given twice`).toBe(false)
                acked.set(insertId, { who, n })
              } catch (err) {
                if (!(err instanceof DdbError) || !/duplicate|unique/i.test(err.message)) throw err
                failed++
              }
            }
          } finally {
            conn.close()
          }
        }),
      )
      expect(failed).toBe(clients * (perClient / 10))
      expect(acked.size).toBe(clients * perClient - failed)
      // Each client's insert id is the id its row got.
      const rows = await select(master, 'SELECT id, who, n FROM seq ORDER BY id')
      expect(rows).toEqual([...acked.entries()].sort(([a], [b]) => a - b).map(([id, r]) => ({ id, ...r })))
      if (kind === 'mysql') {
        // InnoDB keeps the values the failed inserts consumed, so there are gaps for slaves to reproduce.
        expect(Number(rows[rows.length - 1]!.id)).toBeGreaterThan(rows.length)
      }
      await expectSlavesEqualMaster(master, [slave], kind)
    })

    test('an INSERT with an explicit id does not lend that id to a later upsert on the slave', async () => {
      await writeOne(c, `CREATE TABLE up (${AUTO_ID[kind]}, k VARCHAR(10) NOT NULL UNIQUE, v INTEGER NOT NULL)`)
      await writeOne(c, "INSERT INTO up (k, v) VALUES ('a', 1), ('b', 2)")
      // MySQL answers an explicit id as the insert id; the entry carries it, though nothing was generated.
      await writeOne(c, "INSERT INTO up (id, k, v) VALUES (10, 'c', 3)")
      // Finds 'a' and changes nothing: no id generated, none recorded.
      const upsert =
        kind === 'mysql'
          ? "INSERT INTO up (k, v) VALUES ('a', 1) ON DUPLICATE KEY UPDATE v = VALUES(v)"
          : "INSERT INTO up (k, v) VALUES ('a', 1) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
      await writeOne(c, upsert)
      await writeOne(c, "INSERT INTO up (k, v) VALUES ('d', 4)")
      expect(await select(master, "SELECT id, k, v FROM up WHERE k <> 'd' ORDER BY id")).toEqual([
        { id: 1, k: 'a', v: 1 },
        { id: 2, k: 'b', v: 2 },
        { id: 10, k: 'c', v: 3 },
      ])
      // The live slave gets these entries one by one; a slave catching up applies them in one batch.
      // Stopped at the end of the test: the late slave gets none of the later tests' writes.
      await using late = await cluster.addSlave()
      await expectSlavesEqualMaster(master, [slave, late], kind)
    })

    test('the log keeps the text the client sent next to the rewritten statement', async () => {
      await writeOne(c, 'CREATE TABLE orig (id INTEGER PRIMARY KEY, r DOUBLE, at VARCHAR(30))')
      const original =
        kind === 'mysql'
          ? 'INSERT INTO orig (id, r) VALUES (1, RAND())'
          : 'INSERT INTO orig (id, r, at) VALUES (1, random(), CURRENT_TIMESTAMP)'
      const { offset } = await writeOne(c, original)
      const plain = 'INSERT INTO orig (id, r) VALUES (2, 0.5)'
      await writeOne(c, plain)
      const [rewritten, untouched] = await tailLog(log, '-n', '2')
      expect(rewritten!.offset).toBe(offset)
      expect(rewritten!.statements[0]!.original).toBe(original)
      const sql = rewritten!.statements[0]!.sql
      expect(sql).not.toMatch(kind === 'mysql' ? /RAND\(\)/ : /random\(\)|CURRENT_TIMESTAMP/)
      const [row] = await select(master, 'SELECT r, at FROM orig WHERE id = 1')
      // The logged literal is the value the master stored.
      if (kind === 'mysql') expect(Number(sql.match(/VALUES \(1, ([^)]+)\)/)![1])).toBe(Number(row!.r))
      else expect(sql).toContain(`'${row!.at}'`)
      expect(untouched!.statements[0]!.sql).toBe(plain)
      expect(untouched!.statements[0]!.original).toBeUndefined()
      await expectSlavesEqualMaster(master, [slave], kind)
    })
  })
}

describe('determinism across MySQL servers in different time zones', () => {
  let cluster: Cluster
  let master: DdbNode
  let slave: DdbNode
  const query = 'SELECT id, at, today, sys, UNIX_TIMESTAMP(stamp) AS stamp FROM zoned ORDER BY id'

  beforeAll(async () => {
    cluster = await withCluster({
      store: 'mysql',
      masterServerArgs: ['--default-time-zone=+05:00'],
      slaveServerArgs: ['--default-time-zone=-03:00'],
    })
    ;({ master, slave } = cluster)
    await write(
      master,
      'CREATE TABLE zoned (id INT PRIMARY KEY, at DATETIME(6), today DATE, sys DATETIME(6), stamp TIMESTAMP(6) NULL)',
    )
    await write(
      master,
      'INSERT INTO zoned (id, at, today, sys, stamp) VALUES (1, NOW(6), CURDATE(), SYSDATE(6), NOW(6))',
    )
    await waitCaughtUp(slave, await masterOffset(master))
  })
  afterAll(async () => {
    await cluster?.[Symbol.asyncDispose]()
  })

  test('a slave whose server runs at -03:00 stores the wall clock of a master at +05:00', async () => {
    expect(await select(slave, query)).toEqual(await select(master, query))
  })

  test('SYSDATE() on a master at +05:00 means what NOW() means there, as it would without ddb', async () => {
    const [row] = await select(
      master,
      'SELECT at, sys, TIMESTAMPDIFF(SECOND, at, sys) AS drift FROM zoned WHERE id = 1',
    )
    expect(Math.abs(Number(row!.drift)), `NOW(6) = ${row!.at}, SYSDATE(6) = ${row!.sys}`).toBeLessThanOrEqual(1)
  })
})

describe('determinism when the master changes time zone between entries (mysql)', () => {
  test('a slave that catches up after the master restarts in another zone replays each entry in the zone it ran in', async () => {
    // As a master whose SYSTEM zone moves (daylight saving time) and is restarted: its entries span two zones.
    await using cluster = await withCluster({
      store: 'mysql',
      slaves: 0,
      masterServerArgs: ['--default-time-zone=+05:00'],
      slaveServerArgs: ['--default-time-zone=-03:00'],
    })
    await write(cluster.master, 'CREATE TABLE moved (id INT PRIMARY KEY, at DATETIME(6))')
    await write(cluster.master, 'INSERT INTO moved (id, at) VALUES (1, NOW(6))')
    expect(await cluster.master.stop()).toBe(0)
    await cluster.direct(cluster.master, "SET GLOBAL time_zone = '+08:00'")
    const master = await cluster.restartMaster()
    await write(master, 'INSERT INTO moved (id, at) VALUES (2, NOW(6))')
    const rows = await select(master, 'SELECT id, at, UNIX_TIMESTAMP(at) AS epoch FROM moved ORDER BY id')
    // On the master, row 1 was written at +05:00 and row 2 at +08:00 (about 3 hours apart on the wall clock).
    expect(Number(rows[1]!.epoch) - Number(rows[0]!.epoch)).toBeGreaterThan(3 * 3600 - 60)
    const slave = await cluster.addSlave()
    await waitCaughtUp(slave, await masterOffset(master))
    expect(await select(slave, 'SELECT id, at FROM moved ORDER BY id')).toEqual(rows.map(({ id, at }) => ({ id, at })))
  })
})
