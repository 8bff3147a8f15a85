import { DdbError } from '../errors.ts'
import { type LogSync, ReplicationLog } from '../log/replication-log.ts'
import type { Logger } from '../logger.ts'
import type { StoreState } from '../store/store.ts'

/** Where a slave keeps its log unless --log says: beside a SQLite store (x.sqlite: x-log.sqlite), else in the working directory. */
export function defaultSlaveLog(sqliteFile: string | null): string {
  if (sqliteFile === null) return 'ddb-slave-log.sqlite'
  return `${sqliteFile.replace(/\.sqlite$/, '')}-log.sqlite`
}

/**
 * Opens the slave's own log and makes it agree with its store, which is the truth of
 * what the slave holds: a log with no entries becomes the log of the store's history,
 * starting at the store's offset (a slave of a ddb before slaves kept logs, or a store
 * that took over a snapshot and crashed before its log followed). A log that holds
 * another history's entries, or entries a fresh store lacks, is refused, never cleared:
 * it may hold the only copy of writes an operator needs. After a snapshot takeover that
 * a crash interrupted (and that was just finished), the log starts afresh at its offset.
 */
export function openSlaveLog(
  path: string,
  options: { sync: LogSync; owner: string; storeUrl: string; tookOverSnapshot: boolean },
  state: StoreState,
  logger: Logger,
): ReplicationLog {
  const log = ReplicationLog.open(path, { sync: options.sync, owner: options.owner })
  try {
    if (options.tookOverSnapshot) {
      // A takeover the crash interrupted was just finished: the store holds the snapshot, the log follows it.
      log.reset(state.logId!, state.offset, null, log.epoch)
      return log
    }
    const empty = log.lastOffset() === log.start
    if (state.logId === null) {
      if (!empty) throw mismatch(log, options.storeUrl, 'its store is empty')
      return log // becomes its master's log's copy at the first welcome (Applier.attached)
    }
    if (log.id !== state.logId || log.start > state.offset) {
      if (!empty) throw mismatch(log, options.storeUrl, `its store holds entries of log ${state.logId}`)
      logger.info("the slave's log begins at its store's offset", { log: path, offset: state.offset })
      log.reset(state.logId, state.offset, null, log.epoch)
    }
    return log
  } catch (err) {
    log.close()
    throw err
  }
}

function mismatch(log: ReplicationLog, storeUrl: string, why: string): DdbError {
  return new DdbError(
    'LOG_MISMATCH',
    `slave log ${log.path} holds entries ${log.start + 1}..${log.lastOffset()} of log ${log.id}, but ${why} (${storeUrl})`,
    { hint: 'give the slave the log that belongs to its store with --log, or move this one aside to start afresh' },
  )
}
