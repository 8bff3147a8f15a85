/**
 * Classifies one SQL statement for statement replication: by its first
 * keyword(s), found with the lexer so that comments, strings and quoted
 * identifiers never count, plus the few clause checks that change the answer.
 */
import { isPunct, isWord, type Token, tokenize } from './lexer.ts'

/** What a statement means for replication. */
export type StatementKind = 'read' | 'write' | 'ddl' | 'session' | 'transaction' | 'unsupported'

/** What classify() found out about a statement. */
export interface Classification {
  kind: StatementKind
  /** The leading keyword(s), uppercased: 'SELECT', 'INSERT', 'CREATE TABLE', 'DROP DATABASE', 'START TRANSACTION', 'USE', 'SET' … */
  keyword: string
  /** For kind 'unsupported': why, as a sentence fragment, e.g. "not supported by statement replication: GRANT changes accounts, which are not replicated". */
  reason?: string
  /** For USE: the database name, unquoted. */
  database?: string
}

const ACCOUNTS = 'changes accounts, which are not replicated'
const MAINTENANCE = 'maintains tables on one server only'
const PREPARED = 'uses a server-side prepared statement; send the statement with parameters instead'
const ROUTINE = 'defines stored code, whose effects ddb cannot check'

/** Statements ddb refuses, by first word, with why (the sentence's subject is the keyword). */
const REFUSED: Record<string, string> = {
  GRANT: ACCOUNTS,
  REVOKE: ACCOUNTS,
  LOAD: 'reads a file that the slaves do not have',
  CALL: 'runs a stored procedure, whose effects ddb cannot check',
  DO: 'evaluates expressions only for their side effects, which ddb cannot check',
  HANDLER: 'reads through a cursor that lives in one session',
  FLUSH: 'acts on one server only',
  KILL: "acts on one server's connections only",
  SHUTDOWN: 'stops one server only',
  INSTALL: "changes one server's plugins or components",
  UNINSTALL: "changes one server's plugins or components",
  PREPARE: PREPARED,
  EXECUTE: PREPARED,
  DEALLOCATE: PREPARED,
  XA: 'runs a distributed transaction, which ddb cannot replicate',
  ANALYZE: MAINTENANCE,
  OPTIMIZE: MAINTENANCE,
  REPAIR: MAINTENANCE,
  CHECK: MAINTENANCE,
  ATTACH: 'opens another database file on one server only',
  DETACH: 'closes a database file on one server only',
  VACUUM: 'rebuilds the database file on one server only',
  REINDEX: 'rebuilds indexes on one server only',
}

/** Second words that belong in a refused statement's keyword: LOCK TABLES, LOAD DATA, CHECK TABLE … */
const REFUSED_SECOND_WORDS = new Set(['TABLE', 'TABLES', 'DATA', 'XML'])

/** Objects whose CREATE, ALTER, DROP or RENAME is replicated as ddl. */
const DDL_OBJECTS = new Set(['TABLE', 'INDEX', 'VIEW', 'DATABASE', 'SCHEMA', 'TRIGGER', 'SEQUENCE'])

/** Objects whose CREATE, ALTER, DROP or RENAME ddb refuses, with why. */
const REFUSED_OBJECTS: Record<string, string> = {
  USER: ACCOUNTS,
  ROLE: ACCOUNTS,
  PROCEDURE: ROUTINE,
  FUNCTION: ROUTINE,
  EVENT: 'schedules stored code, whose effects ddb cannot check',
  SERVER: 'defines a connection to another server, which is not replicated',
  PREPARE: PREPARED,
}

/** Words that may come between CREATE/ALTER/DROP and the object type (CREATE OR REPLACE VIEW, CREATE UNIQUE INDEX …). */
const OBJECT_MODIFIERS = new Set([
  'OR',
  'REPLACE',
  'UNIQUE',
  'FULLTEXT',
  'SPATIAL',
  'ONLINE',
  'OFFLINE',
  'IGNORE',
  'AGGREGATE',
  'VIRTUAL',
  'SQL',
  'SECURITY',
  'DEFINER',
  'INVOKER',
  'TEMPORARY',
  'TEMP',
])

/** Modifiers written `NAME = value` before the object type: ALGORITHM = MERGE, DEFINER = 'root'@'%'. */
const VALUED_MODIFIERS = new Set(['ALGORITHM', 'DEFINER'])

/** Words that start a query expression (a read, unless it has an INTO clause). */
const QUERY_WORDS = new Set(['SELECT', 'TABLE', 'VALUES'])

