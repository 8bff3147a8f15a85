import { describe, expect, test } from 'bun:test'
import {
  KEEP_EVERYTHING,
  type LogFacts,
  pruneLimit,
  type ReplicaHold,
  type RetentionPolicy,
  STORE_SETTLE_MS,
  safeCut,
} from './retention.ts'

const NOW = 10_000_000
const MINUTE = 60_000

/**
 * A log of entries start+1 … published: entry k ran `ageMinutes(k)` minutes before NOW
 * and takes 100 bytes; the data takes 100 bytes per entry.
 */
function facts(over: Partial<LogFacts> & { ageMinutes?: (offset: number) => number } = {}): LogFacts {
  const start = over.start ?? 0
  const published = over.published ?? 1_000
  const age = over.ageMinutes ?? ((k: number) => published - k + 1) // entry 1000 one minute old, 999 two …
  const ts = (k: number) => NOW - age(k) * MINUTE
  return {
    start,
    published,
    now: NOW,
    startedAt: NOW - 24 * 60 * MINUTE,
    newestBefore(t) {
      let newest = start
      for (let k = start + 1; k <= published; k++) if (ts(k) < t) newest = k
      return newest
    },
    usedBytes: (published - start) * 100,
    oldestTaking: (bytes) => Math.min(published, start + Math.ceil(bytes / 100)),
    replicas: [],
    pinned: null,
    ...over,
  }
}

const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ ...KEEP_EVERYTHING, ...p })
const replica = (id: string, applied: number, r: Partial<ReplicaHold> = {}): ReplicaHold => ({
  id,
  applied,
  connected: true,
  lastSeen: NOW,
  ...r,
})

describe('the retention policy', () => {
  test('no flag keeps everything', () => {
    expect(pruneLimit(KEEP_EVERYTHING, facts())).toEqual({ upTo: 0, heldBy: null })
  })

  test('--retain-entries keeps the newest N', () => {
    expect(pruneLimit(policy({ entries: 100 }), facts()).upTo).toBe(900)
    expect(pruneLimit(policy({ entries: 5_000 }), facts()).upTo).toBe(0)
    expect(pruneLimit(policy({ entries: 100 }), facts({ start: 950 })).upTo).toBe(950)
  })

  test('--retain-time keeps the entries younger than T', () => {
    expect(pruneLimit(policy({ timeMs: 60 * MINUTE }), facts()).upTo).toBe(940)
  })

  test('--retain-bytes keeps the data under SIZE, oldest entries first', () => {
    expect(pruneLimit(policy({ bytes: 10_000 }), facts()).upTo).toBe(900)
    expect(pruneLimit(policy({ bytes: 1_000_000 }), facts()).upTo).toBe(0)
  })

  test('with several flags, an entry beyond any one of them may go', () => {
    expect(pruneLimit(policy({ entries: 500, timeMs: 60 * MINUTE }), facts()).upTo).toBe(940)
    expect(pruneLimit(policy({ entries: 10, timeMs: 60 * MINUTE, bytes: 50_000 }), facts()).upTo).toBe(990)
  })
})

describe('what holds the log back', () => {
  const all = policy({ entries: 0 })

  test('never past the published offset, nor the entries of the last few seconds', () => {
    expect(safeCut(2_000, facts(), null)).toEqual({
      upTo: 1_000,
      heldBy: "this node's store and log hold only up to offset 1000",
    })
    const young = facts({ ageMinutes: (k) => (k > 990 ? STORE_SETTLE_MS / MINUTE / 2 : 10) })
    expect(pruneLimit(all, young)).toEqual({
      upTo: 990,
      heldBy: 'entries after offset 990 are younger than 5 s (the store may not hold them durably yet)',
    })
  })

  test('a connected slave holds what it has not acknowledged, however long ago it was seen', () => {
    const f = facts({ replicas: [replica('s1', 700), replica('s2', 400, { lastSeen: 0 })] })
    expect(pruneLimit(policy({ entries: 0, replicaTimeoutMs: 1_000 }), f)).toEqual({
      upTo: 400,
      heldBy: 'slave s2 has acknowledged only up to offset 400',
    })
  })

  test('a disconnected slave holds the log until it has been away longer than --replica-timeout', () => {
    const away = (minutes: number) => replica('s1', 300, { connected: false, lastSeen: NOW - minutes * MINUTE })
    const timeout = policy({ entries: 0, replicaTimeoutMs: 30 * MINUTE })
    expect(pruneLimit(timeout, facts({ replicas: [away(29)] }))).toEqual({
      upTo: 300,
      heldBy: 'slave s1 has acknowledged only up to offset 300 (disconnected, last seen 1740 s ago)',
    })
    expect(pruneLimit(timeout, facts({ replicas: [away(31)] })).upTo).toBe(1_000)
    // No timeout: it holds the log until it is forgotten.
    expect(pruneLimit(all, facts({ replicas: [away(100_000)] })).upTo).toBe(300)
  })

  test("the master's own downtime does not count against a slave", () => {
    const f = facts({
      startedAt: NOW - 5 * MINUTE,
      replicas: [replica('s1', 300, { connected: false, lastSeen: NOW - 600 * MINUTE })],
    })
    expect(pruneLimit(policy({ entries: 0, replicaTimeoutMs: 10 * MINUTE }), f).upTo).toBe(300)
    expect(pruneLimit(policy({ entries: 0, replicaTimeoutMs: 4 * MINUTE }), f).upTo).toBe(1_000)
  })

  test('a slave already behind the start holds nothing: it needs a snapshot anyway', () => {
    const f = facts({ start: 500, replicas: [replica('old', 100, { connected: false })] })
    expect(pruneLimit(all, f)).toEqual({ upTo: 1_000, heldBy: null })
  })

  test('on a tie, the slave is named rather than the clock', () => {
    const young = facts({ ageMinutes: (k) => (k > 990 ? 0 : 10), replicas: [replica('s1', 990)] })
    expect(pruneLimit(all, young).heldBy).toBe('slave s1 has acknowledged only up to offset 990')
  })

  test('a pin holds the entries after it', () => {
    const f = facts({ pinned: { offset: 250, by: 'a snapshot for s3' }, replicas: [replica('s1', 600)] })
    expect(pruneLimit(all, f)).toEqual({ upTo: 250, heldBy: 'a snapshot for s3 needs the entries after offset 250' })
  })

  test('the lowest hold wins, and nothing moves the cut before the start', () => {
    const f = facts({
      start: 500,
      replicas: [replica('s1', 800), replica('s2', 600)],
      pinned: { offset: 700, by: 'p' },
    })
    expect(pruneLimit(all, f)).toEqual({ upTo: 600, heldBy: 'slave s2 has acknowledged only up to offset 600' })
    expect(safeCut(550, f, null)).toEqual({ upTo: 550, heldBy: null })
    expect(safeCut(400, f, null).upTo).toBe(500)
  })
})
