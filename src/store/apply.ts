import { DdbError, DivergenceError, StoreError } from '../errors.ts'
import type { Entry } from '../entry.ts'
import { classify } from '../sql/classify.ts'
import type { Store, StoreTxn } from './store.ts'

/** Applying an entry failed on this store; entries before it stay applied. */
export class ApplyError extends DdbError {
  readonly offset: number

  constructor(offset: number, sql: string, cause: unknown) {
    super('APPLY_FAILED', `apply entry ${offset}: ${(cause as Error).message ?? cause}: ${sql}`, {
      cause,
      hint: 'fix the cause on this node, then restart it; it resumes at this entry',
    })
    this.offset = offset
  }
}

/**
 * Applies entries (consecutive, in offset order) into `store`, each entry's data
 * and the store's offset in the same transaction; many entries share one
 * transaction. Where DDL commits implicitly (MySQL), a DDL entry runs alone and
 * its offset is written right after it: a crash between the two leaves the DDL
 * done and the offset behind. So for the one entry in doubt (`inDoubt`: the
 * first after a restart or a lost store connection), the "already exists /
 * already gone" errors of running it again mean it was applied. For any other
 * entry they mean the store differs from the master's, and applying stops.
 *
 * Stops at the first entry that fails or whose DML affects a different number
 * of rows than on the master (DivergenceError); everything before it is
 * committed, so the store's offset names exactly the last applied entry.
 */
export async function applyEntries(store: Store, entries: Entry[], logId: string, inDoubt = 0): Promise<void> {
  let i = 0
  while (i < entries.length) {
    if (store.ddlCommitsImplicitly && hasDdl(entries[i]!)) {
      await applyDdlEntry(store, entries[i]!, logId, entries[i]!.offset === inDoubt)
      i++
      continue
    }
    let j = i
    while (j < entries.length && !(store.ddlCommitsImplicitly && hasDdl(entries[j]!))) j++
    await applyInTransaction(store, entries.slice(i, j), logId)
    i = j
  }
}

async function applyInTransaction(store: Store, run: Entry[], logId: string): Promise<void> {
  const tx = await store.begin()
  let k = 0
  try {
    for (; k < run.length; k++) await applyEntry(tx, run[k]!)
  } catch (err) {
    await tx.rollback()
    // Commit the good prefix so the store's offset is the last entry that applied.
    if (k > 0) await applyInTransaction(store, run.slice(0, k), logId)
    throw err
  }
  try {
    await tx.setState({ offset: run[run.length - 1]!.offset, logId })
    await tx.commit()
  } catch (err) {
    await tx.rollback()
    throw err
  }
}

async function applyEntry(tx: StoreTxn, e: Entry): Promise<void> {
  for (const [i, s] of e.statements.entries()) {
    let affected: number
    try {
      affected = (await tx.run(e.db, s.sql, s.params)).affectedRows
    } catch (err) {
      throw rejected(err) ? new ApplyError(e.offset, s.sql, err) : err
    }
    const expected = e.affected[i] ?? 0
    if (classify(s.sql).kind === 'write' && affected !== expected) {
      throw new DivergenceError(e.offset, s.sql, expected, affected)
    }
  }
}

async function applyDdlEntry(store: Store, e: Entry, logId: string, inDoubt: boolean): Promise<void> {
  for (const s of e.statements) {
    try {
      await store.runAutocommit(e.db, s.sql, s.params)
    } catch (err) {
      if (!rejected(err)) throw err
      if (!inDoubt || !store.ddlAlreadyApplied(err)) throw new ApplyError(e.offset, s.sql, err)
    }
  }
  await store.writeState({ offset: e.offset, logId })
}

/** A statement the database refused (as opposed to a store that could not be reached: retried later). */
function rejected(err: unknown): boolean {
  return !(err instanceof StoreError) || err.rejectedByServer
}

/** True when any statement of the entry is DDL. */
export function hasDdl(e: { statements: { sql: string }[] }): boolean {
  return e.statements.some((s) => classify(s.sql).kind === 'ddl')
}
