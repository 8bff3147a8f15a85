/**
 * What makeDeterministic does with ONE occurrence of a rule's name, once the
 * statement walk (determinism.ts) has said how the statement evaluates it:
 * whether the occurrence is a call at all, and then the edit that writes its
 * literal in place, or the refusal that says why no literal can stand for it.
 */
import {
  type DeterminismContext,
  type Edit,
  nowEdits,
  precisionArgument,
  quote,
  type Rule,
  soleToken,
  type Use,
  unsafe,
  utcDateTime,
} from './determinism-rules.ts'
import { isPunct, type Token } from './lexer.ts'

/** How a span of a statement's tokens is evaluated. */
export type Evaluation =
  | { evaluation: 'once' }
  /** `where` names the span in refusals: "an UPDATE", "a subquery". */
  | { evaluation: 'per-row'; where: string }
  /** Column definitions of CREATE/ALTER TABLE: evaluated on each server whenever a row is written. */
  | { evaluation: 'definition' }
  /** A trigger's body: evaluated on each server whenever the trigger fires. */
  | { evaluation: 'trigger' }

const CLOCK_INSTEAD = 'write the time as a literal instead'

/** The rest of the refusal whose subject is a value that depends on the server. */
const DIFFERS_BETWEEN_SERVERS =
  'differs between servers: statement replication would write different values on slaves; use a literal instead'

/** Words after which a name follows, not a function call: INSERT INTO user (…), REFERENCES version (…), KEY uuid (…). */
const NAME_BEFORE = new Set([
  'INTO',
  'TABLE',
  'EXISTS',
  'REFERENCES',
  'INDEX',
  'KEY',
  'UNIQUE',
  'FULLTEXT',
  'SPATIAL',
  'CONSTRAINT',
  'INSERT',
  'REPLACE',
  'IGNORE',
  'LOW_PRIORITY',
  'HIGH_PRIORITY',
  'DELAYED',
  'WITH',
  'RECURSIVE',
])

/** SQLite date/time modifiers that read the server's time zone. */
const ZONE_MODIFIERS = new Set(['localtime', 'utc'])

/** Whether tokens[i] is a name rather than a function: qualified (x.rand), or after INTO, TABLE, REFERENCES, KEY … */
export function isName(tokens: Token[], i: number): boolean {
  const before = tokens[i - 1]
  return isPunct(before, '.') || (before?.type === 'word' && NAME_BEFORE.has(before.value))
}

/** Whether the occurrence has the rule's form: clock keywords bare, functions called, CURRENT_USER either way. */
export function fits(rule: Rule, use: Use): boolean {
  if (rule.kind === 'clock') return !use.open
  if (rule.kind === 'now-alias') return use.open !== undefined
  return use.open !== undefined || (rule.kind === 'server' && rule.bare)
}

/** Applies one rule to one occurrence, evaluated as `at` says: adds its edits, or throws. */
export function apply(rule: Rule, use: Use, at: Evaluation, sql: string, ctx: DeterminismContext, edits: Edit[]): void {
  switch (rule.kind) {
    case 'server':
      if (rule.when(use.args)) throw unsafe(`${use.text} ${DIFFERS_BETWEEN_SERVERS}`)
      return
    case 'fresh': {
      if (!rule.when(use.args)) return
      if (at.evaluation !== 'once') throw unsafe(`${use.text} ${laterOrPerRow(at)}; ${rule.instead}`)
      edits.push({
        start: use.name.start,
        end: use.end,
        text: rule.literal(ctx, use) + (startsWord(sql[use.end]) ? ' ' : ''),
      })
      return
    }
    case 'now-alias':
      precisionArgument(use)
      // A default or a trigger runs later, on each server, outside any statement's pinned clock.
      if (at.evaluation === 'definition' || at.evaluation === 'trigger')
        throw unsafe(`${use.text} ${laterOrPerRow(at)}; ${CLOCK_INSTEAD}`)
      edits.push({ start: use.name.start, end: use.name.end, text: 'NOW' })
      return
    case 'clock':
      if (at.evaluation === 'definition') return
      if (at.evaluation === 'trigger') throw unsafe(`${use.text} ${laterOrPerRow(at)}; ${CLOCK_INSTEAD}`)
      edits.push({ start: use.name.start, end: use.name.end, text: quote(rule.literal(ctx.now)) })
      return
    case 'clock-function': {
      const zone = use.args
        .map(soleToken)
        .find((t) => t?.type === 'string' && ZONE_MODIFIERS.has(t.value.toLowerCase()))
      if (zone)
        throw unsafe(
          `${use.text} depends on the server's time zone (${zone.text}), so slaves in another zone would store different values; convert the time in the client`,
        )
      const found = nowEdits(rule, use, quote(utcDateTime(ctx.now, 3)))
      if (found.length === 0 || at.evaluation === 'definition') return
      if (at.evaluation === 'trigger') throw unsafe(`${use.text} ${laterOrPerRow(at)}; ${CLOCK_INSTEAD}`)
      edits.push(...found)
    }
  }
}

/** Why a value cannot be one literal where `at` evaluates it, as the rest of a sentence whose subject is the function. */
function laterOrPerRow(at: Exclude<Evaluation, { evaluation: 'once' }>): string {
  switch (at.evaluation) {
    case 'per-row':
      return `is evaluated once per row in ${at.where}, and one literal would give every row the same value`
    case 'definition':
      return 'in a column definition is evaluated on each server whenever a row is written, so slaves would store different values'
    case 'trigger':
      return 'in a trigger is evaluated on each server whenever the trigger fires, so slaves would store different values'
  }
}

/** Why a MySQL variable (@x, @@x) cannot be replicated, as a sentence whose subject is the variable. */
export function variableReason(text: string): string {
  return text.startsWith('@@')
    ? `${text} ${DIFFERS_BETWEEN_SERVERS}`
    : `${text} is a user variable, which is not replicated: slaves would read a different value; use a literal instead`
}

/** Whether `c` would join a word or number written just before it. */
function startsWord(c: string | undefined): boolean {
  return c !== undefined && /[\p{L}\p{N}_$]/u.test(c)
}
