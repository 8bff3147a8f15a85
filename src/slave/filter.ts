import type { Entry } from '../entry.ts'
import { type Token, tokenize } from '../sql/lexer.ts'
import type { ReplicationFilters } from '../wire/messages.ts'

/** No filters: every entry applies. */
export const NO_FILTERS: ReplicationFilters = { replicateDb: [], ignoreDb: [] }

/** True when the filters let nothing through unchanged, so applying needs no filtering. */
export function filtersEmpty(filters: ReplicationFilters): boolean {
  return filters.replicateDb.length === 0 && filters.ignoreDb.length === 0
}

/**
 * Whether a slave with these filters applies `entry`, by MySQL's rules for
 * statement-based replication (--replicate-do-db / --replicate-ignore-db): the
 * database checked is the one the entry ran in, except that CREATE, ALTER and
 * DROP DATABASE are checked against the database they name. If replicateDb is
 * not empty, the entry applies only when it names that database (ignoreDb is
 * then not consulted); otherwise it applies unless ignoreDb names it. An entry
 * with no database (SQLite) always applies.
 *
 * As in MySQL, a statement that reaches into another database by a qualified
 * name (`USE a; INSERT INTO b.t …`) is filtered by `a`, not `b`.
 */
export function entryApplies(filters: ReplicationFilters, entry: Pick<Entry, 'db' | 'statements'>): boolean {
  if (entry.db === null || filtersEmpty(filters)) return true
  const db = databaseStatementTarget(entry.statements) ?? entry.db
  if (filters.replicateDb.length > 0) return filters.replicateDb.includes(db)
  return !filters.ignoreDb.includes(db)
}

/**
 * The entries to apply: each entry the filters skip stays, with no statements,
 * so the store's offset still advances past it in order (and the slave's
 * position matches the master's); the others are returned unchanged.
 */
export function filterEntries(filters: ReplicationFilters, entries: Entry[]): Entry[] {
  if (filtersEmpty(filters)) return entries
  return entries.map((e) => (entryApplies(filters, e) ? e : { ...e, statements: [], affected: [] }))
}

/**
 * For an entry that is one CREATE/ALTER/DROP DATABASE (or SCHEMA) statement, the
 * database it names; otherwise null. ALTER DATABASE without a name acts on the
 * current database, so it also gives null.
 */
function databaseStatementTarget(statements: Entry['statements']): string | null {
  if (statements.length !== 1) return null
  let tokens: Token[]
  try {
    tokens = tokenize(statements[0]!.sql)
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
