import type { ReadResult } from '../../entry.ts'
import { type Token, tokenize } from '../../sql/lexer.ts'

/** What the listener knows about a connection, for the queries it answers itself. */
export interface LocalContext {
  connectionId: number
  user: string
  /** The session's current database. */
  db: string | null
  /** The offset of the session's last write (0 before any). */
  lastOffset: number
  /** 'sqlite' or 'mysql': SHOW TABLES / SHOW DATABASES are rewritten for SQLite. */
  dialect: 'mysql' | 'sqlite'
  /** The connection's autocommit setting. */
  autocommit: boolean
}

/** The server version a ddb listener reports. */
export const SERVER_VERSION = '8.0.0-ddb'

/** System variables a client may read on connect; answered without the store, so they read the same on every store. */
const SYSTEM_VARIABLES: Record<string, string | number> = {
  version: SERVER_VERSION,
  version_comment: 'ddb statement replication',
  autocommit: 1,
  auto_increment_increment: 1,
  auto_increment_offset: 1,
  character_set_client: 'utf8mb4',
  character_set_connection: 'utf8mb4',
  character_set_results: 'utf8mb4',
  character_set_server: 'utf8mb4',
  character_set_database: 'utf8mb4',
  collation_connection: 'utf8mb4_general_ci',
  collation_server: 'utf8mb4_general_ci',
  max_allowed_packet: 64 * 1024 * 1024,
  net_buffer_length: 16384,
  interactive_timeout: 28800,
  wait_timeout: 28800,
  net_write_timeout: 60,
  lower_case_table_names: 0,
  sql_mode: 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION',
  system_time_zone: 'UTC',
  time_zone: 'SYSTEM',
  transaction_isolation: 'REPEATABLE-READ',
  tx_isolation: 'REPEATABLE-READ',
  init_connect: '',
  license: 'GPL',
  sql_select_limit: '18446744073709551615',
  read_only: 0,
  performance_schema: 0,
  query_cache_type: 'OFF',
  query_cache_size: 0,
  have_ssl: 'DISABLED',
  server_id: 0,
}

/** Session variables a SET may change without effect on what replicates: ddb accepts and ignores them. */
const HARMLESS_SET = new Set([
  'NAMES',
  'CHARACTER',
  'CHARSET',
  'CHARACTER_SET_CLIENT',
  'CHARACTER_SET_CONNECTION',
  'CHARACTER_SET_RESULTS',
  'COLLATION_CONNECTION',
  'NET_READ_TIMEOUT',
  'NET_WRITE_TIMEOUT',
  'WAIT_TIMEOUT',
  'INTERACTIVE_TIMEOUT',
  'SESSION_TRACK_SCHEMA',
  'SESSION_TRACK_STATE_CHANGE',
  'SESSION_TRACK_SYSTEM_VARIABLES',
  'SESSION_TRACK_TRANSACTION_INFO',
  'SQL_QUOTE_SHOW_CREATE',
  'RESULTSET_METADATA',
  'PROFILING',
])

/** What a locally answered query returns; null when the statement must go to the Session. */
export type LocalAnswer =
  | ({ kind: 'read' } & ReadResult)
  /** autocommit: the SET changed it (the connection applies that). */
  | { kind: 'ok'; autocommit?: boolean }
  | { kind: 'rewrite'; sql: string }
  | { kind: 'error'; errno: number; sqlState: string; message: string }

/**
 * Answers the queries drivers and the CLI send on connect, which ddb's stores
 * cannot (SQLite has no @@ variables) or should not (they are not replicated):
 * `SELECT @@var, DATABASE(), USER(), CONNECTION_ID(), ddb_offset() [LIMIT n]`
 * (a variable ddb does not know goes to a MySQL store, and is NULL on SQLite),
 * and SETs of autocommit and harmless session variables. SHOW TABLES and
 * SHOW DATABASES on SQLite come back as a rewrite to the catalog. Returns null
 * for everything else.
 */
export function answerLocally(sql: string, ctx: LocalContext): LocalAnswer | null {
  let tokens: Token[]
  try {
    tokens = tokenize(sql)
  } catch {
    return null
  }
  const first = tokens[0]
  if (first?.type !== 'word') return null
  if (first.value === 'SELECT') return localSelect(tokens, ctx)
  if (first.value === 'SET') return localSet(tokens)
  if (first.value === 'SHOW' && ctx.dialect === 'sqlite') return sqliteShow(tokens)
  return null
}

