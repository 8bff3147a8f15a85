/**
 * Failover (issue 14): a synchronous master killed -9 under writers at 30 random instants,
 * each followed by `ddb promote` of the slave furthest ahead; the other slave follows the
 * new master by itself (`--master a,b,c`); an old master that comes back, or wakes from
 * SIGSTOP, is fenced by the higher epoch and none of its writes land anywhere.
 */
import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { BACKEND_KINDS } from './support/backends.ts'
import { select, startWriters, write } from './support/compare.ts'
import { type DdbNode, runDdb, startMaster, startSlave, statusOf, waitApplied } from './support/ddb.ts'
import { type Mariadb, startMariadb } from './support/mariadb.ts'
import { freePort, type TempDir, tempDir } from './support/util.ts'

const ROUNDS = 30

/** How far a slave's log reaches (what it can serve once promoted). */
async function logOffset(node: DdbNode): Promise<number> {
  const s = await statusOf(node)
  if (s.role !== 'slave') throw new Error(`${node.address} is not a slave`)
  return s.log!.offset
}

async function ids(node: DdbNode): Promise<Set<number>> {
  return new Set((await select(node, 'SELECT id FROM acked')).map((r) => Number(r.id)))
}

/** Three nodes' stores (a master and two slaves) for round `n`: SQLite files, or databases on three mariadbd. */
interface Stores {
  next(n: number): Promise<[string, string, string]>
  [Symbol.asyncDispose](): Promise<void>
}

async function storesFor(kind: 'sqlite' | 'mysql', dir: TempDir): Promise<Stores> {
  if (kind === 'sqlite') {
    return {
      next: async (n) =>
        [0, 1, 2].map((i) => `sqlite:${join(dir.path, `r${n}-node${i}.sqlite`)}`) as [string, string, string],
      async [Symbol.asyncDispose]() {},
    }
  }
  const servers: Mariadb[] = await Promise.all([startMariadb(), startMariadb(), startMariadb()])
  return {
    async next(n) {
      return (await Promise.all(
        servers.map(async (s) => {
          await s.query(`CREATE DATABASE app${n}`)
          return s.url(`app${n}`)
        }),
      )) as [string, string, string]
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(servers.map((s) => s.stop()))
    },
  }
}

/** A master (with --sync-replicas 1) and two slaves that know all three addresses. */
async function startTrio(stores: [string, string, string], log: string, masterArgs: string[] = []) {
  const ports = [await freePort(), await freePort(), await freePort()]
  const addresses = ports.map((p) => `127.0.0.1:${p}`)
  const all = addresses.join(',')
  const master = await startMaster(stores[0], log, {
    listen: addresses[0],
    args: ['--sync-replicas', '1', ...masterArgs],
  })
  const slaves = [
    await startSlave(all, stores[1], { listen: addresses[1], args: ['--id', 's1'] }),
    await startSlave(all, stores[2], { listen: addresses[2], args: ['--id', 's2'] }),
  ]
  return { master, slaves, all, addresses }
}

