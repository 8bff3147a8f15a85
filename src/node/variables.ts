/**
 * A session's variables, as MySQL keeps them: system variables set with SET
 * (SESSION scope) and user variables (@name). Like MySQL's statement-based
 * replication, which writes the session state that changes a statement's effect
 * into each query event, the settings that can change what a write does travel
 * with every write that ran under them (only those that differ from a fresh
 * session's), and slaves and recovery replay with them. The others are kept for
 * the session (SELECT @@name reads them back) and change nothing replicated.
 */
import type { Param } from '../entry.ts'
import { DdbError } from '../errors.ts'
import type { StoreServices } from './api.ts'

/** A variable's value: what a user variable can hold, and every system variable. */
export type Value = Param

/** The replicated settings a statement ran with, where they differ from a fresh session's (system variable → value). */
export type Settings = Record<string, Value>

/**
 * System variables whose session value changes what a write does, and so
 * travels with it: MySQL's query-event status variables and their kin.
 */
export const REPLICATED = new Set([
  'sql_mode',
  'time_zone',
  'foreign_key_checks',
  'unique_checks',
  'auto_increment_increment',
  'auto_increment_offset',
  'character_set_connection',
  'collation_connection',
  'div_precision_increment',
  'group_concat_max_len',
  'sql_auto_is_null',
  'explicit_defaults_for_timestamp',
  'lc_time_names',
  'default_storage_engine',
  'storage_engine',
  'check_constraint_checks',
  'old_mode',
])

/**
 * System variables that change how the master runs a statement, not what it
 * writes (how long it waits for a row lock, how long it may run): a session's
 * statements run under them, on its own transaction's connection or the writer's,
 * but they are never logged; a slave replaying with them could stop on a lock
 * wait the master never met.
 */
export const RUN_ONLY = new Set([
  'innodb_lock_wait_timeout',
  'lock_wait_timeout',
  'max_statement_time',
  'max_execution_time',
])

/** Session variables ddb refuses to set, with why. */
const REFUSED: Record<string, string> = {
  sql_log_bin: 'ddb replicates every write; a session cannot opt out of the log',
  insert_id: 'ddb records every generated id itself; set ids in the statement instead',
  last_insert_id: 'ddb records every generated id itself; set ids in the statement instead',
  pseudo_thread_id: 'it belongs to MySQL replication, which ddb replaces',
  gtid_next: 'it belongs to MySQL replication, which ddb replaces',
  gtid_domain_id: 'it belongs to MySQL replication, which ddb replaces',
  gtid_seq_no: 'it belongs to MySQL replication, which ddb replaces',
  server_id: 'it belongs to MySQL replication, which ddb replaces',
  rand_seed1: 'ddb makes RAND() deterministic itself',
  rand_seed2: 'ddb makes RAND() deterministic itself',
}

/** Why setting `name` to `value` is refused, or null. */
export function refusal(name: string, value: Value): string | null {
  const why = REFUSED[name]
  if (why === undefined) return null
  if (name === 'sql_log_bin' && (value === 1 || value === 'ON')) return null // the default: nothing changes
  return `SET ${name} is not supported: ${why}`
}

/** Variables whose value is a boolean: MySQL reads ON/OFF/TRUE/FALSE/1/0 and reports 1/0. */
const BOOLEANS = new Set([
  'foreign_key_checks',
  'unique_checks',
  'sql_auto_is_null',
  'explicit_defaults_for_timestamp',
  'check_constraint_checks',
  'sql_notes',
  'sql_warnings',
  'sql_quote_show_create',
  'sql_safe_updates',
  'sql_big_selects',
  'sql_buffer_result',
  'big_tables',
  'profiling',
  'autocommit',
  'sql_log_bin',
  'sql_log_off',
])

/** A SET value as MySQL stores it, where ddb knows the variable's kind: booleans as 1/0, sql_mode uppercased. */
export function normalize(name: string, value: Value): Value {
  if (BOOLEANS.has(name)) {
    const v = typeof value === 'string' ? value.toUpperCase() : value
    if (v === 1 || v === 'ON' || v === 'TRUE' || v === '1') return 1
    if (v === 0 || v === 'OFF' || v === 'FALSE' || v === '0') return 0
    throw new DdbError('BAD_VALUE', `Variable '${name}' can't be set to the value of '${String(value)}'`)
  }
  if (name === 'sql_mode' && typeof value === 'string') {
    return value
      .split(',')
      .map((m) => m.trim().toUpperCase())
      .filter(Boolean)
      .join(',')
  }
  return value
}

/** One session's variables. `defaults`: what a fresh session reads for each system variable ddb knows. */
export class SessionVariables {
  readonly #defaults: Readonly<Record<string, Value>>
  readonly #system = new Map<string, Value>()
  readonly #user = new Map<string, Value>()

  constructor(defaults: Readonly<Record<string, Value>>) {
    this.#defaults = defaults
  }

  /** A system variable's session value: set here, else the default; undefined when ddb does not know it. */
  system(name: string): Value | undefined {
    const key = name.toLowerCase()
    return this.#system.has(key) ? this.#system.get(key) : this.#defaults[key]
  }