/** Words that start the statement a WITH clause introduces. */
const MAIN_WORDS = new Set([...QUERY_WORDS, 'INSERT', 'UPDATE', 'DELETE', 'REPLACE'])

/** SET scopes that change the server for everyone: SET GLOBAL x, SET @@persist.x … */
const SERVER_SCOPES = new Set(['GLOBAL', 'PERSIST', 'PERSIST_ONLY'])

/** Classifies one statement; a lexer error (DdbError 'SQL_SYNTAX') propagates. */
export function classify(sql: string): Classification {
  return classifyTokens(tokenize(sql))
}

/**
 * The kind of ONE statement (a logged one, say), without lexing it when it
 * plainly begins with INSERT, UPDATE, DELETE or REPLACE: a slave replays
 * thousands a second.
 */
export function statementKind(sql: string): Classification['kind'] {
  return PLAIN_DML.test(sql) ? 'write' : classify(sql).kind
}

const PLAIN_DML = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i

/**
 * True when `sql` plainly begins as a read (SELECT, SHOW, WITH, EXPLAIN … or a
 * parenthesis), found without lexing: writes and the rest are ruled out for free.
 */
export function beginsAsRead(sql: string): boolean {
  return READ_START.test(sql)
}

const READ_START = /^\s*(\(|(SELECT|SHOW|WITH|TABLE|VALUES|DESC|DESCRIBE|EXPLAIN)\b)/i

/**
 * True when `sql` is one SELECT made only of names, numbers, plain strings ('…' with no
 * backslash), `…` identifiers and the operators = < > ! + * , . : no parenthesis (so no
 * function call), no variable, placeholder, comment or INTO. Such a statement is a read
 * that names nothing a session writes in, known without lexing it (what a point select
 * costs most). False only means "look closer": tokenize and classify decide then.
 */
export function isPlainSelect(sql: string): boolean {
  return PLAIN_SELECT.test(sql) && !INTO.test(sql)
}

const PLAIN_SELECT = /^\s*SELECT\s(?:[\w$.,*=<>!+\s]|'[^'\\]*'|`[^`]*`)*;?\s*$/i
const INTO = /\bINTO\b/i

/** Classifies one statement that is already lexed; refuses more than one statement, except in ddl (trigger bodies). */
export function classifyTokens(tokens: Token[]): Classification {
  const result = classifyAt(tokens, 0)
  if (result.kind === 'ddl' || result.kind === 'unsupported') return result
  const semicolon = tokens.findIndex((t) => isPunct(t, ';'))
  const more = semicolon >= 0 && tokens.slice(semicolon).some((t) => !isPunct(t, ';'))
  return more
    ? refused(result.keyword, `${result.keyword} is followed by more statements; send one statement at a time`)
    : result
}

/** Classifies the statement that starts at tokens[i]. */
function classifyAt(tokens: Token[], i: number): Classification {
  const first = tokens[i]
  if (!first || isPunct(first, ';')) return { kind: 'unsupported', keyword: '', reason: 'empty statement' }
  if (isPunct(first, '(')) return query(tokens, i)
  if (first.type !== 'word') return unrecognised(first.text.slice(0, 40))
  const word = first.value
  switch (word) {
    case 'SELECT':
    case 'TABLE':
    case 'VALUES':
    case 'WITH':
      return query(tokens, i)
    case 'INSERT':
    case 'UPDATE':
    case 'DELETE':
    case 'REPLACE':
      return { kind: 'write', keyword: word }
    case 'SHOW':
    case 'HELP':
      return { kind: 'read', keyword: word }
    case 'EXPLAIN':
    case 'DESCRIBE':
    case 'DESC':
      return explain(tokens, i)
    case 'PRAGMA':
      return tokens.some((t, j) => j > i && isPunct(t, '='))
        ? refused('PRAGMA', 'PRAGMA … = … changes a setting on one server only')
        : { kind: 'read', keyword: 'PRAGMA' }
    case 'CREATE':
    case 'ALTER':
    case 'DROP':
    case 'RENAME':
      return schemaChange(tokens, i)
    case 'TRUNCATE':
      return { kind: 'ddl', keyword: 'TRUNCATE TABLE' }
    case 'USE':
      return use(tokens[i + 1])
    case 'SET':
      return set(tokens, i)
    case 'BEGIN':
      return isWord(tokens[i + 1], 'NOT')
        ? refused('BEGIN NOT ATOMIC', 'BEGIN NOT ATOMIC runs a compound statement, whose effects ddb cannot check')
        : transaction('BEGIN')
    case 'START':
      return isWord(tokens[i + 1], 'TRANSACTION') ? transaction('START TRANSACTION') : unrecognised(word)
    case 'COMMIT':
    case 'END':
    case 'SAVEPOINT':
      return transaction(word)
    case 'ROLLBACK':
      return transaction(rollsBackToSavepoint(tokens, i) ? 'ROLLBACK TO SAVEPOINT' : 'ROLLBACK')
    case 'RELEASE':
      return transaction('RELEASE SAVEPOINT')
    case 'LOCK':
      // LOCK TABLES and UNLOCK TABLES end an open transaction, as in MySQL (see Session).
      return isWord(tokens[i + 1], 'TABLES') || isWord(tokens[i + 1], 'TABLE')
        ? transaction('LOCK TABLES')
        : refused(
            `LOCK ${tokens[i + 1]?.value ?? ''}`.trim(),
            `LOCK ${tokens[i + 1]?.value ?? ''} acts on one server only`,
          )
    case 'UNLOCK':
      return isWord(tokens[i + 1], 'TABLES') || isWord(tokens[i + 1], 'TABLE')
        ? transaction('UNLOCK TABLES')
        : refused(
            `UNLOCK ${tokens[i + 1]?.value ?? ''}`.trim(),
            `UNLOCK ${tokens[i + 1]?.value ?? ''} acts on one server only`,
          )
  }
  const why = REFUSED[word]
  if (!why) return unrecognised(word)
  const second = tokens[i + 1]
  const keyword = second?.type === 'word' && REFUSED_SECOND_WORDS.has(second.value) ? `${word} ${second.value}` : word
  return refused(keyword, `${keyword} ${why}`)
}

/** Classifies a query expression (SELECT, TABLE, VALUES, WITH …, each maybe in parentheses): a read unless it has INTO. */
function query(tokens: Token[], i: number): Classification {
  let j = i
  while (isPunct(tokens[j], '(')) j++
  const first = tokens[j]
  if (isWord(first, 'WITH')) {
    const main = statementAfterWith(tokens, j)
    return main < 0 ? unrecognised('WITH') : classifyAt(tokens, main)
  }
  if (first?.type !== 'word' || !QUERY_WORDS.has(first.value)) return unrecognised('(')
  let into = j + 1
  while (into < tokens.length && !isWord(tokens[into], 'INTO') && !isPunct(tokens[into], ';')) into++
  if (!isWord(tokens[into], 'INTO')) return { kind: 'read', keyword: first.value }
  const target = tokens[into + 1]
  if (target?.type === 'word' && (target.value === 'OUTFILE' || target.value === 'DUMPFILE')) {
    return refused(first.value, `${first.value} … INTO ${target.value} writes a file on the server`)
  }
  return refused(first.value, `${first.value} … INTO sets variables, which are not replicated`)
}

/**
 * Returns the index of the statement a WITH clause introduces: the first query or
 * DML keyword after the CTE list at parenthesis depth 0, or the parenthesis that
 * opens a parenthesised query right after the list; -1 if there is none.
 */
function statementAfterWith(tokens: Token[], i: number): number {
  let depth = 0
  for (let j = i + 1; j < tokens.length; j++) {
    const t = tokens[j]!
    if (isPunct(t, '(')) {
      if (depth === 0 && isPunct(tokens[j - 1], ')')) return j
      depth++
    } else if (isPunct(t, ')')) {
      depth--
    } else if (depth === 0 && t.type === 'word' && MAIN_WORDS.has(t.value)) {
      return j
    }
  }
  return -1
}

/** Classifies EXPLAIN/DESCRIBE: a read, unless EXPLAIN ANALYZE would run a statement that changes data. */
function explain(tokens: Token[], i: number): Classification {
  const keyword = tokens[i]!.value
  if (!isWord(tokens[i + 1], 'ANALYZE')) return { kind: 'read', keyword }
  const analyzed = isWord(tokens[i + 2], 'FORMAT') ? i + 5 : i + 2 // skip FORMAT = TREE
  if (classifyAt(tokens, analyzed).kind === 'read') return { kind: 'read', keyword }
  return refused(
    `${keyword} ANALYZE`,
    `${keyword} ANALYZE runs the statement, which would change data without replicating it`,
  )
}

/** Classifies CREATE/ALTER/DROP/RENAME by the type of object they name. */
function schemaChange(tokens: Token[], i: number): Classification {
  const verb = tokens[i]!.value
  let temporary = false
  let j = i + 1
  for (let t = tokens[j]; t?.type === 'word'; t = tokens[j]) {
    if (VALUED_MODIFIERS.has(t.value) && isPunct(tokens[j + 1], '=')) {
      j = afterModifierValue(tokens, j + 2)
    } else if (OBJECT_MODIFIERS.has(t.value)) {
      temporary ||= t.value === 'TEMPORARY' || t.value === 'TEMP'
      j++
    } else {
      break
    }
  }
  const object = tokens[j]
  if (object?.type !== 'word') return unrecognised(verb)
  const type = object.value === 'TABLES' ? 'TABLE' : object.value
  const keyword = `${verb}${temporary ? ' TEMPORARY' : ''} ${type}`
  if (temporary) return refused(keyword, `${keyword} acts on a temporary object, which lives in one session only`)
  if (DDL_OBJECTS.has(type)) return { kind: 'ddl', keyword }
  const why = REFUSED_OBJECTS[type]
  return why ? refused(keyword, `${keyword} ${why}`) : unrecognised(keyword)
}

/** Returns the index after a modifier's value that starts at tokens[j]: a word, or a user such as 'root'@'%' or CURRENT_USER(). */
function afterModifierValue(tokens: Token[], j: number): number {
  let k = j + 1
  if (tokens[k]?.type === 'variable') k++ // the @host of a user name
  if (isPunct(tokens[k], '(') && isPunct(tokens[k + 1], ')')) k += 2
  return k
}

/** Classifies USE db, which selects the database later statements run in. */
function use(name: Token | undefined): Classification {
  if (!name || (name.type !== 'word' && name.type !== 'identifier' && name.type !== 'string'))
    return unrecognised('USE')
  return { kind: 'session', keyword: 'USE', database: name.type === 'word' ? name.text : name.value }
}

/** Classifies SET: a session setting, unless it changes accounts, roles, server-wide settings, or wraps a statement. */
function set(tokens: Token[], i: number): Classification {
  const second = tokens[i + 1]
  if (isWord(second, 'PASSWORD')) return refused('SET PASSWORD', `SET PASSWORD ${ACCOUNTS}`)
  if (isWord(second, 'ROLE')) return refused('SET ROLE', 'SET ROLE depends on accounts, which are not replicated')
  if (isWord(second, 'DEFAULT') && isWord(tokens[i + 2], 'ROLE'))
    return refused('SET DEFAULT ROLE', `SET DEFAULT ROLE ${ACCOUNTS}`)
  if (isWord(second, 'STATEMENT'))
    return refused('SET STATEMENT', 'SET STATEMENT … FOR wraps another statement; send that statement by itself')
  // Each assignment may name its own scope: SET @a = 1, GLOBAL x = 2.
  let depth = 0
  for (let j = i + 1; j < tokens.length; j++) {
    const t = tokens[j]!
    if (isPunct(t, '(')) depth++
    else if (isPunct(t, ')')) depth--
    else if (depth === 0 && (j === i + 1 || isPunct(tokens[j - 1], ','))) {
      const scope = serverScope(t)
      if (scope) return refused(`SET ${scope}`, `SET ${scope} changes server-wide settings, which are not replicated`)
    }
  }
  return { kind: 'session', keyword: 'SET' }
}

/** Returns GLOBAL, PERSIST or PERSIST_ONLY if the token that starts an assignment names a server-wide scope. */
function serverScope(t: Token): string | undefined {
  if (t.type === 'word') return SERVER_SCOPES.has(t.value) ? t.value : undefined
  const dot = t.value.indexOf('.')
  if (t.type !== 'variable' || !t.value.startsWith('@@') || dot < 0) return undefined
  const scope = t.value.slice(2, dot).toUpperCase()
  return SERVER_SCOPES.has(scope) ? scope : undefined
}

/** Whether ROLLBACK [WORK | TRANSACTION] is followed by TO, rolling back to a savepoint. */
function rollsBackToSavepoint(tokens: Token[], i: number): boolean {
  let j = i + 1
  while (isWord(tokens[j], 'WORK') || isWord(tokens[j], 'TRANSACTION')) j++
  return isWord(tokens[j], 'TO')
}

function transaction(keyword: string): Classification {
  return { kind: 'transaction', keyword }
}

function refused(keyword: string, why: string): Classification {
  return { kind: 'unsupported', keyword, reason: `not supported by statement replication: ${why}` }
}

function unrecognised(keyword: string): Classification {
  return { kind: 'unsupported', keyword, reason: `not a statement ddb recognises: ${keyword}` }
}
