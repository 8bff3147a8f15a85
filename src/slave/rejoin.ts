import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'
import type { ReplicationLog } from '../log/replication-log.ts'
import type { Client } from '../wire/client.ts'

/** Entries read from the log per write of the divergent file. */
const PAGE = 1_000

/**
 * The newest offset at which this log and the master's agree (the same hash), by binary
 * search: two logs that agree at an offset agree at every one before it (the hash chain).
 * log.start - 1 when they do not agree even at the log's start (the store needs a snapshot).
 */
export async function findFork(log: ReplicationLog, master: Client): Promise<number> {
  const agrees = async (offset: number) => {
    const [theirs] = await master.logHashes([offset])
    const ours = log.hashAt(offset)
    return theirs !== null && theirs !== undefined && ours !== null && theirs === ours
  }
  let [lo, hi] = [log.start, log.lastOffset()]
  if (!(await agrees(lo))) return lo - 1
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (await agrees(mid)) lo = mid
    else hi = mid - 1
  }
  return lo
}

/** Where the rejoin of history `log` found the fork, for the operator. */
export interface ForkContext {
  fork: number
  master: string
  masterEpoch: number
  slaveId: string
}

/**
 * Writes the log's entries after the fork (the old master's writes the new master never
 * had) to a file beside the log, one JSON entry per line after a header line saying what
 * they are (as `ddb log tail --json` prints them: statements, parameters, database, time
 * zone, time): the operator reads them and replays what should be kept. Returns its path,
 * or null when there are none.
 */
export function saveDivergent(log: ReplicationLog, context: ForkContext): string | null {
  const from = Math.max(context.fork, log.start)
  const last = log.lastOffset()
  if (last <= from) return null
  const path = `${log.path}-divergent-${from + 1}-${last}.ndjson`
  const header = {
    divergent: {
      logId: log.id,
      fork: context.fork,
      entries: last - from,
      epoch: log.epoch,
      newMaster: context.master,
      newMasterEpoch: context.masterEpoch,
      slave: context.slaveId,
      savedAt: new Date().toISOString(),
      note: 'entries this node logged that its new master never had; they are not in any replica',
    },
  }
  const lines = [JSON.stringify(header)]
  for (let after = from; after < last; ) {
    const page = log.readAfter(after, PAGE)
    if (page.length === 0) break
    for (const e of page) lines.push(JSON.stringify(e))
    after = page[page.length - 1]!.offset
  }
  // Durable before the log lets go of them.
  const fd = openSync(path, 'w')
  try {
    writeSync(fd, `${lines.join('\n')}\n`)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  return path
}
