import type { EntryDraft } from '../src/entry.ts'
import { ReplicationLog } from '../src/log/replication-log.ts'
import { applyEntries } from '../src/store/apply.ts'
import { openStore } from '../src/store/open-store.ts'
import { CREATE_TABLE, INSERT, payload } from './load.ts'

/** Entries appended to the log (and applied to the store) per commit. */
const BATCH_ENTRIES = 1_000

/**
 * Writes a consistent master without the wire: `entries` entries (the CREATE
 * TABLE, then single-row INSERTs of ids 1, 2, …) appended to the log at
 * `logPath` and applied to the SQLite store at `storePath` with the store's
 * offset and log id, as the master's writer would have left them. Calls
 * onProgress with the entries written so far after each batch.
 */
export async function buildHistory(
  storePath: string,
  logPath: string,
  entries: number,
  onProgress: (done: number) => void,
): Promise<void> {
  const log = ReplicationLog.open(logPath)
  const store = await openStore(`sqlite:${storePath}`)
  try {
    const ts = Date.now()
    for (let done = 0; done < entries; ) {
      const drafts: EntryDraft[] = []
      for (; drafts.length < BATCH_ENTRIES && done < entries; done++) {
        const statement =
          done === 0 ? { sql: CREATE_TABLE, params: [] } : { sql: INSERT, params: [done, payload(done)] }
        drafts.push({ ts, db: null, statements: [statement], affected: [done === 0 ? 0 : 1] })
      }
      const batch = log.prepare(drafts)
      log.append(batch)
      await applyEntries(store, batch, log.id)
      onProgress(done)
    }
  } finally {
    await store.close()
    log.close()
  }
}