  /** A user variable's value; NULL when it was never set, as in MySQL. */
  user(name: string): Value {
    return this.#user.get(name.toLowerCase()) ?? null
  }

  setUser(name: string, value: Value): void {
    this.#user.set(name.toLowerCase(), value)
  }

  /** Sets a system variable (already checked and normalized); `DEFAULT` (undefined) goes back to the default. */
  setSystem(name: string, value: Value | undefined): void {
    if (value === undefined || value === this.#defaults[name]) this.#system.delete(name)
    else this.#system.set(name, value)
  }

  /** The replicated settings that differ from a fresh session's: what a write records. Undefined when none do. */
  settings(): Settings | undefined {
    return this.#differing(REPLICATED)
  }

  /** The run-only settings (RUN_ONLY) that differ from a fresh session's. Undefined when none do. */
  runOnlySettings(): Settings | undefined {
    return this.#differing(RUN_ONLY)
  }

  #differing(names: ReadonlySet<string>): Settings | undefined {
    let out: Settings | undefined
    for (const [name, value] of this.#system) {
      if (!names.has(name) || value === this.#defaults[name]) continue
      out ??= {}
      out[name] = value
    }
    return out
  }
}

/** What ddb reports for a SQLite store, whose sessions have none of MySQL's variables: MySQL 8's defaults. */
const SQLITE_DEFAULTS: Record<string, Value> = {
  autocommit: 1,
  auto_increment_increment: 1,
  auto_increment_offset: 1,
  big_tables: 0,
  character_set_client: 'utf8mb4',
  character_set_connection: 'utf8mb4',
  character_set_database: 'utf8mb4',
  character_set_results: 'utf8mb4',
  character_set_server: 'utf8mb4',
  collation_connection: 'utf8mb4_general_ci',
  collation_database: 'utf8mb4_general_ci',
  collation_server: 'utf8mb4_general_ci',
  default_storage_engine: 'InnoDB',
  div_precision_increment: 4,
  explicit_defaults_for_timestamp: 1,
  foreign_key_checks: 1,
  group_concat_max_len: 1024,
  have_ssl: 'DISABLED',
  init_connect: '',
  innodb_lock_wait_timeout: 50,
  interactive_timeout: 28800,
  lc_time_names: 'en_US',
  license: 'GPL',
  lock_wait_timeout: 31536000,
  lower_case_table_names: 0,
  max_allowed_packet: 64 * 1024 * 1024,
  max_execution_time: 0,
  net_buffer_length: 16384,
  net_read_timeout: 30,
  net_write_timeout: 60,
  performance_schema: 0,
  profiling: 0,
  query_cache_size: 0,
  query_cache_type: 'OFF',
  read_only: 0,
  resultset_metadata: 'FULL',
  server_id: 0,
  session_track_schema: 1,
  session_track_state_change: 0,
  session_track_system_variables:
    'time_zone,autocommit,character_set_client,character_set_results,character_set_connection',
  session_track_transaction_info: 'OFF',
  sql_auto_is_null: 0,
  sql_big_selects: 1,
  sql_log_bin: 1,
  sql_mode: 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION',
  sql_notes: 1,
  sql_quote_show_create: 1,
  sql_safe_updates: 0,
  sql_select_limit: '18446744073709551615',
  sql_warnings: 0,
  system_time_zone: 'UTC',
  time_zone: 'SYSTEM',
  transaction_isolation: 'REPEATABLE-READ',
  tx_isolation: 'REPEATABLE-READ',
  unique_checks: 1,
  wait_timeout: 28800,
}

/** The version a SQLite store answers VERSION() with: the MySQL ddb speaks for it. */
const SQLITE_VERSION = '8.0.40-ddb'

/** What a node's store is, for the variables its sessions start with. */
export interface VariableSource {
  readonly dialect: 'mysql' | 'sqlite'
  /** Its VERSION() (null: SQLite), and these variables as its fresh sessions see them. */
  readonly store: Pick<StoreServices, 'version' | 'sessionDefaults'>
}

const defaultsByNode = new WeakMap<VariableSource, Promise<Record<string, Value>>>()

/**
 * The variables a fresh session on this node reads: the store's own values on
 * MySQL (read once per node), MySQL 8's defaults on SQLite; the server's
 * version and ddb's version comment on both.
 */
export function sessionDefaults(node: VariableSource): Promise<Record<string, Value>> {
  let defaults = defaultsByNode.get(node)
  if (!defaults) {
    const own = { version: serverVersion(node), version_comment: 'ddb statement replication', autocommit: 1 }
    defaults =
      node.dialect === 'sqlite'
        ? Promise.resolve({ ...SQLITE_DEFAULTS, ...own })
        : node.store
            .sessionDefaults(Object.keys(SQLITE_DEFAULTS).concat([...REPLICATED]))
            .then((d) => ({ ...d, ...own }))
    defaultsByNode.set(node, defaults)
  }
  return defaults
}

/** VERSION(): the MySQL store's server's, or the MySQL ddb speaks for a SQLite store. */
export function serverVersion(node: Pick<VariableSource, 'store'>): string {
  return node.store.version ?? SQLITE_VERSION
}
