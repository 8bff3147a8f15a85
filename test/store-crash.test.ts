import { afterAll, beforeAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import { dumpTable, masterOffset } from './support/compare.ts'
import { type DdbNode, startMaster, startSlave, statusOf, waitApplied } from './support/ddb.ts'
import { startMariadb } from './support/mariadb.ts'
import { type TempDir, tempDir, waitFor } from './support/util.ts'

// The master's own MySQL dies (kill -9) under writes and comes back: a commit
// cut off after its entries were logged must be reconciled, not lost or hung on.

let dir: TempDir

beforeAll(async () => {
  dir = await tempDir('ddb-store-crash-')
})

afterAll(async () => {
  await dir?.[Symbol.asyncDispose]()
})

/**
 * Writers that insert rows until stopped, recording the ids the master
 * acknowledged; failures are expected while the store is down. The first
 * `inTransactions` writers insert two rows per BEGIN … COMMIT.
 */
function startWriters(master: DdbNode, count: number, inTransactions = 0) {
  const acked: number[] = []
  let running = true
  const done = Promise.all(
    Array.from({ length: count }, async (_, w) => {
      const c = await master.client()
      for (let i = 0; running; i += 2) {
        const id = w * 1_000_000 + i
        try {
          if (w < inTransactions) {
            await c.query('BEGIN')
            await c.query(`INSERT INTO acked (id) VALUES (${id}), (${id + 1})`)
            await c.query('COMMIT')
            acked.push(id, id + 1)
          } else {
            await c.query(`INSERT INTO acked (id) VALUES (${id})`)
            acked.push(id)
          }
        } catch {
          await c.query('ROLLBACK').catch(() => {})
          await Bun.sleep(20)
        }
      }
    }),
  )
  const stop = () => {
    running = false
    return done
  }
  return { acked, stop }
}

test.each([
  ['single writes', 0],
  ['single writes and client transactions', 4],
])(
  'the master store killed -9 mid-commit and restarted, %s: the master reconciles and keeps serving',
  async (_what, inTransactions) => {
    // A server of its own: the state table ddb.replication_state belongs to one master.
    await using store = await startMariadb()
    const db = inTransactions ? 'crash_txn' : 'crash'
    await using master = await startMaster(store.url(db), join(dir.path, `${db}.log`))
    await using slave = await startSlave(master.address, `sqlite:${join(dir.path, `${db}-slave.sqlite`)}`)
    const c = await master.client()
    await c.query('CREATE TABLE acked (id INTEGER PRIMARY KEY)')
    const writers = startWriters(master, 8, inTransactions)
    // A kill lands mid-commit (entries logged, COMMIT cut off) only some of the time: repeat until the master says it reconciled.
    for (let round = 1; !master.log().includes('reconciled store with log'); round++) {
      if (round > 10) throw new Error(`no kill landed mid-commit in 10 rounds; master log:\n${master.log()}`)
      await waitFor(() => writers.acked.length > round * 50, {
        timeoutMs: 30_000,
        what: 'writes to be acknowledged',
      }).catch((err) => {
        throw new Error(`${(err as Error).message}; master log:\n${master.log()}`)
      })
      await store.crash()
      await Bun.sleep(300)
      await store.restart()
    }
    // It serves again: a write goes through, then every acknowledged row is in the store and on the slave.
    await waitFor(
      () =>
        c.query('INSERT INTO acked (id) VALUES (-1)').then(
          () => true,
          () => false,
        ),
      { timeoutMs: 30_000, what: 'a write after the restart' },
    )
    await writers.stop()
    const rows = new Set((await dumpTable(master, 'acked')).map((r) => Number(r.id)))
    for (const id of writers.acked) expect(rows.has(id)).toBe(true)
    const status = await statusOf(master)
    const offset = await masterOffset(master)
    expect(status.role === 'master' && status.offset).toBe(offset)
    const [state] = await store.query(`SELECT applied_offset FROM ddb.replication_state WHERE id = 1`)
    expect(Number(state.applied_offset)).toBe(offset)
    await waitApplied(slave, offset)
    expect(await dumpTable(slave, 'acked')).toEqual(await dumpTable(master, 'acked'))
  },
  120_000,
)
