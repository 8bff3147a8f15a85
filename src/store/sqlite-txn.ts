/** A SQLite store's transaction (sqlite-store.ts). */
import type { Database } from 'bun:sqlite'
import type { Param, ReadResult } from '../entry.ts'
import { StoreError } from '../errors.ts'
import { quoteIdentifier } from '../sql/lexer.ts'
import { readOn, runOn, type StatementCache, storeError, writeStateOn } from './sqlite-connection.ts'
import {
  dropsTable,
  FK_OFF,
  FK_ON,
  type ModeStatement,
  modeConflict,
  needsForeignKeysOff,
} from './sqlite-foreign-keys.ts'
import type { RunResult, StoreState, StoreStatement, StoreTxn } from './store.ts'

/**
 * One BEGIN IMMEDIATE … COMMIT on the writer; holds the writer lock until it ends.
 * A writer's transaction is begun in its mode before it is handed out. A client's
 * begins at its first statement (PRAGMA foreign_keys must be set before BEGIN, and
 * only a statement says which it needs: its settings); a later statement that needs
 * the other mode is refused, and savepoints asked for before are made right after BEGIN.
 */
export class SqliteTxn implements StoreTxn {
  readonly #db: Database
  readonly #statements: StatementCache
  #release: (() => void) | null
  /** The mode it runs in; null while a client's transaction has not begun. */
  #mode: string | null
  /** A client's transaction: begins it (at its first statement). */
  readonly #begin: ((mode: string) => void) | null
  /** A client's transaction: savepoints asked for before it began, in order. */
  #early: string[] = []
  /** A client's transaction that began with DROP TABLE (for the reason a later statement is refused). */
  #beganWithDrop = false

  constructor(
    db: Database,
    statements: StatementCache,
    release: () => void,
    how: { mode: string } | { begin: (mode: string) => void },
  ) {
    this.#db = db
    this.#statements = statements
    this.#release = release
    this.#mode = 'mode' in how ? how.mode : null
    this.#begin = 'begin' in how ? how.begin : null
  }

  async run(_db: string | null, sql: string, params: Param[]): Promise<RunResult> {
    this.#enter([{ sql }])
    return runOn(this.#statements, sql, params)
  }

  async read(_db: string | null, sql: string, params: Param[], settings?: Record<string, Param>): Promise<ReadResult> {
    this.#enter([{ sql, settings }])
    return readOn(this.#statements, sql, params)
  }

  async runMany(statements: StoreStatement[], state?: StoreState): Promise<RunResult[]> {
    this.#enter(statements)
    const results = statements.map((s) => runOn(this.#statements, s.sql, s.params))
    if (state) writeStateOn(this.#statements, state)
    return results
  }

  async savepoint(name: string): Promise<void> {
    this.#checkOpen()
    if (this.#mode === null) return void this.#early.push(name)
    this.#exec(`SAVEPOINT ${quoteIdentifier(name)}`)
  }

  async rollbackTo(name: string): Promise<void> {
    this.#checkOpen()
    if (this.#mode === null) return void this.#early.splice(this.#earlySavepoint(name) + 1) // nothing ran yet to undo
    this.#exec(`ROLLBACK TO SAVEPOINT ${quoteIdentifier(name)}`)
  }

  async release(name: string): Promise<void> {
    this.#checkOpen()
    if (this.#mode === null) return void this.#early.splice(this.#earlySavepoint(name))
    this.#exec(`RELEASE SAVEPOINT ${quoteIdentifier(name)}`)
  }

  async setState(state: StoreState): Promise<void> {
    this.#enter([])
    if (this.#mode === null) this.#start(FK_ON)
    writeStateOn(this.#statements, state)
  }

  async commit(): Promise<void> {
    this.#checkOpen()
    if (this.#mode !== null) this.#exec('COMMIT')
    this.#end()
  }

  async rollback(): Promise<void> {
    if (!this.#release) return
    try {
      if (this.#mode !== null && this.#db.inTransaction) this.#db.run('ROLLBACK')
    } catch {
      // The store was closed, or SQLite already rolled back: nothing left to undo.
    }
    this.#end()
  }

  /**
   * Before statements run: a client's transaction begins in the mode its first one
   * needs, and refuses one that needs the other (SQLite ignores PRAGMA foreign_keys
   * inside a transaction, and the entry must replay in the mode it ran in).
   */
  #enter(statements: readonly ModeStatement[]): void {
    this.#checkOpen()
    if (!this.#begin) return
    for (const s of statements) {
      const mode = needsForeignKeysOff(s) ? FK_OFF : FK_ON
      if (this.#mode === null) {
        this.#start(mode)
        this.#beganWithDrop = dropsTable(s.sql)
      } else if (mode !== this.#mode) {
        throw modeConflict(dropsTable(s.sql) || this.#beganWithDrop)
      }
    }
  }

  /** BEGIN (a client's transaction), then the savepoints asked for before it. */
  #start(mode: string): void {
    try {
      this.#begin!(mode)
    } catch (err) {
      throw storeError(err)
    }
    this.#mode = mode
    for (const name of this.#early.splice(0)) this.#exec(`SAVEPOINT ${quoteIdentifier(name)}`)
  }

  /** The newest savepoint of this name asked for before BEGIN (SQLite matches names case-insensitively). */
  #earlySavepoint(name: string): number {
    const i = this.#early.findLastIndex((n) => n.toLowerCase() === name.toLowerCase())
    if (i < 0) throw new StoreError(`no such savepoint: ${name}`, { rejectedByServer: true })
    return i
  }

  #exec(sql: string): void {
    this.#checkOpen()
    try {
      this.#db.run(sql)
    } catch (err) {
      throw storeError(err)
    }
  }

  #end(): void {
    this.#release?.()
    this.#release = null
  }

  #checkOpen(): void {
    if (!this.#release) throw new StoreError('transaction is finished')
  }
}
