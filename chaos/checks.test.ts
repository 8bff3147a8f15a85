import { describe, expect, test } from 'bun:test'
import { checkLog, checkStore, compareStores, noFindings } from './checks.ts'
import type { LogScan, StoreContent } from './readers.ts'
import { emptyLedger, type Ledger, type RowRecord } from './writers.ts'

function ledger(rows: RowRecord[], counter = { acked: 3, failed: 1, unknown: 2 }): Ledger {
  const l = emptyLedger()
  l.rows.push(...rows)
  l.counters.set(1, counter)
  return l
}

const rows: RowRecord[] = [
  { id: 10, v: '10-a', outcome: 'acked', offset: 4 },
  { id: 12, v: '12-b', outcome: 'failed' },
  { id: 14, v: '14-c', outcome: 'unknown' },
  { id: 16, v: '16-d', outcome: 'unknown' },
]
/** What a store that lost nothing holds: the seed, the acked row, one of the unknown ones; the counter within bounds. */
const good = (): StoreContent => ({
  rows: new Map([
    [0, 'seed'],
    [10, '10-a'],
    [14, '14-c'],
  ]),
  counters: new Map([[1, 4]]),
})
const scan = (over: Partial<LogScan> = {}): LogScan => ({
  entries: 5,
  last: 5,
  gaps: [],
  gapCount: 0,
  corrupt: [],
  corruptCount: 0,
  statements: new Map([[4, '[{"sql":"INSERT …","params":[10,0,"10-a"]}]']]),
  ...over,
})

describe('checkStore', () => {
  test('a store that lost nothing passes, whichever way the unknown writes went', () => {
    const f = noFindings()
    checkStore('master', ledger(rows), good(), f)
    expect(f.examples).toEqual([])
  })
  test('an acked row missing or with another value is lost', () => {
    const missing = good()
    missing.rows.delete(10)
    const changed = good()
    changed.rows.set(10, '10-z')
    for (const content of [missing, changed]) {
      const f = noFindings()
      checkStore('master', ledger(rows), content, f)
      expect(f.lost).toBe(1)
    }
  })
  test('a failed row, or one nobody wrote, is a phantom', () => {
    const content = good()
    content.rows.set(12, '12-b')
    content.rows.set(99, 'x')
    const f = noFindings()
    checkStore('slave1', ledger(rows), content, f)
    expect(f.phantom).toBe(2)
  })
  test('a counter above acked + unknown was applied twice; below acked, it lost increments', () => {
    for (const [n, check] of [
      [6, 'double-applied'],
      [2, 'lost'],
    ] as const) {
      const content = good()
      content.counters.set(1, n)
      const f = noFindings()
      checkStore('slave2', ledger(rows), content, f)
      expect(f[check]).toBe(1)
    }
  })
})

describe('checkLog', () => {
  test('a whole log holding every acked write passes', () => {
    const f = noFindings()
    checkLog(ledger(rows), scan(), f)
    expect(f.examples).toEqual([])
  })
  test('a hole, a bad checksum, or an acked offset without its write is a log violation', () => {
    for (const s of [
      scan({ entries: 4, gaps: [3], gapCount: 1 }),
      scan({ corrupt: [2], corruptCount: 1 }),
      scan({ statements: new Map([[4, '[{"sql":"UPDATE …"}]']]) }),
    ]) {
      const f = noFindings()
      checkLog(ledger(rows), s, f)
      expect(f.log).toBeGreaterThan(0)
    }
  })
})

describe('compareStores', () => {
  test('a slave equal to its master passes; a row or counter that differs is diverged', () => {
    const f = noFindings()
    compareStores('slave1', good(), good(), f)
    expect(f.diverged).toBe(0)
    const copy = good()
    copy.rows.set(14, '14-x')
    copy.counters.set(1, 5)
    compareStores('slave1', good(), copy, f)
    expect(f.diverged).toBe(2)
  })
})