for (const kind of BACKEND_KINDS) {
  describe(`failover on ${kind} stores`, () => {
    test(`kill -9 of a synchronous master under 8 writers at ${ROUNDS} random instants, each followed by ddb promote: no acknowledged write missing on the new master or the other slave`, async () => {
      await using dir = await tempDir('ddb-failover-')
      await using stores = await storesFor(kind, dir)
      let acknowledged = 0
      for (let round = 0; round < ROUNDS; round++) {
        const { master, slaves, all } = await startTrio(
          await stores.next(round),
          join(dir.path, `r${round}-log.sqlite`),
        )
        try {
          await write(master, 'CREATE TABLE acked (id BIGINT PRIMARY KEY)')
          const writers = startWriters(master, 8, { untilError: true })
          await Bun.sleep(50 + Math.floor(Math.random() * 700))
          await master.kill9()
          await writers.done
          const acked = [...writers.acked]
          acknowledged += acked.length

          const offsets = await Promise.all(slaves.map(logOffset))
          const [winner, other] = offsets[0]! >= offsets[1]! ? [slaves[0]!, slaves[1]!] : [slaves[1]!, slaves[0]!]
          const promoted = await runDdb(['promote', '--to', winner.address, '--peers', all])
          expect(promoted.code, `round ${round}: ${promoted.stderr}`).toBe(0)
          const last = await write(winner, 'INSERT INTO acked (id) VALUES (-1)')
          await waitApplied(other, last, 60_000)
          for (const node of [winner, other]) {
            const held = await ids(node)
            expect(
              acked.filter((id) => !held.has(id)),
              `round ${round}: acknowledged writes missing on ${node.address}`,
            ).toEqual([])
          }
        } finally {
          for (const s of slaves) await s[Symbol.asyncDispose]()
          await master[Symbol.asyncDispose]()
        }
      }
      console.log(`failover on ${kind}: ${ROUNDS} rounds, ${acknowledged} acknowledged writes, none missing`)
      expect(acknowledged).toBeGreaterThan(ROUNDS * 8)
    }, 600_000)

    test('the old master SIGSTOPped, a slave promoted, the old master SIGCONTed: it is fenced, and every write it is sent is refused and lands nowhere', async () => {
      await using dir = await tempDir('ddb-fence-')
      await using stores = await storesFor(kind, dir)
      const log = join(dir.path, 'master-log.sqlite')
      const nodeStores = await stores.next(0)
      const trio = await startTrio(nodeStores, log)
      let { master } = trio
      const { slaves, all } = trio
      try {
        await write(master, 'CREATE TABLE acked (id BIGINT PRIMARY KEY)')
        const before = await write(master, 'INSERT INTO acked (id) VALUES (1)')
        for (const s of slaves) await waitApplied(s, before)

        // While the master answers, promoting a slave would make two masters: refused.
        const early = await runDdb(['promote', '--to', slaves[0]!.address, '--peers', all])
        expect(early.code).toBe(1)
        expect(early.stderr).toContain(`the master at ${master.address} still answers`)

        // A client connected to the slave before it is promoted: the same connection writes after.
        const kept = await slaves[0]!.client()
        master.proc.kill('SIGSTOP')
        const promoted = await runDdb(['promote', '--to', slaves[0]!.address, '--peers', all])
        expect(promoted.code, promoted.stderr).toBe(0)
        expect(promoted.stdout).toContain('it is the master now, at epoch 2')
        expect(promoted.stderr).toContain(`not checked: ${master.address}`)
        const [winner, other] = [slaves[0]!, slaves[1]!]
        const after = await write(kept, 'INSERT INTO acked (id) VALUES (2)')
        await waitApplied(other, after, 60_000)

        master.proc.kill('SIGCONT')
        const c = await master.client()
        const attempted: number[] = []
        const refusals: string[] = []
        for (let id = 100; id < 110; id++) {
          attempted.push(id)
          await c.query(`INSERT INTO acked (id) VALUES (${id})`).then(
            () => refusals.push('acknowledged'),
            (err: Error) => refusals.push(err.message),
          )
        }
        expect(refusals.filter((r) => r === 'acknowledged')).toEqual([])
        expect(refusals.at(-1)).toContain('fenced')
        const status = await statusOf(master)
        expect(status.role === 'master' && status.readOnly).toContain('fenced')
        for (const node of [winner, other]) {
          const held = await ids(node)
          expect(attempted.filter((id) => held.has(id))).toEqual([])
          expect(held.has(2)).toBe(true)
        }

        // The fence outlives a restart: the old master comes back refusing writes.
        await master.stop()
        master = await startMaster(nodeStores[0], log)
        const again = await runDdb(['sql', 'INSERT INTO acked (id) VALUES (200)', '--to', master.address])
        expect(again.code).toBe(1)
        expect(again.stderr).toContain('is fenced')
      } finally {
        for (const s of slaves) await s[Symbol.asyncDispose]()
        await master[Symbol.asyncDispose]()
      }
    })
  })
}
