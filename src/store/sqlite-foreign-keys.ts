/**
 * Foreign keys on a SQLite store. The store enforces them (PRAGMA foreign_keys =
 * ON) except where MySQL would not: a write made under foreign_key_checks = 0, and
 * DROP TABLE (SQLite's implicit DELETE would cascade to, or be refused by, the rows
 * that reference the table). SQLite changes PRAGMA foreign_keys only between
 * transactions, so a transaction runs in one mode, set before its BEGIN. And
 * SQLite's foreign-key error says nothing more, so it is worded as MySQL words it.
 */
import type { Database } from 'bun:sqlite'
import type { Statement as LoggedStatement, Param } from '../entry.ts'
import { DdbError, StoreError } from '../errors.ts'
import { classify } from '../sql/classify.ts'
import { isPunct, isWord, type Token, tokenize } from '../sql/lexer.ts'

/**
 * A SQLite store's transaction modes (Store.transactionMode): foreign keys enforced
 * (PRAGMA foreign_keys = ON, the default), or not. SQLite changes PRAGMA foreign_keys
 * only between transactions, so it is set before each BEGIN.
 */
export const FK_ON = 'fk-on'
export const FK_OFF = 'fk-off'

/** What decides a statement's mode: its text and its session's settings. */
export type ModeStatement = Pick<LoggedStatement, 'sql' | 'settings'>

/** True when the statement must run with foreign keys off (see SqliteStore.transactionMode). */
export function needsForeignKeysOff(s: ModeStatement): boolean {
  return foreignKeyChecksOff(s.settings?.foreign_key_checks) || dropsTable(s.sql)
}

/** foreign_key_checks = 0 as a session's settings carry it (1/0; OFF, FALSE from elsewhere). */
function foreignKeyChecksOff(v: Param | undefined): boolean {
  if (typeof v === 'string') return ['0', 'OFF', 'FALSE'].includes(v.toUpperCase())
  return v === 0 || v === false
}

/** Statements that plainly are not DROP TABLE, recognised without lexing: a slave replays thousands a second. */
const NOT_DROP = /^\s*(INSERT|UPDATE|DELETE|REPLACE|SELECT|CREATE)\b/i

export function dropsTable(sql: string): boolean {
  if (NOT_DROP.test(sql)) return false
  try {
    return classify(sql).keyword === 'DROP TABLE'
  } catch {
    return false // a lexer error: SQLite will refuse the statement itself
  }
}

/** A client transaction's statement that needs the other foreign-key mode than the one it began in. */
export function modeConflict(drop: boolean): DdbError {
  return new DdbError(
    'UNSUPPORTED',
    drop
      ? 'DROP TABLE inside a transaction on a SQLite store: ddb drops tables with foreign-key enforcement off (so that SQLite neither deletes nor refuses the rows that reference them), which SQLite can change only between transactions; drop it in a transaction of its own'
      : 'SET foreign_key_checks inside a transaction: SQLite can change foreign-key enforcement only between transactions; set it before BEGIN',
  )
}

export const FOREIGN_KEY_FAILED = 'SQLITE_CONSTRAINT_FOREIGNKEY'

/** Statement verbs, for which side of a foreign key a refused statement broke. */
const VERBS = new Set(['INSERT', 'REPLACE', 'UPDATE', 'DELETE', 'DROP'])

/**
 * SQLite's foreign-key error, which says nothing more, as MySQL words it: "Cannot
 * add or update a child row" (MySQL 1452) or "Cannot delete or update a parent row"
 * (1451). The code stays SQLite's.
 */
export function foreignKeyError(err: unknown, db: Database, sql: string): StoreError {
  const parent = foreignKeySide(db, sql) === 'parent'
  const what = parent
    ? 'Cannot delete or update a parent row: a foreign key constraint fails'
    : 'Cannot add or update a child row: a foreign key constraint fails'
  return new StoreError(`${what} (${err instanceof Error ? err.message : String(err)})`, {
    cause: err,
    storeCode: FOREIGN_KEY_FAILED,
    mysqlErrno: parent ? 1451 : 1452,
    rejectedByServer: true,
  })
}

/**
 * Which side of a foreign key a statement broke: DELETE (and DROP TABLE) a parent
 * row's, a plain INSERT a child row's; an UPDATE, REPLACE or upsert either, told
 * by the table it writes: a parent's if other tables reference it and it references
 * none, else a child's.
 */
function foreignKeySide(db: Database, sql: string): 'parent' | 'child' {
  let tokens: Token[]
  try {
    tokens = tokenize(sql)
  } catch {
    return 'child'
  }
  let depth = 0
  let i = 0
  for (; i < tokens.length; i++) {
    const t = tokens[i]!
    if (isPunct(t, '(')) depth++
    else if (isPunct(t, ')')) depth--
    else if (depth === 0 && t.type === 'word' && VERBS.has(t.value)) break
  }
  const verb = tokens[i]?.value
  if (verb === 'DELETE' || verb === 'DROP') return 'parent'
  let k = i + 1
  const orReplace = isWord(tokens[k], 'OR') && isWord(tokens[k + 1], 'REPLACE')
  if (isWord(tokens[k], 'OR')) k += 2
  if (isWord(tokens[k], 'INTO')) k++
  const upsert = tokens.some((t, j) => isWord(t, 'DO') && isWord(tokens[j + 1], 'UPDATE'))
  if (verb === 'INSERT' && !orReplace && !upsert) return 'child'
  let name = tokens[k]
  if (isPunct(tokens[k + 1], '.')) name = tokens[k + 2] // schema.table
  if (name?.type !== 'word' && name?.type !== 'identifier') return 'child'
  const table = name.type === 'word' ? name.text : name.value
  try {
    const referenced = db
      .query(
        `SELECT 1 FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS f WHERE m.type = 'table' AND f."table" = ?1 COLLATE NOCASE LIMIT 1`,
      )
      .get(table)
    const references = db.query('SELECT 1 FROM pragma_foreign_key_list(?1) LIMIT 1').get(table)
    return referenced && !references ? 'parent' : 'child'
  } catch {
    return 'child'
  }
}
