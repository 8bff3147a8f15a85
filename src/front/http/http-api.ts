/**
 * The HTTP JSON API every node can serve beside its ddb port (`--http HOST:PORT`):
 * POST /sql, GET /sql?q=…, GET /status. It is an adapter: each request runs
 * through a fresh Session on the node, exactly as a `ddb sql` client's would.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { formatHostPort, type HostPort } from '../../config.ts'
import { rowObjects } from '../../entry.ts'
import { DdbError, formatError } from '../../errors.ts'
import type { Logger } from '../../logger.ts'
import type { NodeApi } from '../../node/api.ts'
import { Session } from '../../node/session.ts'
import { classify } from '../../sql/classify.ts'
import { splitStatements } from '../../sql/split.ts'
import type { QueryAnswer } from '../../wire/messages.ts'
import { listenError } from '../listen.ts'
import { errorResponse, HttpError, statusOf } from './http-error.ts'
import {
  MAX_BODY_BYTES,
  parseSqlQuery,
  parseSqlRequest,
  readBodyText,
  type SqlContext,
  type SqlStatement,
} from './sql-request.ts'

export { MAX_BODY_BYTES } from './sql-request.ts'

/** Bun closes a connection idle for this long, in seconds (Bun's maximum, so a long read-your-writes wait is not cut). */
export const HTTP_IDLE_TIMEOUT_S = 255

export interface HttpHandlerOptions {
  /** Where unexpected (500) errors are logged; default: nowhere. */
  logger?: Logger
  /** The largest request body, in bytes; default MAX_BODY_BYTES (16 MiB). */
  maxBodyBytes?: number
  /** The node's shared secret (--secret); when set, every request must send `Authorization: Bearer <secret>`. Default '' (none). */
  secret?: string
}

/** One statement's answer as JSON: rows for a read, an offset for a write, ok for the rest. */
export type JsonAnswer =
  | { columns: string[]; rows: Record<string, unknown>[] }
  | { offset: number; affectedRows: number; insertId: number }
  | { ok: true }

/**
 * Creates the API's request handler for a node. It answers every request, bad
 * ones included, with JSON, and never throws; it needs no socket (call it with
 * `new Request('http://x/status')`).
 */
export function createHttpHandler(
  node: NodeApi,
  options: HttpHandlerOptions = {},
): (req: Request) => Promise<Response> {
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES

  async function postSql(req: Request): Promise<Response> {
    const request = parseSqlRequest(await readBodyText(req, maxBodyBytes))
    if (request.kind === 'query')
      return Response.json({ results: (await runQuery(node, request, request)).map(toJson) })
    return runTransaction(node, request.statements, request, options.logger)
  }

  async function getSql(url: URL): Promise<Response> {
    const request = parseSqlQuery(url)
    for (const text of splitStatements(request.sql)) {
      const c = classify(text)
      if (c.kind !== 'read') {
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', `GET /sql runs reads only; ${c.keyword} is not a read`, {
          hint: 'send it with POST /sql',
          headers: { Allow: 'POST' },
        })
      }
    }
    return Response.json({ results: (await runQuery(node, request, request)).map(toJson) })
  }

  async function route(req: Request): Promise<Response> {
    const url = new URL(req.url)
    if (options.secret && !hasSecret(req, options.secret)) {
      throw new HttpError(401, 'AUTH', 'authentication failed: missing or wrong secret', {
        hint: 'send the node\'s --secret as "Authorization: Bearer <secret>"',
        headers: { 'WWW-Authenticate': 'Bearer realm="ddb"' },
      })
    }
    switch (url.pathname) {
      case '/sql':
        if (req.method === 'POST') return postSql(req)
        if (req.method === 'GET') return getSql(url)
        throw methodNotAllowed(req.method, url.pathname, 'GET, POST')
      case '/status':
        if (req.method === 'GET') return Response.json(node.status())
        throw methodNotAllowed(req.method, url.pathname, 'GET')
      default:
        throw new HttpError(404, 'NOT_FOUND', `${url.pathname}: no such endpoint`, {
          hint: 'the API has POST /sql, GET /sql?q=… and GET /status',
        })
    }
  }

  return async (req) => {
    try {
      return await route(req)
    } catch (err) {
      if (statusOf(err) === 500)
        options.logger?.error('http request failed', { method: req.method, url: req.url, error: formatError(err) })
      return errorResponse(err)
    }
  }
}

/** What a session runs a request's statements with: its database, and how many slaves its writes wait for. */
function writeContext(context: SqlContext): { db: string | null; syncReplicas?: number } {
  return { db: context.db, ...(context.syncReplicas !== undefined ? { syncReplicas: context.syncReplicas } : {}) }
}

/** One POST /sql query, or a GET /sql read: waits for min_offset, then runs on a fresh session. */
async function runQuery(node: NodeApi, statement: SqlStatement, context: SqlContext): Promise<QueryAnswer> {
  if (context.minOffset !== undefined) await node.waitForOffset(context.minOffset, context.waitMs)
  const session = new Session(node)
  try {
    return await session.execute(statement.sql, statement.params, writeContext(context))
  } finally {
    await session.close() // "BEGIN; INSERT …" sent alone rolls back, as when a client disconnects
  }
}

