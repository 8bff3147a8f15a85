/**
 * What the makeDeterministic tests (determinism-*.test.ts) share: the master's
 * clock and randomness they run with, the literals those give, and the helpers
 * that turn tables of cases into tests.
 */
import { expect, test } from 'bun:test'
import { DdbError } from '../../src/errors.ts'
import { type DeterminismContext, type Dialect, makeDeterministic } from '../../src/sql/determinism.ts'

/** The master's clock in these tests: 2026-11-22 10:00:00.123 UTC. */
export const NOW = Date.UTC(2026, 10, 22, 10, 0, 0, 123)

/** With random() always 0.25, every random byte is 0x40 and every 32-bit draw 0x40000000. */
export const QUARTER = '0.25000000000000000e0'
export const UUID_Q = "'40404040-4040-4040-8040-404040404040'"
export const INT63_Q = '4611686019501129728'
export const TS = "'2026-11-22 10:00:00'"
export const TS_MS = "'2026-11-22 10:00:00.123'"

export function context(dialect: Dialect, random: () => number = () => 0.25): DeterminismContext {
  return { dialect, now: NOW, random }
}

/** A repeatable random sequence (a small LCG), so that successive draws differ. */
export function sequence(seed = 1): () => number {
  let state = seed
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31
    return state / 2 ** 31
  }
}

/** Returns the refusal's message, failing the test if the statement was not refused with UNSAFE_STATEMENT. */
export function refusal(dialect: Dialect, sql: string): string {
  try {
    makeDeterministic(sql, context(dialect))
  } catch (err) {
    expect(err).toBeInstanceOf(DdbError)
    expect((err as DdbError).code).toBe('UNSAFE_STATEMENT')
    return (err as DdbError).message
  }
  throw new Error(`not refused: ${sql}`)
}

export function expectUnchanged(dialect: Dialect, cases: string[]): void {
  test.each(cases)('%j', (sql) => {
    expect(makeDeterministic(sql, context(dialect))).toEqual({ sql, rewritten: false })
  })
}

export function expectRewrite(dialect: Dialect, cases: [string, string][]): void {
  test.each(cases)('%j', (sql, expected) => {
    expect(makeDeterministic(sql, context(dialect))).toEqual({ sql: expected, rewritten: true })
  })
}

/** Cases of [sql, a part of the refusal's message]. */
export function expectRefusal(dialect: Dialect, cases: [string, string][]): void {
  test.each(cases)('%j', (sql, reason) => {
    expect(refusal(dialect, sql)).toContain(reason)
  })
}
