import type { Entry, Param, Statement } from '../entry.ts'
import { DdbError, DivergenceError, StoreError } from '../errors.ts'
import { statementKind } from '../sql/classify.ts'
import type { Store, StoreStatement, StoreTxn } from './store.ts'

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
 * entry they mean the store differs from the master's, and applying stops. A store
 * that lost its last commits (a MySQL server without innodb_flush_log_at_trx_commit
 * = 1) keeps the DDL among them, which commits durably: every entry up to
 * `doubtUpTo`, the offset it had reached, is in doubt then.
 *
 * A transaction holds entries of one mode (Store.transactionMode: on SQLite,
 * foreign keys on or off, set before BEGIN), so a run is split where the mode
 * changes, each part committed with its own offset, as the master's batches were.
 * An entry without statements (one the filters skip) joins any run.
 *
 * Stops at the first entry that fails or whose DML affects a different number
 * of rows than on the master (DivergenceError); everything before it is
 * committed, so the store's offset names exactly the last applied entry.
 */
export async function applyEntries(
  store: Store,
  entries: Entry[],
  logId: string,
  inDoubt = 0,
  doubtUpTo = inDoubt,
): Promise<void> {
  const alone = entries.map((e) => store.ddlCommitsImplicitly && hasDdl(e))
  let i = 0
  while (i < entries.length) {
    if (alone[i]) {
      const offset = entries[i]!.offset
      await applyDdlEntry(store, entries[i]!, logId, offset >= inDoubt && offset <= doubtUpTo)
      i++
      continue
    }
    let mode: string | null = null
    let j = i
    for (; j < entries.length && !alone[j]; j++) {
      const e = entries[j]!
      if (e.statements.length === 0) continue
      const m = store.transactionMode(e.statements)
      if (mode !== null && m !== mode) break
      mode = m
    }
    await applyInTransaction(store, entries.slice(i, j), logId, mode ?? undefined)
    i = j
  }
}

/**
 * Up to this many entries are applied and committed in one round trip (with a
 * guard per statement checking its row count); larger batches, when catching
 * up, run first and commit after, which costs fewer statements.
 */
const ONE_TRIP_ENTRIES = 16

/** Most SQL text sent in one batch, in bytes (far below MySQL's 16 MB max_allowed_packet). */
const BATCH_TEXT_BYTES = 4 * 1024 * 1024

/**
 * Applies a run of entries (no implicit-commit DDL among them) in as few
 * transactions and round trips as possible: all statements and the new offset
 * in one runMany, checked, then committed. If anything fails or diverges, the
 * run is rolled back and applied again entry by entry, which commits exactly
 * the entries before the culprit and throws its error.
 */
async function applyInTransaction(store: Store, run: Entry[], logId: string, mode?: string): Promise<void> {
  for (const part of byTextSize(run)) {
    const tx = await store.begin(mode)
    try {
      const statements = part.flatMap((e) => e.statements.map((s) => replayed(e, s)))
      const state = { offset: part[part.length - 1]!.offset, logId, previous: part[0]!.offset - 1 }
      if (tx.runManyAndCommit && part.length <= ONE_TRIP_ENTRIES) {
        // Live entries arrive a few at a time: their lag is the round trips.
        await tx.runManyAndCommit(
          statements,
          part.flatMap((e) => e.statements.map((s, i) => expectedRows(e, s, i))),
          state,
        )
        continue
      }
      const results = await tx.runMany(statements, state)
      if (
        firstDivergence(
          part,
          results.map((r) => r.affectedRows),
        ) === null
      ) {
        await tx.commit()
        continue
      }
    } catch (err) {
      await tx.rollback()
      if (!rejected(err)) throw err
      await applyEntryByEntry(store, part, logId, mode)
      continue
    }
    await tx.rollback()
    await applyEntryByEntry(store, part, logId, mode)
  }
}

/** Splits a run where its SQL text passes BATCH_TEXT_BYTES, so no packet grows unbounded. */
function byTextSize(run: Entry[]): Entry[][] {
  const parts: Entry[][] = [[]]
  let bytes = 0
  for (const e of run) {
    const size = e.statements.reduce((n, s) => n + s.sql.length, 0)
    if (bytes + size > BATCH_TEXT_BYTES && parts[parts.length - 1]!.length > 0) {
      parts.push([])
      bytes = 0
    }
    parts[parts.length - 1]!.push(e)
    bytes += size
  }
  return parts
}