/**
 * statements[] as ONE transaction through one session: BEGIN, each statement,
 * COMMIT; on any error ROLLBACK, and the error names the statement that failed.
 * Answers the statements' results and the COMMIT's offset (null when nothing was written).
 */
async function runTransaction(
  node: NodeApi,
  statements: SqlStatement[],
  context: SqlContext,
  logger?: Logger,
): Promise<Response> {
  statements.forEach((s, i) => {
    for (const text of splitStatements(s.sql)) {
      const c = classify(text)
      if (c.kind === 'transaction') {
        throw new HttpError(
          400,
          'BAD_REQUEST',
          `statements[${i}].sql: ${c.keyword} is not allowed here: statements[] already runs as one transaction`,
        )
      }
    }
  })
  if (context.minOffset !== undefined) await node.waitForOffset(context.minOffset, context.waitMs)
  const session = new Session(node)
  const options = writeContext(context)
  let at = 'BEGIN: '
  try {
    await session.execute('BEGIN', [], options)
    const results: JsonAnswer[] = []
    for (const [i, s] of statements.entries()) {
      at = `statements[${i}]: `
      for (const answer of await session.execute(s.sql, s.params, options)) results.push(toJson(answer))
    }
    at = 'COMMIT: '
    const [commit] = await session.execute('COMMIT', [], options)
    return Response.json({ results, offset: commit?.kind === 'write' ? commit.offset : null })
  } catch (err) {
    await session.execute('ROLLBACK', [], options).catch(() => {})
    if (!(err instanceof DdbError)) throw err
    if (statusOf(err) === 500)
      logger?.error('http request failed', { transaction: at.slice(0, -2), error: formatError(err) })
    return errorResponse(err, at)
  } finally {
    await session.close()
  }
}

/** Whether the request carries `Authorization: Bearer <secret>`; compared in constant time. */
function hasSecret(req: Request, secret: string): boolean {
  const given = /^Bearer (.*)$/i.exec(req.headers.get('authorization') ?? '')?.[1] ?? ''
  const digest = (text: string) => createHash('sha256').update(text).digest()
  return timingSafeEqual(digest(given), digest(secret))
}

function methodNotAllowed(method: string, path: string, allow: string): HttpError {
  return new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} ${path}: method not allowed; use ${allow}`, {
    headers: { Allow: allow },
  })
}

/** An answer as the API's JSON. */
export function toJson(answer: QueryAnswer[number]): JsonAnswer {
  switch (answer.kind) {
    case 'read':
      return { columns: answer.columns, rows: rowObjects(answer) }
    case 'write':
      return { offset: answer.offset, affectedRows: answer.affectedRows, insertId: answer.insertId }
    case 'ok':
      return { ok: true }
  }
}

/** A listening HTTP API. */
export interface HttpServer {
  /** "host:port" actually bound (port 0 becomes the real port). */
  readonly address: string
  /** Stops listening and ends open connections; safe to call twice. */
  close(): Promise<void>
}

/** Serves `handler` with Bun.serve; a port in use, or an address not on this machine, is a one-line DdbError 'LISTEN'. */
export async function startHttpServer(
  listen: HostPort,
  handler: (req: Request) => Promise<Response>,
  logger: Logger,
): Promise<HttpServer> {
  let server: ReturnType<typeof Bun.serve>
  try {
    server = Bun.serve({
      hostname: listen.host,
      port: listen.port,
      development: false,
      // Said explicitly: with development off, Bun otherwise lets a second process bind the same port (SO_REUSEPORT).
      reusePort: false,
      // The handler enforces MAX_BODY_BYTES itself, with a JSON 413; Bun's own limit would answer in plain text.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      idleTimeout: HTTP_IDLE_TIMEOUT_S,
      fetch: handler,
      error: (err) => {
        logger.error('http request failed', { error: formatError(err) })
        return errorResponse(err)
      },
    })
  } catch (err) {
    throw listenError(err, `http listen ${formatHostPort(listen)}`, '--http')
  }
  const address = formatHostPort({ host: server.hostname ?? listen.host, port: server.port ?? listen.port })
  let closed: Promise<void> | null = null
  return {
    address,
    close: () => (closed ??= server.stop(true).then(() => {})),
  }
}

/** Starts the API for a node, when `listen` is given, and logs where; null when it is not. `secret`: the node's --secret. */
export async function serveHttpApi(
  node: NodeApi,
  listen: HostPort | null,
  logger: Logger,
  secret = '',
): Promise<HttpServer | null> {
  if (!listen) return null
  const http = logger.child({ component: 'http' })
  const server = await startHttpServer(listen, createHttpHandler(node, { logger: http, secret }), http)
  http.info('http api listening', { http: server.address })
  return server
}
