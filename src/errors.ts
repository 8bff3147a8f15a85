/**
 * DdbError is every error ddb reports on purpose: a stable code for scripts and
 * tests, a one-line message ("operation: detail"), and an optional hint that tells
 * an operator what to do. Branch on `code` or the class, never on the message.
 */
export class DdbError extends Error {
  readonly code: string
  readonly hint?: string

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.name = 'DdbError'
    this.code = code
    this.hint = options.hint
  }
}

/** A flag, URL or argument the user gave is wrong. Exit status 2. */
export class UsageError extends DdbError {
  constructor(message: string, hint?: string) {
    super('USAGE', message, { hint })
    this.name = 'UsageError'
  }
}

/** A peer sent something that is not ddb's protocol; the connection is closed. */
export class ProtocolError extends DdbError {
  constructor(message: string) {
    super('PROTOCOL', message)
    this.name = 'ProtocolError'
  }
}

/** The store (MySQL or SQLite) failed or refused a statement. */
export class StoreError extends DdbError {
  /** The store's own error code (MySQL errno, SQLite code), when it gave one. */
  readonly storeCode?: string | number
  /** The MySQL errno a MySQL client is told: a MySQL store's own, a SQLite store's nearest counterpart. */
  readonly mysqlErrno?: number
  /**
   * True when the database answered the statement with an error (syntax, missing
   * table, duplicate key…): the statement did not run. False when the store could
   * not be reached or the connection broke, so the outcome is unknown.
   */
  readonly rejectedByServer: boolean

  constructor(
    message: string,
    options: {
      cause?: unknown
      storeCode?: string | number
      mysqlErrno?: number
      hint?: string
      rejectedByServer?: boolean
    } = {},
  ) {
    super('STORE', message, options)
    this.name = 'StoreError'
    this.storeCode = options.storeCode
    const errno = options.mysqlErrno ?? (typeof options.storeCode === 'number' ? options.storeCode : undefined)
    if (errno !== undefined) this.mysqlErrno = errno
    this.rejectedByServer = options.rejectedByServer ?? false
  }
}

/**
 * The store's state row was not at the offset a write expected: the store lost
 * transactions it had committed (a MySQL server that crashed with
 * innodb_flush_log_at_trx_commit = 0 or 2). Nothing of the write was committed; the
 * entries the store lacks are in the log, to be applied again.
 */
export class StoreBehindError extends StoreError {
  constructor(detail: string) {
    super(`the store is behind the offset it had committed (${detail}): it lost transactions`, {
      storeCode: 'STORE_BEHIND',
      hint: 'its server restarted without flushing them; ddb applies them again from the log',
    })
    this.name = 'StoreBehindError'
  }
}

/** A write reached a slave; slaves only apply what their master logged. */
export class NotMasterError extends DdbError {
  readonly master: string

  constructor(master: string) {
    super('NOT_MASTER', `write refused: this node is a read-only slave; send writes to the master at ${master}`)
    this.name = 'NotMasterError'
    this.master = master
  }
}

/** A slave applied an entry and got a different result than the master did. */
export class DivergenceError extends DdbError {
  readonly offset: number
  readonly sql: string
  readonly expected: number
  readonly actual: number

  constructor(offset: number, sql: string, expected: number, actual: number) {
    super('DIVERGED', `entry ${offset} diverged: master affected ${expected} row(s), this slave ${actual}: ${sql}`, {
      hint: "fix the slave's data by hand so the statement affects the same rows, then restart the slave",
    })
    this.name = 'DivergenceError'
    this.offset = offset
    this.sql = sql
    this.expected = expected
    this.actual = actual
  }
}

/** The replication log and the store disagree in a way recovery cannot repair. */
export class RecoveryError extends DdbError {
  constructor(message: string, hint: string) {
    super('RECOVERY', message, { hint })
    this.name = 'RecoveryError'
  }
}

/** Renders any error as the one line ddb prints: message, then the hint if any. */
export function formatError(err: unknown): string {
  if (err instanceof DdbError) return err.hint ? `${err.message} (${err.hint})` : err.message
  if (err instanceof Error) return err.message
  return String(err)
}

/** Read-your-writes: the node did not reach the offset a query asked for in time. */
export class StaleReadError extends DdbError {
  /** The offset the node had reached: applied (slave) or published (master). */
  readonly reached: number
  readonly requested: number

  constructor(role: 'master' | 'slave', reached: number, requested: number, waitedMs: number) {
    const has = role === 'slave' ? 'this slave has applied' : 'this master has published'
    super(
      'STALE_READ',
      `read-your-writes: ${has} offset ${reached}, below the requested ${requested}, after waiting ${waitedMs} ms`,
      {
        hint:
          role === 'slave'
            ? 'the slave is behind or cut off from its master (see ddb status); retry, wait longer (--wait-timeout), or read from the master'
            : 'no write with that offset was made on this master; check the offset and the node',
      },
    )
    this.name = 'StaleReadError'
    this.reached = reached
    this.requested = requested
  }
}
