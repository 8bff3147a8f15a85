/**
 * A full log disk makes the master read-only, not dead: writes are refused with a
 * clear error, reads and status go on, the write caught mid-commit waits and is
 * acknowledged once logged, and writing resumes by itself when space returns. The
 * log lives on a small tmpfs of its own, filled with a ballast file.
 */

import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type DdbNode, rowsOf, runDdb, startMaster, startSlave, statusOf, waitApplied } from './support/ddb.ts'
import { type Mariadb, startMariadb } from './support/mariadb.ts'
import { tempDir, waitFor } from './support/util.ts'

const servers: Mariadb[] = []
const mounts = new Set<string>()
afterAll(async () => {
  for (const s of servers.splice(0)) await s.stop()
  for (const dir of mounts) unmount(dir) // a test that timed out never reached its own
})

/** A tmpfs of `bytes` at `dir` (unmount(dir) removes it). */
function mountTmpfs(dir: string, bytes: number): void {
  mkdirSync(dir, { recursive: true })
  const mount = Bun.spawnSync(['mount', '-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir])
  if (mount.exitCode !== 0) throw new Error(`mount tmpfs (the test needs root): ${mount.stderr.toString()}`)
  mounts.add(dir)
}

function unmount(dir: string): void {
  Bun.spawnSync(['umount', '-l', dir])
  mounts.delete(dir)
}

/** Fills the file system of `dir` to the last byte; returns the ballast's path. */
function fill(dir: string): string {
  const path = join(dir, 'ballast')
  const chunk = Buffer.alloc(64 * 1024, 1)
  let size = 0
  for (let step = chunk.length; step >= 1; ) {
    try {
      writeFileSync(path, chunk.subarray(0, step), { flag: 'a' })
      size += step
    } catch {
      step = Math.floor(step / 2)
    }
  }
  if (size === 0) throw new Error('the tmpfs was already full')
  return path
}

type Outcome = 'acked' | 'refused' | 'waiting'

async function storeUrl(kind: 'sqlite' | 'mysql', dir: string, name: string): Promise<string> {
  if (kind === 'sqlite') return `sqlite:${join(dir, `${name}.sqlite`)}`
  const server = await startMariadb()
  servers.push(server)
  return server.url('app')
}

describe.each(['sqlite', 'mysql'] as const)('the log disk full, on %s', (kind) => {
  test('the master turns read-only, keeps serving reads and status, and resumes writing by itself', async () => {
    await using dir = await tempDir('ddb-disk-full-')
    const logDisk = join(dir.path, 'logdisk')
    mountTmpfs(logDisk, 4 * 1024 * 1024)
    try {
      const logPath = join(logDisk, 'log.sqlite')
      await using master = await startMaster(await storeUrl(kind, dir.path, 'master'), logPath)
      await using slave = await startSlave(master.address, await storeUrl(kind, dir.path, 'slave'))
      const c = await master.client()
      await c.query('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
      const outcomes = new Map<number, Outcome>()
      const payload = 'x'.repeat(32 * 1024)
      const write = (id: number) => {
        outcomes.set(id, 'waiting')
        return c.query('INSERT INTO t (id, v) VALUES (?, ?)', [id, payload]).then(
          () => void outcomes.set(id, 'acked'),
          (err: Error) => {
            outcomes.set(id, 'refused')
            return err
          },
        )
      }
      for (let id = 1; id <= 5; id++) await write(id)

      const ballast = fill(logDisk)
      // Writes until the log's file must grow and cannot: one write is caught mid-commit, or refused.
      let refusal: Error | undefined
      let id = 6
      for (; id < 200 && !refusal; id++) {
        const result = await Promise.race([write(id), Bun.sleep(3_000).then(() => 'waiting' as const)])
        if (result === 'waiting') break
        if (result instanceof Error) refusal = result
      }
      const status = await waitFor(
        async () => {
          const s = await statusOf(master)
          return s.role === 'master' && s.readOnly ? s : null
        },
        { timeoutMs: 20_000, what: 'the master to say it is read-only' },
      )
      expect(status?.role === 'master' && status.readOnly).toContain('disk full')
      // Read-only: a write is refused at once with the reason; reads and status go on.
      // (A client of its own: a ddb connection answers in order, and c waits for the held write.)
      const other = await master.client()
      const refused = await other.query('INSERT INTO t (id, v) VALUES (1000, ?)', ['r']).catch((e: Error) => e)

      expect(refused).toBeInstanceOf(Error)
      expect((refused as Error).message).toContain('the master is read-only because its log cannot be written')
      const count = rowsOf(await other.query('SELECT COUNT(*) AS n FROM t'))[0]!.n
      expect(Number(count)).toBeGreaterThanOrEqual(5)
      expect(master.proc.exitCode).toBeNull()
      const statusCli = await runDdb(['status', '--to', master.address])
      expect(statusCli.code).toBe(1)
      expect(statusCli.stdout).toContain('read-only  write log')
      expect(statusCli.stderr).toContain('ddb: this master is read-only: write log')

      // Space returns: the waiting write is acknowledged, and writing resumes by itself.
      rmSync(ballast)
      await waitFor(() => ![...outcomes.values()].includes('waiting'), {
        timeoutMs: 20_000,
        what: 'the write caught mid-commit to be answered',
      })
      await waitFor(
        () =>
          other.query('INSERT INTO t (id, v) VALUES (2000, ?)', ['after']).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 20_000, what: 'writes to resume' },
      )
      outcomes.set(2000, 'acked')
      const after = await statusOf(master)
      expect(after.role === 'master' && after.readOnly).toBeNull()

      // Nothing acknowledged lost, nothing refused applied, on the master and its slave; the log has no gap.
      const rowsOn = async (node: DdbNode) =>
        new Set(rowsOf(await (await node.client()).query('SELECT id FROM t')).map((r) => Number(r.id)))
      const offset = after.role === 'master' ? after.offset : 0
      await waitApplied(slave, offset)
      for (const node of [master, slave]) {
        const ids = await rowsOn(node)
        for (const [i, outcome] of outcomes) {
          if (outcome === 'acked') expect(ids.has(i)).toBe(true)
          if (outcome === 'refused') expect(ids.has(i)).toBe(false)
        }
      }
      const log = new Database(logPath, { readonly: true })
      const { n, last } = log.query('SELECT COUNT(*) AS n, MAX(offset) AS last FROM entries').get() as {
        n: number
        last: number
      }
      log.close()
      expect([n, last]).toEqual([offset, offset])
      expect(master.log()).toContain('the master is read-only until the log can be written')
      expect(master.log()).toContain('log writable again')
    } finally {
      unmount(logDisk)
    }
  })
})
