/**
 * Cascade (issue 14): a slave serves its own log to slaves of its own, exactly as the
 * master serves its log (the same offsets, hashes and checksums), so read-your-writes
 * offsets mean the same at every tier; a leaf whose middle slave dies is re-pointed at the
 * master and goes on from its offset, gap-free.
 */
import { describe, expect, test } from 'bun:test'
import type { Entry } from '../src/entry.ts'
import { rowObjects } from '../src/entry.ts'
import { BACKEND_KINDS } from './support/backends.ts'
import { withCluster } from './support/cluster.ts'
import { select, startWriters, tailLog, write } from './support/compare.ts'
import { startSlave, statusOf, waitApplied } from './support/ddb.ts'

const chain = (entries: Entry[]) => entries.map((e) => [e.offset, e.epoch, e.hash, e.checksum])

for (const kind of BACKEND_KINDS) {
  describe(`cascade on ${kind} stores`, () => {
    test("master → slave → slave: the leaf gets the master's entries from the middle one; the middle killed -9, the leaf re-pointed at the master goes on gap-free", async () => {
      await using cluster = await withCluster({ store: kind, slaves: 1 })
      const { master } = cluster
      const middle = cluster.slave
      const leafStore = await cluster.newStore()
      let leaf = await startSlave(middle.address, leafStore, { args: ['--id', 'leaf'] })
      try {
        await write(master, 'CREATE TABLE acked (id BIGINT PRIMARY KEY)')
        const writers = startWriters(master, 4)
        await Bun.sleep(500)
        const last = await write(master, 'INSERT INTO acked (id) VALUES (-1)')
        await waitApplied(leaf, last, 60_000)

        // Read-your-writes at the leaf, with the master's offset.
        const c = await leaf.client()
        const answer = await c.query('SELECT id FROM acked WHERE id = -1', [], { minOffset: last })
        expect(answer[0]?.kind === 'read' && rowObjects(answer[0])).toEqual([{ id: -1 }])

        const middleStatus = await statusOf(middle)
        expect(middleStatus.role === 'slave' && middleStatus.replicas?.map((r) => r.id)).toEqual(['leaf'])
        const leafStatus = await statusOf(leaf)
        const leafLog = leafStatus.role === 'slave' ? leafStatus.log!.path : ''
        const leafEntries = (await tailLog(leafLog, '-n', '1000000')).filter((e) => e.offset <= last)
        const masterEntries = (await tailLog(cluster.log, '-n', '1000000')).filter((e) => e.offset <= last)
        expect(chain(leafEntries)).toEqual(chain(masterEntries))

        // The middle slave dies under the writers; the leaf, re-pointed at the master, goes on from its offset.
        await middle.kill9()
        await leaf.stop()
        leaf = await startSlave(master.address, leafStore, { args: ['--id', 'leaf'] })
        await Bun.sleep(300)
        await writers.stop()
        const end = await write(master, 'INSERT INTO acked (id) VALUES (-2)')
        await waitApplied(leaf, end, 60_000)
        const ids = (rows: Record<string, unknown>[]) => rows.map((r) => Number(r.id)).sort((a, b) => a - b)
        expect(ids(await select(leaf, 'SELECT id FROM acked'))).toEqual(
          ids(await select(master, 'SELECT id FROM acked')),
        )
        expect(writers.acked.length).toBeGreaterThan(10)
        const status = await statusOf(leaf)
        expect(status.role === 'slave' && status.error).toBeNull()
      } finally {
        await leaf[Symbol.asyncDispose]()
      }
    })
  })
}
