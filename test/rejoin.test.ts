/**
 * Rejoin (issue 14): an old master with writes no slave got, restarted as a slave of the
 * master promoted in its place, finds where their histories part by hash, saves its own
 * entries after the fork to a file, and rebuilds from the new master by snapshot.
 */
import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { Entry } from '../src/entry.ts'
import { BACKEND_KINDS, type Backend, createBackend } from './support/backends.ts'
import { select, write } from './support/compare.ts'
import { type DdbNode, runDdb, startMaster, startSlave, statusOf, waitApplied } from './support/ddb.ts'
import { freePort } from './support/util.ts'

/** Runs `body` with a backend of `kind` and a `track` for the nodes it starts, all torn down after. */
async function inBackend(
  kind: 'sqlite' | 'mysql',
  body: (backend: Backend, track: (n: DdbNode) => DdbNode) => Promise<void>,
): Promise<void> {
  const backend = createBackend(kind)
  const nodes: DdbNode[] = []
  try {
    await body(backend, (n) => {
      nodes.push(n)
      return n
    })
  } finally {
    for (const n of nodes.reverse()) await n[Symbol.asyncDispose]()
    await backend.close()
  }
}

const rows = async (node: DdbNode) => (await select(node, 'SELECT id FROM t ORDER BY id')).map((r) => Number(r.id))

