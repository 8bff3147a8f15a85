import { CATCH_UP_PAGE_ENTRIES } from '../config.ts'
import { type Entry, entryChecksum } from '../entry.ts'
import { RecoveryError } from '../errors.ts'
import { CorruptEntryError, type ReplicationLog } from '../log/replication-log.ts'
import type { Logger } from '../logger.ts'
import { ApplyError, applyEntries, hasDdl } from '../store/apply.ts'
import type { Store } from '../store/store.ts'

/** True when the store has tables, views or triggers of its own: data that was there before ddb. */
async function holdsData(store: Store): Promise<boolean> {
  const snapshot = await store.openSnapshot((takeView) => takeView()) // nothing else runs yet
  try {
    return snapshot.schema.tables.length > 0 || snapshot.schema.after.length > 0
  } finally {
    await snapshot.close()
  }
}

/**
 * A new log on a store that already holds data: the data is adopted as offset 1, which
 * the log starts after (it holds no entry for it), so a new slave, at offset 0, gets a
 * snapshot that holds the data, then the entries from 2 on. The start moves first: a
 * crash before the store records offset 1 finds a log that only adopted, and adopts again.
 */
async function adopt(store: Store, log: ReplicationLog, logger: Logger): Promise<void> {
  if (log.start === 0) log.setStart(ADOPTED)
  await store.writeState({ offset: ADOPTED, logId: log.id })
  logger.info('adopted the data already in the store; new slaves start from a snapshot of it', {
    store: store.displayUrl,
    offset: ADOPTED,
  })
}

/** The offset of the data a master adopted: what a new slave's snapshot starts from. */
const ADOPTED = 1

/**
 * Brings the master's store and log into agreement before it serves anyone.
 * The store's offset S and the log's last offset L:
 * - L = S: clean.
 * - L > S: the master died after the log commit and before the store's
 *   (writer.ts), so entries S+1…L are applied again, in order.
 *   A MySQL DDL entry that fails again was never applied: it failed on the
 *   server before the crash could remove it, so it is removed now.
 * - S > L: the master died after the store's commit and before the log's; the
 *   store's state row holds that batch (pending), so the log gets it back.
 * - Anything else (S further ahead, a store written with another log): refused.
 */
export async function recover(store: Store, log: ReplicationLog, logger: Logger): Promise<void> {
  const state = await store.readState()
  const last = log.lastOffset()
  const where = `store ${store.displayUrl} is at offset ${state.offset}, log ${log.path} ends at ${last}`

  if (state.logId === null) {
    // A log that only adopted the store's data (a crash came before the store recorded it) adopts it again.
    const adopting = log.start === ADOPTED && last === ADOPTED
    if (state.offset !== 0 || (last !== 0 && !adopting)) {
      throw new RecoveryError(
        `recover: ${where}, but the store has never been written with this log`,
        'point --db at the store this log belongs to, or start with a new --log file',
      )
    }
    if (adopting || (await holdsData(store))) return adopt(store, log, logger)
    await store.writeState({ offset: 0, logId: log.id })
    return
  }
  if (state.logId !== log.id) {
    throw new RecoveryError(
      `recover: store ${store.displayUrl} was written with log ${state.logId}, but ${log.path} is log ${log.id}`,
      'point --log at the log file this store was written with',
    )
  }
  if (state.offset > last) {
    const pending: Entry[] = state.pending ? JSON.parse(state.pending) : []
    if (pending.length > 0 && pending[0]!.offset === last + 1 && pending[pending.length - 1]!.offset === state.offset) {
      for (const e of pending) if (entryChecksum(e) !== e.checksum) throw new CorruptEntryError(e.offset)
      logger.warn('restoring to the log the entries the store committed last', { from: last + 1, to: state.offset })
      log.append(pending)
      return
    }
    throw new RecoveryError(
      `recover: ${where}: the log is missing ${state.offset - last} committed entries`,
      'restore the log file that belongs to this store; a shorter log would give slaves a different history',
    )
  }
  if (state.offset === last) return

  logger.warn('replaying logged entries the store had not committed', { from: state.offset + 1, to: last })
  for (let after = state.offset; after < last; ) {
    const page = log.readAfter(after, CATCH_UP_PAGE_ENTRIES)
    try {
      await applyEntries(store, page, log.id, state.offset + 1)
    } catch (err) {
      const failed = err instanceof ApplyError ? log.get(err.offset) : null
      if (store.ddlCommitsImplicitly && failed?.offset === last && hasDdl(failed)) {
        logger.warn('removing a logged DDL that failed on the store', { offset: last, error: err })
        log.truncateAfter(last - 1)
        return
      }
      throw new RecoveryError(
        `recover: ${(err as Error).message}`,
        'the store cannot apply its own log; repair the store, then start again',
      )
    }
    after = page[page.length - 1]!.offset
  }
}
