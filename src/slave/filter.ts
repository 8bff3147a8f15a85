import type { Entry, Statement } from '../entry.ts'
import { type Token, tokenize } from '../sql/lexer.ts'
import type { ReplicationFilters } from '../wire/messages.ts'

/** No filters: every entry applies. */
export const NO_FILTERS: ReplicationFilters = { replicateDb: [], ignoreDb: [] }

/** True when the filters let nothing through unchanged, so applying needs no filtering. */
export function filtersEmpty(filters: ReplicationFilters): boolean {
  return filters.replicateDb.length === 0 && filters.ignoreDb.length === 0
}

/**
 * Whether a slave with these filters applies a statement, by MySQL's rules for
 * statement-based replication (--replicate-do-db / --replicate-ignore-db): the
 * database checked is the one the statement ran in (its own, after a USE inside
 * a transaction, else its entry's), except that CREATE, ALTER and DROP DATABASE
 * are checked against the database they name. If replicateDb is not empty, the
 * statement applies only when it names that database (ignoreDb is then not
 * consulted); otherwise it applies unless ignoreDb names it. A statement with no
 * database (SQLite) always applies.
 *
 * As in MySQL, a statement that reaches into another database by a qualified
 * name (`USE a; INSERT INTO b.t …`) is filtered by `a`, not `b`.
 */
function statementApplies(filters: ReplicationFilters, entry: Entry, s: Statement): boolean {
  if (entry.db === null) return true
  return databaseApplies(filters, databaseStatementTarget(s) ?? s.db ?? entry.db)
}

/** Whether the filters let database `db`'s changes (and its part of a snapshot) through. */
export function databaseApplies(filters: ReplicationFilters, db: string): boolean {
  if (filters.replicateDb.length > 0) return filters.replicateDb.includes(db)
  return !filters.ignoreDb.includes(db)
}

/**
 * The entries to apply, without the statements the filters skip. An entry
 * keeps its place even with no statement left, so the store's offset still
 * advances past it in order (and the slave's position matches the master's).
 */
export function filterEntries(filters: ReplicationFilters, entries: Entry[]): Entry[] {
  if (filtersEmpty(filters)) return entries
  return entries.map((e) => {
    const keep = e.statements.map((s) => statementApplies(filters, e, s))
    if (keep.every(Boolean)) return e
    return { ...e, statements: e.statements.filter((_, i) => keep[i]), affected: e.affected.filter((_, i) => keep[i]) }
  })
}

/**
 * For a CREATE/ALTER/DROP DATABASE (or SCHEMA) statement, the database it
 * names; otherwise null. ALTER DATABASE without a name acts on the current
 * database, so it also gives null.
 */
export function databaseStatementTarget(statement: Pick<Statement, 'sql'>): string | null {
  let tokens: Token[]
  try {
    tokens = tokenize(statement.sql)
  } catch {
    return null
  }
  const [verb, object] = tokens
  if (!verb || !object || verb.type !== 'word' || object.type !== 'word') return null
  if (!['CREATE', 'ALTER', 'DROP'].includes(verb.value) || !['DATABASE', 'SCHEMA'].includes(object.value)) return null
  let i = 2
  if (tokens[i]?.value === 'IF') i += tokens[i + 1]?.value === 'NOT' ? 3 : 2 // IF [NOT] EXISTS
  const name = tokens[i]
  if (!name || (name.type !== 'word' && name.type !== 'identifier')) return null
  // ALTER DATABASE CHARACTER SET …: no name, the current database.
  if (
    verb.value === 'ALTER' &&
    name.type === 'word' &&
    ['CHARACTER', 'CHARSET', 'COLLATE', 'DEFAULT', 'COMMENT', 'UPGRADE', 'READ'].includes(name.value)
  )
    return null
  return name.type === 'word' ? name.text : name.value
}