for (const kind of BACKEND_KINDS) {
  describe(`rejoin on ${kind} stores`, () => {
    test("an old master with an unreplicated tail rejoins the promoted slave: its tail is in a file, its data is the new master's", async () => {
      await inBackend(kind, async (backend, track) => {
        const [pm, ps] = [await freePort(), await freePort()]
        const [masterAddress, slaveAddress] = [`127.0.0.1:${pm}`, `127.0.0.1:${ps}`]
        const all = `${masterAddress},${slaveAddress}`
        const [masterStore, slaveStore] = [await backend.newStore(), await backend.newStore()]
        const masterLog = join(backend.dir, 'old-master-log.sqlite')
        const master = track(await startMaster(masterStore, masterLog, { listen: masterAddress }))
        let slave = track(await startSlave(all, slaveStore, { listen: slaveAddress, args: ['--id', 's1'] }))
        await write(master, 'CREATE TABLE t (id INTEGER PRIMARY KEY)')
        let last = 0
        for (let id = 1; id <= 5; id++) last = await write(master, `INSERT INTO t (id) VALUES (${id})`)
        await waitApplied(slave, last)

        // The slave goes away; the master takes three writes it never gets, and dies.
        await slave.stop()
        for (let id = 100; id <= 102; id++) await write(master, `INSERT INTO t (id) VALUES (${id})`)
        await master.kill9()
        slave = track(await startSlave(all, slaveStore, { listen: slaveAddress, args: ['--id', 's1'] }))
        const promoted = await runDdb(['promote', '--to', slaveAddress, '--peers', all])
        expect(promoted.code, promoted.stderr).toBe(0)
        await write(slave, 'INSERT INTO t (id) VALUES (200)')
        let head = await write(slave, 'INSERT INTO t (id) VALUES (201)')

        // Restarted as a slave of the new master, without --rejoin: refused, and told what to do.
        const refused = await runDdb([
          'slave',
          '--master',
          slaveAddress,
          '--db',
          masterStore,
          '--log',
          masterLog,
          '--listen',
          masterAddress,
          '--mysql-listen',
          'off',
        ])
        expect(refused.code).toBe(1)
        expect(refused.stderr).toContain("this is a master's store")
        expect(refused.stderr).toContain('--rejoin')

        const rejoined = track(
          await startSlave(slaveAddress, masterStore, {
            listen: masterAddress,
            args: ['--log', masterLog, '--rejoin', '--id', 'old-master'],
          }),
        )
        // Past the offset the old master's store had reached, so the wait means something.
        for (let id = 202; id <= 204; id++) head = await write(slave, `INSERT INTO t (id) VALUES (${id})`)
        await waitApplied(rejoined, head, 60_000)
        expect(await rows(rejoined)).toEqual([1, 2, 3, 4, 5, 200, 201, 202, 203, 204])
        expect(await rows(rejoined)).toEqual(await rows(slave))
        const status = await statusOf(rejoined)
        expect(status.role === 'slave' && status.error).toBeNull()
        expect(rejoined.log()).toContain("rejoining: this node's history parts from its master's")

        // The old master's own tail, with everything needed to replay it by hand.
        const files = readdirSync(dirname(masterLog)).filter((f) => f.startsWith(`${basename(masterLog)}-divergent-`))
        expect(files).toHaveLength(1)
        const [header, ...entries] = readFileSync(join(dirname(masterLog), files[0]!), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
        expect(header.divergent).toMatchObject({ fork: last, entries: 3, newMaster: slaveAddress, newMasterEpoch: 2 })
        expect((entries as Entry[]).map((e) => e.statements[0]!.sql)).toEqual([
          'INSERT INTO t (id) VALUES (100)',
          'INSERT INTO t (id) VALUES (101)',
          'INSERT INTO t (id) VALUES (102)',
        ])
        expect((entries as Entry[]).map((e) => e.offset)).toEqual([last + 1, last + 2, last + 3])

        // It follows on as any slave: the next write reaches it.
        const next = await write(slave, 'INSERT INTO t (id) VALUES (205)')
        await waitApplied(rejoined, next)
        expect(await rows(rejoined)).toContain(205)
      })
    })

    test('a slave ahead of the one promoted with --force (the promote named what it would lose) sets its entries aside and bootstraps from the new master', async () => {
      await inBackend(kind, async (backend, track) => {
        const ports = [await freePort(), await freePort(), await freePort()]
        const [m, a, b] = ports.map((p) => `127.0.0.1:${p}`) as [string, string, string]
        const all = `${m},${a},${b}`
        const stores = [await backend.newStore(), await backend.newStore(), await backend.newStore()]
        const master = track(await startMaster(stores[0]!, join(backend.dir, 'log.sqlite'), { listen: m }))
        let behind = track(await startSlave(all, stores[1]!, { listen: a, args: ['--id', 'behind'] }))
        const ahead = track(await startSlave(all, stores[2]!, { listen: b, args: ['--id', 'ahead'] }))
        await write(master, 'CREATE TABLE t (id INTEGER PRIMARY KEY)')
        let last = await write(master, 'INSERT INTO t (id) VALUES (1)')
        await waitApplied(behind, last)
        await behind.stop()
        for (let id = 2; id <= 4; id++) last = await write(master, `INSERT INTO t (id) VALUES (${id})`)
        await waitApplied(ahead, last)
        await master.kill9()
        behind = track(await startSlave(all, stores[1]!, { listen: a, args: ['--id', 'behind'] }))

        const refused = await runDdb(['promote', '--to', a, '--peers', all])
        expect(refused.code).toBe(1)
        expect(refused.stderr).toContain(`slave ${b} holds entries up to ${last}`)
        expect(refused.stderr).toContain('3 would be lost')
        const forced = await runDdb(['promote', '--to', a, '--peers', all, '--force'])
        expect(forced.code, forced.stderr).toBe(0)
        expect(forced.stderr).toContain('warning (--force)')

        let head = 0
        for (let id = 10; id <= 14; id++) head = await write(behind, `INSERT INTO t (id) VALUES (${id})`)
        await waitApplied(ahead, head, 60_000)
        expect(await rows(ahead)).toEqual([1, 10, 11, 12, 13, 14])
        expect(ahead.log()).toContain("rejoining: this node's history parts from its master's")
        const status = await statusOf(ahead)
        expect(status.role === 'slave' && status.error).toBeNull()
        const aheadLog = status.role === 'slave' ? status.log!.path : ''
        const files = readdirSync(dirname(aheadLog)).filter((f) => f.startsWith(`${basename(aheadLog)}-divergent-`))
        expect(files).toHaveLength(1)
      })
    })
  })
}
