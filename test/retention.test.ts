import { describe, expect, test } from 'bun:test'
import { existsSync, statSync } from 'node:fs'
import type { NodeStatus } from '../src/wire/messages.ts'
import { BACKEND_KINDS } from './support/backends.ts'
import { withCluster } from './support/cluster.ts'
import { expectSlavesEqualMaster, tailLog, write, writeRows } from './support/compare.ts'
import { type DdbNode, runDdb, statusOf, waitApplied } from './support/ddb.ts'
import { waitFor } from './support/util.ts'

/** What the log file and its WAL take on disk. */
const logBytes = (log: string) =>
  [log, `${log}-wal`].reduce((sum, p) => sum + (existsSync(p) ? statSync(p).size : 0), 0)

async function masterStatus(master: DdbNode): Promise<Extract<NodeStatus, { role: 'master' }>> {
  const s = await statusOf(master)
  if (s.role !== 'master') throw new Error(`${master.address} is not a master`)
  return s
}

const logStart = async (master: DdbNode) => (await masterStatus(master)).logStart ?? 0

/** A row of about 600 bytes, so the log has some size to give back. */
const row = (i: number) => `INSERT INTO t (id, v) VALUES (${i}, '${'x'.repeat(600)}')`

for (const kind of BACKEND_KINDS) {
  describe(`retention on ${kind} stores`, () => {
    test('a slave away past --replica-timeout stops holding the log, which shrinks on disk; back, it re-bootstraps by snapshot', async () => {
      await using cluster = await withCluster({
        store: kind,
        slaves: 0,
        masterArgs: ['--retain-entries', '100', '--replica-timeout', '3s'],
      })
      const { master } = cluster
      const live = await cluster.addSlave({ args: ['--id', 'live'] })
      const away = await cluster.addSlave({ args: ['--id', 'away'] })
      await write(master, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR(700))')
      let peak = 0
      const sampler = setInterval(() => (peak = Math.max(peak, logBytes(cluster.log))), 20)
      try {
        const written = Math.max(...(await writeRows(master, 2000, (i) => row(i + 1))))
        await waitApplied(away, written)
        await away.kill9()
        // Writes go on while it is away, longer than the timeout: once it is past it, the log moves on without it.
        let next = 2001
        const wrote = async () => write(master, row(next++))
        for (const started = Date.now(); Date.now() - started < 4_000; ) {
          await wrote()
          await Bun.sleep(20)
        }
        const last = await wrote()
        await waitFor(async () => (await logStart(master)) >= last - 100, {
          timeoutMs: 30_000,
          what: 'the log to keep only its newest 100 entries',
        })
        const start = await logStart(master)
        await waitFor(() => logBytes(cluster.log) < peak / 4, {
          timeoutMs: 30_000,
          what: `the log file to shrink (peak ${peak} bytes, now ${logBytes(cluster.log)})`,
        })
        console.log(`retention on ${kind}: log file ${peak} bytes at its peak, ${logBytes(cluster.log)} after pruning`)

        const tail = await runDdb(['log', 'tail', '--log', cluster.log, '-n', '1'])
        expect(tail.stderr).toBe(`log starts after offset ${start}\n`)
        expect((await tailLog(cluster.log, '--from', '1')).map((e) => e.offset)[0]).toBe(start + 1)
        await expectSlavesEqualMaster(master, [live], kind)

        const registered = (await masterStatus(master)).replicas.find((r) => r.id === 'away')
        expect(registered).toMatchObject({ connected: false, lagEntries: null })
        expect(registered?.error).toContain("is before the log's start")

        // Back, it is behind the log's start: it gets a snapshot, takes it over, and streams on from there.
        const back = await cluster.restartSlave(away)
        await waitFor(() => /snapshot loaded/.test(back.log()), { timeoutMs: 60_000, what: 'the snapshot to load' })
        await write(master, row(next++))
        await expectSlavesEqualMaster(master, [live, back], kind)
      } finally {
        clearInterval(sampler)
      }
    })

    test('a slave within --replica-timeout keeps every entry it has not acknowledged, and catches up from them', async () => {
      await using cluster = await withCluster({
        store: kind,
        slaves: 0,
        masterArgs: ['--retain-entries', '10', '--replica-timeout', '1h'],
      })
      const { master } = cluster
      const held = await cluster.addSlave({ args: ['--id', 'held'] })
      await write(master, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR(700))')
      const acked = Math.max(...(await writeRows(master, 50, (i) => row(i + 1))))
      await waitApplied(held, acked)
      await waitFor(async () => (await masterStatus(master)).replicas[0]?.applied === acked, {
        timeoutMs: 30_000,
        what: 'the master to see the ack',
      })
      await held.stop()
      const last = Math.max(...(await writeRows(master, 200, (i) => row(i + 1000))))
      // The policy would keep 10 entries; the slave holds the log at what it acknowledged.
      await waitFor(async () => (await logStart(master)) === acked, {
        timeoutMs: 30_000,
        what: `the log to be pruned up to what the slave acknowledged (${acked})`,
      })
      await Bun.sleep(2_000)
      expect(await logStart(master)).toBe(acked)

      const refused = await runDdb(['log', 'prune', '--before', String(acked + 2), '--to', master.address])
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toStartWith(
        `ddb: prune before offset ${acked + 2} refused: slave held has acknowledged only up to offset ${acked} (disconnected, last seen `,
      )
      expect(refused.stderr.trim().split('\n')).toHaveLength(1)

      const back = await cluster.restartSlave(held)
      await expectSlavesEqualMaster(master, [back], kind)
      await waitFor(async () => (await logStart(master)) === last - 10, {
        timeoutMs: 30_000,
        what: 'the log to keep its newest 10 entries once the slave has them',
      })
    })
  })
}

