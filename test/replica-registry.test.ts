import { describe, expect, test } from 'bun:test'
import type { NodeStatus, ReplicaStatus } from '../src/wire/messages.ts'
import { BACKEND_KINDS } from './support/backends.ts'
import { withCluster } from './support/cluster.ts'
import { write } from './support/compare.ts'
import { type DdbNode, runDdb, waitApplied } from './support/ddb.ts'
import { waitFor } from './support/util.ts'

/** The master's slaves, as `ddb status --json` prints them. */
async function replicasOf(master: DdbNode): Promise<ReplicaStatus[]> {
  const run = await runDdb(['status', '--json', '--to', master.address])
  expect(run.code, run.stderr).toBe(0)
  const status = JSON.parse(run.stdout) as NodeStatus
  if (status.role !== 'master') throw new Error(`${master.address} is not a master`)
  return status.replicas
}

const waitReplica = (master: DdbNode, what: string, fits: (r: ReplicaStatus | undefined) => boolean) =>
  waitFor(
    async () => {
      const found = (await replicasOf(master)).find((r) => r.id === 'reg-1')
      return fits(found) ? (found ?? true) : null
    },
    { timeoutMs: 30_000, what },
  )

for (const kind of BACKEND_KINDS) {
  describe(`the replica registry on ${kind} stores`, () => {
    test('a slave stays registered across master restarts until it is forgotten, which a connected one cannot be', async () => {
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      const slave = await cluster.addSlave({ args: ['--id', 'reg-1'] })
      await write(cluster.master, 'CREATE TABLE t (id INTEGER PRIMARY KEY)')
      const offset = await write(cluster.master, 'INSERT INTO t (id) VALUES (1)')
      await waitApplied(slave, offset)
      const seen = (await waitReplica(cluster.master, 'the master to see the ack', (r) => r?.applied === offset)) as
        | ReplicaStatus
        | undefined
      expect(seen).toMatchObject({ connected: true, address: slave.address })

      // Stopped, then the master restarts: the registry still names it, with what it had acknowledged.
      await slave.stop()
      let master = await cluster.restartMaster()
      const [away] = await replicasOf(master)
      expect(away).toEqual({
        id: 'reg-1',
        address: slave.address,
        applied: offset,
        connected: false,
        lagEntries: null,
        lagSeconds: null,
        error: null,
        stopped: false,
        lastSeen: expect.any(Number),
      })
      expect(away!.lastSeen!).toBeGreaterThanOrEqual(seen!.lastSeen!)
      expect((await runDdb(['status', '--to', master.address])).stdout).toMatch(
        /\| reg-1 +\| [\d.:]+ +\| 2 +\| unknown +\| unknown +\| no +\| \d{4}-\d\d-\d\dT/,
      )

      // It comes back: the same entry, connected again. A connected slave is not forgotten.
      const back = await cluster.restartSlave(slave)
      await waitReplica(master, 'the slave to reconnect', (r) => r?.connected === true)
      expect(await replicasOf(master)).toHaveLength(1)
      const refused = await runDdb(['replica', 'forget', 'reg-1', '--to', master.address])
      expect(refused.code).toBe(1)
      expect(refused.stderr).toBe(
        'ddb: slave reg-1 is connected: a slave is forgotten only once it has stopped (stop that slave first; it registers again whenever it attaches)\n',
      )

      // Stopped again, it is forgotten, for good (across a restart too); an unknown one is refused.
      await back.stop()
      await waitReplica(master, 'the master to see the slave gone', (r) => r?.connected === false)
      const forgot = await runDdb(['replica', 'forget', 'reg-1', '--to', master.address])
      expect(forgot).toMatchObject({ code: 0, stdout: 'forgot slave reg-1\n' })
      expect(await replicasOf(master)).toEqual([])
      master = await cluster.restartMaster()
      expect(await replicasOf(master)).toEqual([])
      const unknown = await runDdb(['replica', 'forget', 'reg-1', '--to', master.address])
      expect(unknown.code).toBe(1)
      expect(unknown.stderr).toBe('ddb: no slave reg-1 is registered (no slave is registered)\n')
    })
  })
}

test('a slave killed with the master is still registered after the master restarts', async () => {
  await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
  const slave = await cluster.addSlave({ args: ['--id', 'reg-1'] })
  await waitApplied(slave, await write(cluster.master, 'CREATE TABLE t (id INTEGER PRIMARY KEY)'))
  await cluster.master.kill9()
  await slave.kill9()
  const master = await cluster.restartMaster()
  // Registered when it attached (at offset 0); acks are saved once a second, so it may say 0 or 1.
  const [replica] = await replicasOf(master)
  expect(replica).toMatchObject({ id: 'reg-1', connected: false })
  expect(replica!.applied).toBeLessThanOrEqual(1)
  const back = await cluster.restartSlave(slave)
  await waitApplied(back, 1)
  await waitReplica(master, 'the slave to reconnect', (r) => r?.connected === true && r.applied === 1)
})

test('a slave refuses what only the master does; ddb log prune --to a slave prunes its own log', async () => {
  await using cluster = await withCluster({ store: 'sqlite' })
  const forget = await runDdb(['replica', 'forget', 'x', '--to', cluster.slave.address])
  expect(forget.code).toBe(1)
  expect(forget.stderr).toBe(
    "ddb: this node is a slave: only the master can forget a slave (send it to the master's ddb port with --to)\n",
  )
  const prune = await runDdb(['log', 'prune', '--before', '5', '--to', cluster.slave.address])
  expect(prune.code).toBe(1)
  expect(prune.stderr).toStartWith(
    "ddb: prune before offset 5 refused: this node's store and log hold only up to offset 0",
  )
})