function localSelect(tokens: Token[], ctx: LocalContext): LocalAnswer | null {
  let i = 1
  const columns: string[] = []
  const row: unknown[] = []
  for (;;) {
    const t = tokens[i]
    if (!t) return null
    let name: string
    let value: unknown
    if (t.type === 'variable' && t.text.startsWith('@@')) {
      const variable = t.text
        .slice(2)
        .replace(/^(session|global|local)\./i, '')
        .toLowerCase()
      // Unknown ones: a MySQL store knows them; SQLite has none, so they read as NULL.
      if (!(variable in SYSTEM_VARIABLES) && ctx.dialect === 'mysql') return null
      name = t.text
      value = SYSTEM_VARIABLES[variable] ?? null
      if (variable === 'autocommit') value = ctx.autocommit ? 1 : 0
      i++
    } else if (t.type === 'word' && tokens[i + 1]?.text === '(' && tokens[i + 2]?.text === ')') {
      const fn = t.value
      if (fn === 'DATABASE' || fn === 'SCHEMA') value = ctx.db
      else if (fn === 'USER' || fn === 'CURRENT_USER' || fn === 'SESSION_USER' || fn === 'SYSTEM_USER')
        value = `${ctx.user}@localhost`
      else if (fn === 'CONNECTION_ID') value = ctx.connectionId
      else if (fn === 'VERSION') value = SERVER_VERSION
      else if (fn === 'DDB_OFFSET') value = ctx.lastOffset
      else return null
      name = `${t.text}()`
      i += 3
    } else {
      return null
    }
    if (tokens[i]?.value === 'AS' && tokens[i + 1]) {
      name = tokens[i + 1]!.type === 'word' ? tokens[i + 1]!.text : tokens[i + 1]!.value
      i += 2
    } else if (
      tokens[i] &&
      (tokens[i]!.type === 'identifier' || (tokens[i]!.type === 'word' && tokens[i]!.value !== 'LIMIT'))
    ) {
      name = tokens[i]!.type === 'word' ? tokens[i]!.text : tokens[i]!.value
      i++
    }
    columns.push(name)
    row.push(value)
    if (tokens[i]?.text === ',') {
      i++
      continue
    }
    break
  }
  let limit = 1
  if (tokens[i]?.value === 'LIMIT' && tokens[i + 1]?.type === 'number') {
    limit = Number(tokens[i + 1]!.value)
    i += 2
  }
  if (tokens[i]?.text === ';') i++
  if (i !== tokens.length) return null
  return { kind: 'read', columns, rows: limit > 0 ? [row] : [] }
}

function localSet(tokens: Token[]): LocalAnswer | null {
  // SET [SESSION|LOCAL|@@session.]name = value [, …]
  let autocommit: boolean | undefined
  let i = 1
  for (;;) {
    let t = tokens[i]
    if (!t) return null
    if (t.type === 'word' && (t.value === 'SESSION' || t.value === 'LOCAL')) t = tokens[++i]
    if (!t) return null
    let name: string
    if (t.type === 'variable' && t.text.startsWith('@@'))
      name = t.text
        .slice(2)
        .replace(/^(session|local)\./i, '')
        .toUpperCase()
    else if (t.type === 'word') name = t.value
    else return null
    i++
    if (name === 'NAMES' || name === 'CHARACTER' || name === 'CHARSET') {
      // SET NAMES x [COLLATE y] | SET CHARACTER SET x: ddb always speaks utf8mb4
      while (tokens[i] && tokens[i]!.text !== ',') i++
    } else {
      if (tokens[i]?.text !== '=' && tokens[i]?.text !== ':=') return null
      const value = tokens[i + 1]
      if (!value) return null
      i += 2
      if (name === 'AUTOCOMMIT') {
        const setting = value.value.toUpperCase()
        if (['1', 'ON', 'TRUE'].includes(setting)) autocommit = true
        else if (['0', 'OFF', 'FALSE'].includes(setting)) autocommit = false
        else
          return {
            kind: 'error',
            errno: 1231,
            sqlState: '42000',
            message: `Variable 'autocommit' can't be set to the value of '${value.value}'`,
          }
      } else if (!HARMLESS_SET.has(name)) {
        return null
      }
    }
    if (tokens[i]?.text === ',') {
      i++
      continue
    }
    if (tokens[i]?.text === ';') i++
    if (i !== tokens.length) return null
    return autocommit === undefined ? { kind: 'ok' } : { kind: 'ok', autocommit }
  }
}

/** SHOW TABLES / SHOW DATABASES for a SQLite store, as reads of its catalog (ddb's own tables hidden). */
function sqliteShow(tokens: Token[]): LocalAnswer | null {
  const rest = tokens
    .slice(1)
    .map((t) => t.value)
    .join(' ')
  if (/^(FULL )?TABLES$/.test(rest)) {
    return {
      kind: 'rewrite',
      sql: "SELECT name AS Tables_in_main FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' AND name NOT LIKE 'ddb!_%' ESCAPE '!' ORDER BY name",
    }
  }
  if (/^(DATABASES|SCHEMAS)$/.test(rest)) {
    return { kind: 'read', columns: ['Database'], rows: [['main']] }
  }
  return null
}