test('ddb log prune --before: refused when it would cut a live slave off, done when it is safe', async () => {
  await using cluster = await withCluster({ store: 'sqlite', slaves: 2, slaveArgs: [] })
  const { master } = cluster
  const [up, down] = cluster.slaves as [DdbNode, DdbNode]
  await write(master, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR(700))')
  const before = Math.max(...(await writeRows(master, 100, (i) => row(i + 1))))
  await waitApplied(down, before)
  await waitFor(async () => (await masterStatus(master)).replicas.every((r) => r.applied === before), {
    timeoutMs: 30_000,
    what: 'the master to see both acks',
  })
  await down.stop()
  const downId = (await masterStatus(master)).replicas.find((r) => !r.connected)!.id
  await Bun.sleep(5_500) // the entries so far are settled in the store: only a slave holds them now
  const last = Math.max(...(await writeRows(master, 20, (i) => row(i + 1000))))
  await waitApplied(up, last)

  // No retention flag: nothing is pruned by itself.
  expect(await logStart(master)).toBe(0)
  const cut = await runDdb(['log', 'prune', '--before', String(before + 5), '--to', master.address])
  expect(cut.code).toBe(1)
  expect(cut.stdout).toBe('')
  expect(cut.stderr).toMatch(
    new RegExp(
      `^ddb: prune before offset ${before + 5} refused: slave ${downId} has acknowledged only up to offset ${before} \\(disconnected, last seen \\d+ s ago\\) \\(prune before a lower offset, wait, or forget a slave that is gone for good \\(ddb replica forget\\)\\)\\n$`,
    ),
  )
  const safe = await runDdb(['log', 'prune', '--before', String(before + 1), '--to', master.address])
  expect(safe).toMatchObject({
    code: 0,
    stdout: `removed ${before} entries; the log starts after offset ${before}\n`,
  })
  expect(await logStart(master)).toBe(before)
  const again = await runDdb(['log', 'prune', '--before', '10', '--to', master.address])
  expect(again.stdout).toBe(`nothing to remove; the log starts after offset ${before}\n`)
  const tail = await runDdb(['log', 'tail', '--log', cluster.log, '--from', '1', '-n', '1', '--json'])
  expect(tail.stderr).toBe(`log starts after offset ${before} (entries before ${before + 1} were pruned)\n`)
  expect(JSON.parse(tail.stdout).offset).toBe(before + 1)

  // The stopped slave resumes from the entries it lacks, which the log kept.
  const back = await cluster.restartSlave(down)
  await expectSlavesEqualMaster(master, [up, back], 'sqlite')
})
