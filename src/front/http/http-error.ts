import { DdbError, formatError, StoreError } from '../../errors.ts'

/** An error the HTTP layer itself raises about a request (bad JSON, a missing field, a wrong method …), with its status. */
export class HttpError extends DdbError {
  readonly status: number
  /** Extra response headers (Allow for a 405). */
  readonly headers: Record<string, string>

  constructor(
    status: number,
    code: string,
    message: string,
    options: { hint?: string; headers?: Record<string, string> } = {},
  ) {
    super(code, message, { hint: options.hint })
    this.name = 'HttpError'
    this.status = status
    this.headers = options.headers ?? {}
  }
}

/**
 * The HTTP status of each DdbError code the API answers with. Codes not listed
 * are 500, except STORE, which depends on who failed (see statusOf).
 */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  // The request is wrong: fix it and send it again.
  USAGE: 400,
  BAD_JSON: 400,
  BAD_REQUEST: 400,
  SQL_SYNTAX: 400,
  // The node has a --secret and the request did not prove it.
  AUTH: 401,
  // A write sent to a slave that does not forward it; the message names the master.
  NOT_MASTER: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  // ddb refused the statement before running it.
  UNSAFE_STATEMENT: 409,
  UNSUPPORTED: 409,
  TRANSACTION_OPEN: 409,
  TRANSACTION_ABORTED: 409,
  NO_TRANSACTION: 409,
  DDL_IN_TRANSACTION: 409,
  USE_IN_TRANSACTION: 409,
  BODY_TOO_LARGE: 413,
  // The database refused the statement.
  UNKNOWN_DATABASE: 422,
  // The node cannot answer now; retrying later may work.
  STALE_READ: 503,
  MASTER_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  READ_ONLY: 503,
}

/** The status an error answers with: 422 for a statement the database rejected, 500 for anything unexpected. */
export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status
  if (err instanceof StoreError) return err.rejectedByServer ? 422 : 500
  if (err instanceof DdbError) return STATUS_BY_CODE[err.code] ?? 500
  return 500
}

/** The JSON body of an error: `{"error": {"code", "message", "hint"?}}`; never a stack trace. */
export function errorBody(err: unknown, prefix = ''): { error: { code: string; message: string; hint?: string } } {
  if (err instanceof DdbError) {
    return { error: { code: err.code, message: prefix + err.message, ...(err.hint ? { hint: err.hint } : {}) } }
  }
  return { error: { code: 'INTERNAL', message: `${prefix}internal error: ${formatError(err)}` } }
}

/** An error as a JSON response with its status. `prefix` names the part of the request that failed ("statements[2]: "). */
export function errorResponse(err: unknown, prefix = ''): Response {
  const status = statusOf(err)
  const headers: Record<string, string> = err instanceof HttpError ? { ...err.headers } : {}
  if (status === 503) headers['Retry-After'] = '1'
  return Response.json(errorBody(err, prefix), { status, headers })
}
