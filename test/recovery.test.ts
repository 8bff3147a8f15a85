import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import type { EntryDraft } from '../src/entry.ts'
import { RecoveryError } from '../src/errors.ts'
import { ReplicationLog } from '../src/log/replication-log.ts'
import { createLogger } from '../src/logger.ts'
import { recover } from '../src/master/recovery.ts'
import { openStore } from '../src/store/open-store.ts'
import type { Store } from '../src/store/store.ts'
import { BACKEND_KINDS, type Backend, createBackend } from './support/backends.ts'

const quiet = createLogger({}, { write: () => {} })
const insert = (id: number): EntryDraft => ({
  ts: 1,
  db: null,
  statements: [{ sql: `INSERT INTO r (id) VALUES (${id})`, params: [] }],
  affected: [1],
})

/** A store and log in agreement at offset 2: a table and one row. */
async function consistentPair(backend: Backend, name: string): Promise<{ store: Store; log: ReplicationLog }> {
  const store = await openStore(await backend.newStore())
  const log = ReplicationLog.open(join(backend.dir, `${name}.log`))
  await recover(store, log, quiet)
  const entries = log.prepare([
    { ts: 1, db: null, statements: [{ sql: 'CREATE TABLE r (id INTEGER PRIMARY KEY)', params: [] }], affected: [0] },
    insert(1),
  ])
  log.append(entries)
  await recover(store, log, quiet) // replays both: the log is ahead
  return { store, log }
}

async function ids(store: Store): Promise<number[]> {
  return (await store.read(null, 'SELECT id FROM r ORDER BY id', [])).rows.map(([id]) => Number(id))
}

for (const kind of BACKEND_KINDS) {
  describe(`recover on ${kind}`, () => {
    let backend: Backend
    beforeAll(() => {
      backend = createBackend(kind)
    })
    afterAll(() => backend.close())

    test('a log ahead of the store is replayed into it', async () => {
      const { store, log } = await consistentPair(backend, 'ahead')
      log.append(log.prepare([insert(2), insert(3)]))
      await recover(store, log, quiet)
      expect(await ids(store)).toEqual([1, 2, 3])
      expect((await store.readState()).offset).toBe(4)
      await store.close()
    })

    test('a store ahead of the log by its pending batch gives the log that batch back', async () => {
      const { store, log } = await consistentPair(backend, 'store-ahead')
      // What the writer does, minus the log append: the crash came between the two commits.
      const entries = log.prepare([insert(2), insert(3)])
      const tx = await store.begin()
      for (const e of entries) await tx.run(null, e.statements[0]!.sql, [])
      await tx.setState({ offset: 4, logId: log.id, pending: JSON.stringify(entries) })
      await tx.commit()
      await recover(store, log, quiet)
      expect(log.lastOffset()).toBe(4)
      expect(log.readAfter(2, 10)).toEqual(entries)
      expect(await ids(store)).toEqual([1, 2, 3])
      await store.close()
    })

    test('a store further ahead than its pending batch is refused', async () => {
      const { store, log } = await consistentPair(backend, 'too-far')
      const entries = log.prepare([insert(2), insert(3)])
      await store.writeState({ offset: 4, logId: log.id, pending: JSON.stringify(entries.slice(1)) })
      await expect(recover(store, log, quiet)).rejects.toThrow(/the log is missing 2 committed entries/)
      await store.close()
    })

    test('a store written with another log is refused', async () => {
      const { store } = await consistentPair(backend, 'mine')
      const other = ReplicationLog.open(join(backend.dir, 'other.log'))
      await expect(recover(store, other, quiet)).rejects.toBeInstanceOf(RecoveryError)
      await store.close()
    })
  })
}
