/**
 * What may leave the log: the retention policy says what it need not keep, and
 * the slaves, pins and the store say what must stay. Pure: the pruner gathers the
 * facts, these functions decide, and the tests need no log.
 */

/** A node's retention flags (a master's, or a slave's for its own log); each null when not given. No flag at all: keep everything. */
export interface RetentionPolicy {
  /** --retain-entries: keep the newest N entries. */
  entries: number | null
  /** --retain-time: keep the entries of the last T ms. */
  timeMs: number | null
  /** --retain-bytes: keep the log's data under this many bytes. */
  bytes: number | null
  /** --replica-timeout: a slave away longer than this stops holding the log back (null: it holds it until forgotten). */
  replicaTimeoutMs: number | null
}

export const KEEP_EVERYTHING: RetentionPolicy = { entries: null, timeMs: null, bytes: null, replicaTimeoutMs: null }

/** True when some flag lets entries go (the pruner runs only then). */
export function prunes(policy: RetentionPolicy): boolean {
  return policy.entries !== null || policy.timeMs !== null || policy.bytes !== null
}

/**
 * Entries younger than this are never removed: a store may forget its last commits in
 * a crash (a SQLite store's synchronous=NORMAL, InnoDB's innodb_flush_log_at_trx_commit
 * 0 or 2: about a second), and the master then applies them again from its log.
 */
export const STORE_SETTLE_MS = 5_000

/** A registered slave, as the pruner sees it. */
export interface ReplicaHold {
  id: string
  /** The last offset it acknowledged. */
  applied: number
  connected: boolean
  /** When the master last heard from it, ms since the epoch. */
  lastSeen: number
}

/** Where the log stands, and who needs what of it. */
export interface LogFacts {
  /** The log starts after this offset. */
  start: number
  /** The newest offset on both log and store. */
  published: number
  now: number
  /** When this master started: time away counts from then at the earliest (its own downtime is no slave's fault). */
  startedAt: number
  /** The newest offset whose entry ran before `ts` (`start` if none did). */
  newestBefore(ts: number): number
  /** The bytes the log's data takes now. */
  usedBytes: number
  /** The offset up to which the oldest entries take at least `bytes` (the newest offset if all of them take less). */
  oldestTaking(bytes: number): number
  replicas: ReplicaHold[]
  /** The lowest offset pinned (a snapshot being sent at it), with who pinned it; null: no pin. */
  pinned: { offset: number; by: string } | null
}

/** How far the log may be cut, and, when something stops it short, what. */
export interface PruneLimit {
  /** Entries up to this offset may be removed (`start`: none). */
  upTo: number
  /** What holds the log at upTo (null: nothing did, upTo is what was asked). */
  heldBy: string | null
}

/** The offset up to which the retention flags let entries go: the furthest any one flag allows (`start`: keep all). */
export function retentionCut(policy: RetentionPolicy, facts: LogFacts): number {
  const cuts = [facts.start]
  if (policy.entries !== null) cuts.push(facts.published - policy.entries)
  if (policy.timeMs !== null) cuts.push(facts.newestBefore(facts.now - policy.timeMs))
  if (policy.bytes !== null && facts.usedBytes > policy.bytes)
    cuts.push(facts.oldestTaking(facts.usedBytes - policy.bytes))
  return Math.max(...cuts)
}

/**
 * Cuts `wanted` back to what is safe to remove: never past the published offset, the
 * entries of the last STORE_SETTLE_MS, the lowest pin, or the offset a live slave has
 * acknowledged. A slave is live while connected, or away no longer than the replica
 * timeout; one already behind the start holds nothing (it needs a snapshot anyway).
 */
export function safeCut(wanted: number, facts: LogFacts, replicaTimeoutMs: number | null): PruneLimit {
  let limit: PruneLimit = { upTo: wanted, heldBy: null }
  const hold = (upTo: number, by: () => string) => {
    if (upTo < limit.upTo) limit = { upTo, heldBy: by() }
  }
  // On a tie the first hold is the one named: a slave or a pin says more than the clock.
  for (const r of facts.replicas) {
    if (r.applied < facts.start || !isLive(r, facts, replicaTimeoutMs)) continue
    hold(r.applied, () => `slave ${r.id} has acknowledged only up to offset ${r.applied}${awayFor(r, facts.now)}`)
  }
  const pin = facts.pinned
  if (pin) hold(pin.offset, () => `${pin.by} needs the entries after offset ${pin.offset}`)
  hold(facts.published, () => `this node's store and log hold only up to offset ${facts.published}`)
  const settled = facts.newestBefore(facts.now - STORE_SETTLE_MS)
  hold(
    settled,
    () =>
      `entries after offset ${settled} are younger than ${STORE_SETTLE_MS / 1000} s (the store may not hold them durably yet)`,
  )
  return { upTo: Math.max(limit.upTo, facts.start), heldBy: limit.heldBy }
}

/** How far the log may be cut now: what the policy allows, made safe. */
export function pruneLimit(policy: RetentionPolicy, facts: LogFacts): PruneLimit {
  return safeCut(retentionCut(policy, facts), facts, policy.replicaTimeoutMs)
}

/** Connected, or away no longer than the timeout (counted from the master's start at the earliest). */
export function isLive(
  r: ReplicaHold,
  facts: Pick<LogFacts, 'now' | 'startedAt'>,
  replicaTimeoutMs: number | null,
): boolean {
  if (r.connected || replicaTimeoutMs === null) return true
  return facts.now - Math.max(r.lastSeen, facts.startedAt) <= replicaTimeoutMs
}

function awayFor(r: ReplicaHold, now: number): string {
  return r.connected ? '' : ` (disconnected, last seen ${Math.round((now - r.lastSeen) / 1000)} s ago)`
}