/** The first statement whose DML affected a different number of rows than on the master, or null. */
function firstDivergence(entries: Entry[], affected: number[]): DivergenceError | null {
  let k = 0
  for (const e of entries) {
    for (const [i, s] of e.statements.entries()) {
      const expected = expectedRows(e, s, i)
      const actual = affected[k++] ?? 0
      if (expected !== null && actual !== expected) return new DivergenceError(e.offset, s.sql, expected, actual)
    }
  }
  return null
}

/** The slow, exact path: one entry at a time in one transaction; commits the good prefix, throws the culprit's error. */
async function applyEntryByEntry(store: Store, run: Entry[], logId: string, mode?: string): Promise<void> {
  const tx = await store.begin(mode)
  let k = 0
  try {
    for (; k < run.length; k++) await applyEntry(tx, run[k]!)
  } catch (err) {
    await tx.rollback()
    // Commit the good prefix so the store's offset is the last entry that applied.
    if (k > 0) await applyEntryByEntry(store, run.slice(0, k), logId, mode)
    throw err
  }
  try {
    await tx.setState({ offset: run[run.length - 1]!.offset, logId, previous: run[0]!.offset - 1 })
    await tx.commit()
  } catch (err) {
    await tx.rollback()
    throw err
  }
}

async function applyEntry(tx: StoreTxn, e: Entry): Promise<void> {
  const affected: number[] = []
  for (const s of e.statements) {
    try {
      affected.push((await tx.runMany([replayed(e, s)]))[0]!.affectedRows)
    } catch (err) {
      throw rejected(err) ? new ApplyError(e.offset, s.sql, err) : err
    }
  }
  const diverged = firstDivergence([e], affected)
  if (diverged) throw diverged
}

async function applyDdlEntry(store: Store, e: Entry, logId: string, inDoubt: boolean): Promise<void> {
  for (const s of e.statements) {
    try {
      await store.runAutocommit(replayed(e, s))
    } catch (err) {
      if (!rejected(err)) throw err
      if (!inDoubt || !store.ddlAlreadyApplied(err)) throw new ApplyError(e.offset, s.sql, err)
    }
  }
  await store.writeState({ offset: e.offset, logId, previous: e.offset - 1 })
}

/**
 * A logged statement as the store replays it: in its database (else the entry's),
 * at its own time (else the entry's), in its session's time zone (else the entry's),
 * with its session's settings and the master's insert id.
 */
function replayed(e: Entry, s: Statement): StoreStatement {
  return { ...storeStatement(e.db, s, s.ts ?? e.ts), timeZone: runIn(s).timeZone ?? e.timeZone, insertId: s.insertId }
}

/**
 * A statement as a store runs it, in database `db` at time `ts`, with its session's
 * time zone and settings, and on the master the settings it runs with unlogged (`runWith`).
 */
export function storeStatement(
  db: string | null,
  s: Statement,
  ts: number,
  runWith?: Record<string, Param>,
): StoreStatement {
  return { db: s.db ?? db, sql: s.sql, params: s.params, ts, ...runIn(s, runWith) }
}

/** The time zone (a setting the store keeps apart: it pins its own) and the other settings a statement runs with. */
function runIn(s: Statement, runWith?: Record<string, Param>): Pick<StoreStatement, 'timeZone' | 'settings'> {
  if (!s.settings && !runWith) return {}
  const { time_zone, ...settings } = { ...s.settings, ...runWith }
  return {
    ...(typeof time_zone === 'string' ? { timeZone: time_zone } : {}),
    ...(Object.keys(settings).length > 0 ? { settings } : {}),
  }
}

/** A statement the database refused (as opposed to a store that could not be reached: retried later). */
function rejected(err: unknown): boolean {
  return !(err instanceof StoreError) || err.rejectedByServer
}

/** True when any statement of the entry is DDL. */
export function hasDdl(e: { statements: { sql: string }[] }): boolean {
  return e.statements.some((s) => statementKind(s.sql) === 'ddl')
}

/**
 * The rows statement `i` must affect, as on the master: DML only, and not where the
 * entry says they cannot be compared (a negative count: a MySQL master's REPLACE, which
 * counts the rows it deleted too, replayed on SQLite, which does not).
 */
function expectedRows(e: Entry, s: Statement, i: number): number | null {
  const expected = e.affected[i] ?? 0
  return expected >= 0 && isWrite(s.sql) ? expected : null
}

/** True for DML, whose rows affected must match the master's. */
function isWrite(sql: string): boolean {
  return statementKind(sql) === 'write'
}
