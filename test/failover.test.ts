/**
 * Failover (issue 14): a synchronous master killed -9 under writers, `ddb promote` of the
 * slave that is furthest ahead, the other slave following the new master by itself
 * (`--master a,b,c`), and the old master, restarted, fenced by the higher epoch.
 */
import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import type { NodeStatus } from '../src/wire/messages.ts'
import { BACKEND_KINDS, createBackend } from './support/backends.ts'
import { select, startWriters, write } from './support/compare.ts'
import { type DdbNode, runDdb, startMaster, startSlave, statusOf, waitApplied } from './support/ddb.ts'
import { freePort, waitFor } from './support/util.ts'

/** How far a slave's log reaches (what it could serve as a master). */
async function logOffset(node: DdbNode): Promise<number> {
  const s: NodeStatus = await statusOf(node)
  if (s.role !== 'slave') throw new Error(`${node.address} is not a slave`)
  return s.log!.offset
}

for (const kind of BACKEND_KINDS) {
  describe(`failover on ${kind} stores`, () => {
    test('kill -9 of a synchronous master under 8 writers, promote: no acknowledged write missing; the other slave follows; the old master is fenced', async () => {
      const backend = createBackend(kind)
      const [pm, p1, p2] = [await freePort(), await freePort(), await freePort()]
      const address = (p: number) => `127.0.0.1:${p}`
      const all = [pm, p1, p2].map(address).join(',')
      const masterStore = await backend.newStore()
      const masterLog = join(backend.dir, 'master-log.sqlite')
      let master = await startMaster(masterStore, masterLog, { listen: address(pm), args: ['--sync-replicas', '1'] })
      const stores = [await backend.newStore(), await backend.newStore()]
      const slaves = [
        await startSlave(all, stores[0]!, { listen: address(p1), args: ['--id', 's1'] }),
        await startSlave(all, stores[1]!, { listen: address(p2), args: ['--id', 's2'] }),
      ]
      try {
        await write(master, 'CREATE TABLE acked (id BIGINT PRIMARY KEY)')

        // While the master answers, promoting a slave would make two masters: refused.
        const early = await runDdb(['promote', '--to', slaves[0]!.address])
        expect(early.code).toBe(1)
        expect(early.stderr).toContain(`the master at ${address(pm)} still answers`)

        const writers = startWriters(master, 8, { untilError: true })
        await waitFor(() => writers.acked.length >= 200, { timeoutMs: 30_000, what: '200 acknowledged writes' })
        await master.kill9()
        await writers.done
        const acked = [...writers.acked]

        // Promote the slave whose log reaches furthest; the other is no further ahead, so it is not refused.
        const offsets = await Promise.all(slaves.map(logOffset))
        const [winner, other] = offsets[0]! >= offsets[1]! ? [slaves[0]!, slaves[1]!] : [slaves[1]!, slaves[0]!]
        const promoted = await runDdb(['promote', '--to', winner.address, '--peers', all])
        expect(promoted.code, promoted.stderr).toBe(0)
        expect(promoted.stdout).toContain('it is the master now, at epoch 2')
        expect(promoted.stderr).toContain(`not checked: ${address(pm)}`)
        const status = await statusOf(winner)
        expect(status.role).toBe('master')
        expect(status.role === 'master' && status.epoch).toBe(2)

        // The new master takes writes on the same port (and the same process); the other slave finds it.
        const after = await write(winner, 'INSERT INTO acked (id) VALUES (-1)')
        await waitApplied(other, after, 60_000)
        for (const node of [winner, other]) {
          const ids = new Set((await select(node, 'SELECT id FROM acked')).map((r) => Number(r.id)))
          const missing = acked.filter((id) => !ids.has(id))
          expect(missing).toEqual([])
        }

        // The old master comes back on its store and log, at epoch 1: the first slave that reaches it fences it.
        master = await startMaster(masterStore, masterLog, { listen: address(pm) })
        const i = slaves.indexOf(other)
        await other.stop()
        slaves[i] = await startSlave(all, stores[i]!, { listen: other.address, args: ['--id', `s${i + 1}`] })
        await waitFor(
          async () => {
            const s = await statusOf(master)
            return s.role === 'master' && s.readOnly?.includes('fenced')
          },
          { timeoutMs: 30_000, what: 'the old master fenced' },
        )
        const refused = await runDdb(['sql', 'INSERT INTO acked (id) VALUES (-2)', '--to', master.address])
        expect(refused.code).toBe(1)
        expect(refused.stderr).toContain('fenced')
      } finally {
        for (const s of slaves) await s[Symbol.asyncDispose]()
        await master[Symbol.asyncDispose]()
        await backend.close()
      }
    })
  })
}
