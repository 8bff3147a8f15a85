/**
 * `ddb checksum` (issue 13): every replicated table of the master and its slaves compared
 * at one offset while clients keep writing; a row altered by hand on a slave is found,
 * with its table and key range, and the exit status says so. Real processes, both stores.
 */
import { describe, expect, test } from 'bun:test'
import { withCluster } from './support/cluster.ts'
import { startWriters, write, writeRows } from './support/compare.ts'
import { runDdb } from './support/ddb.ts'

for (const kind of ['sqlite', 'mysql'] as const) {
  describe(`ddb checksum on ${kind} stores`, () => {
    test('equal under writes (exit 0); a row changed on a slave by hand is found with its key range (exit 1)', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 2, compiled: true })
      const { master } = cluster
      await write(master, 'CREATE TABLE acked (id BIGINT PRIMARY KEY)')
      await write(master, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR(20))')
      await writeRows(master, 3000, (i) => `INSERT INTO t (id, v) VALUES (${i + 1}, 'v${i + 1}')`)

      // While 4 clients write: the slaves are held and read at the master's offset, so they compare equal.
      const writers = startWriters(master, 4)
      const equal = await runDdb(['checksum', '--to', master.address, '--json'])
      await writers.stop()
      expect(equal.stderr).toMatch(/checksumming the master and 2 slave\(s\) at offset \d+/)
      expect(equal.code).toBe(0)
      const result = JSON.parse(equal.stdout)
      expect(result.slaves).toHaveLength(2)
      const t = result.tables.find((r: { table: string }) => /(^|\.)t$/.test(r.table))
      expect(t).toMatchObject({ rows: 3000, differences: [] })
      expect(writers.acked.length).toBeGreaterThan(0)

      // One row changed behind ddb's back on one slave.
      const [changed, untouched] = cluster.slaves
      const table = kind === 'mysql' ? 'app.t' : 't'
      await cluster.direct(changed!, `UPDATE ${table} SET v = 'changed' WHERE id = 2500`)
      const differs = await runDdb([
        'checksum',
        '--to',
        master.address,
        '--slave',
        changed!.address,
        '--slave',
        untouched!.address,
      ])
      expect(differs.code).toBe(1)
      expect(differs.stdout).toContain(
        `${table}: DIFFERS on slave ${changed!.address}: 3000 rows on the master, 3000 on the slave; first difference in the key range (2001) … (3000)`,
      )
      expect(differs.stdout).not.toContain(`DIFFERS on slave ${untouched!.address}`)
      expect(differs.stderr).toContain('1 of ')

      // A missing row is found too, and the slaves apply on after the checksum (they were only held).
      await cluster.direct(untouched!, `DELETE FROM ${table} WHERE id = 10`)
      const missing = await runDdb(['checksum', '--to', master.address, '--slave', untouched!.address])
      expect(missing.code).toBe(1)
      expect(missing.stdout).toContain(
        '3000 rows on the master, 2999 on the slave; first difference in the key range (1) … (1000)',
      )
      await write(master, 'INSERT INTO t (id, v) VALUES (9999, 9999)')
      const after = await runDdb(['status', '--to', untouched!.address, '--json'])
      expect(JSON.parse(after.stdout).stopped).toBe(false)
    }, 120_000)
  })
}

test('ddb checksum --to a slave is a one-line usage error', async () => {
  await using cluster = await withCluster({ store: 'sqlite', slaves: 1, compiled: true })
  const r = await runDdb(['checksum', '--to', cluster.slave.address])
  expect(r.code).not.toBe(0)
  expect(r.stderr.trim().split('\n')).toHaveLength(1)
  expect(r.stderr).toContain('takes the master, not a slave')
})
