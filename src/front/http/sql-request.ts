import type { Param } from '../../entry.ts'
import { DEFAULT_WAIT_MS } from '../../wire/messages.ts'
import { HttpError } from './http-error.ts'

/** The largest request body the API reads, in bytes (16 MiB); a larger one answers 413 BODY_TOO_LARGE. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024
/** The longest read-your-writes wait a request may ask for (wait_ms), in milliseconds. */
export const MAX_WAIT_MS = 120_000

/** One statement (or several separated by ';', without params) and its bound parameters. */
export interface SqlStatement {
  sql: string
  params: Param[]
}

/** Where and when a request runs: its database, and the offset it waits for first (read-your-writes). */
export interface SqlContext {
  /** The database to run in (MySQL stores); null: the node's default. */
  db: string | null
  /** Wait until the node holds this offset before running. */
  minOffset?: number
  /** How long to wait for minOffset, in milliseconds. */
  waitMs: number
  /** Its writes are answered once this many slaves applied them (instead of the master's --sync-replicas). */
  syncReplicas?: number
}

/** A parsed POST /sql body: one query, or statements[] run as one transaction. */
export type SqlRequest =
  | ({ kind: 'query' } & SqlStatement & SqlContext)
  | ({ kind: 'transaction'; statements: SqlStatement[] } & SqlContext)

const FIELDS = new Set(['sql', 'params', 'statements', 'db', 'min_offset', 'wait_ms', 'sync_replicas'])
const STATEMENT_FIELDS = new Set(['sql', 'params'])

/** A 400 naming the field that is wrong. */
function badRequest(message: string): HttpError {
  return new HttpError(400, 'BAD_REQUEST', message)
}

/** A 413 for a body over `limit` bytes. */
function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'BODY_TOO_LARGE', `request body: larger than ${limit} bytes`, {
    hint: 'send fewer or smaller statements per request',
  })
}

/**
 * Reads a request body as UTF-8 text, refusing more than `limit` bytes: first by
 * Content-Length, then while reading (a chunked body, or one that lies), so an
 * oversized body is never held in memory whole.
 */
export async function readBodyText(req: Request, limit = MAX_BODY_BYTES): Promise<string> {
  const length = req.headers.get('content-length')
  if (length !== null && Number(length) > limit) throw tooLarge(limit)
  if (!req.body) return ''
  const reader = req.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      throw tooLarge(limit)
    }
    chunks.push(value)
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks))
  } catch {
    throw new HttpError(400, 'BAD_JSON', 'request body: not valid UTF-8')
  }
}

/** Parses and checks a POST /sql body. */
export function parseSqlRequest(text: string): SqlRequest {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (err) {
    throw new HttpError(400, 'BAD_JSON', `request body: invalid JSON: ${(err as Error).message}`, {
      hint: 'send {"sql": "...", "params": [...]} or {"statements": [{"sql": "..."}, ...]}',
    })
  }
  if (!isObject(body)) throw badRequest('request body: expected a JSON object')
  for (const key of Object.keys(body)) if (!FIELDS.has(key)) throw badRequest(`${key}: unknown field`)
  const context: SqlContext = {
    db: optionalString(body.db, 'db'),
    minOffset:
      body.min_offset === undefined || body.min_offset === null
        ? undefined
        : offsetField(body.min_offset, 'min_offset'),
    waitMs: waitField(body.wait_ms, 'wait_ms'),
    ...(body.sync_replicas === undefined || body.sync_replicas === null
      ? {}
      : { syncReplicas: countField(body.sync_replicas, 'sync_replicas') }),
  }
  if (body.statements !== undefined) {
    if (body.sql !== undefined || body.params !== undefined)
      throw badRequest('statements: give either sql (and params) or statements, not both')
    if (!Array.isArray(body.statements)) throw badRequest('statements: expected an array of {"sql", "params"} objects')
    if (body.statements.length === 0) throw badRequest('statements: expected at least one statement')
    const statements = body.statements.map((s: unknown, i: number) => statementField(s, `statements[${i}]`))
    return { kind: 'transaction', statements, ...context }
  }
  if (body.sql === undefined) throw badRequest('sql: missing (or give statements)')
  return { kind: 'query', sql: sqlField(body.sql, 'sql'), params: paramsField(body.params, 'params'), ...context }
}

/** Checks the query string of GET /sql: q, and optionally db, min_offset and wait_ms. */
export function parseSqlQuery(url: URL): SqlStatement & SqlContext {
  for (const key of url.searchParams.keys()) {
    if (!['q', 'db', 'min_offset', 'wait_ms'].includes(key)) throw badRequest(`${key}: unknown query parameter`)
  }
  const q = url.searchParams.get('q')
  if (q === null) throw badRequest('q: missing (GET /sql?q=SELECT …)')
  const number = (name: string) => {
    const text = url.searchParams.get(name)
    if (text === null) return undefined
    if (!/^\d+$/.test(text)) throw badRequest(`${name}: expected a whole number, got "${text}"`)
    return Number(text)
  }
  const minOffset = number('min_offset')
  return {
    sql: sqlField(q, 'q'),
    params: [],
    db: optionalString(url.searchParams.get('db') ?? undefined, 'db'),
    minOffset: minOffset === undefined ? undefined : offsetField(minOffset, 'min_offset'),
    waitMs: waitField(number('wait_ms'), 'wait_ms'),
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function statementField(v: unknown, name: string): SqlStatement {
  if (!isObject(v)) throw badRequest(`${name}: expected an object {"sql": "...", "params": [...]}`)
  for (const key of Object.keys(v)) if (!STATEMENT_FIELDS.has(key)) throw badRequest(`${name}.${key}: unknown field`)
  if (v.sql === undefined) throw badRequest(`${name}.sql: missing`)
  return { sql: sqlField(v.sql, `${name}.sql`), params: paramsField(v.params, `${name}.params`) }
}

function sqlField(v: unknown, name: string): string {
  if (typeof v !== 'string') throw badRequest(`${name}: expected a string`)
  if (v.trim() === '') throw badRequest(`${name}: empty statement`)
  return v
}

function optionalString(v: unknown, name: string): string | null {
  if (v === undefined || v === null) return null
  if (typeof v !== 'string' || v === '') throw badRequest(`${name}: expected a database name`)
  return v
}

function offsetField(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw badRequest(`${name}: expected an offset (a whole number ≥ 0)`)
  return v
}

function countField(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw badRequest(`${name}: expected a whole number ≥ 0`)
  return v
}

function waitField(v: unknown, name: string): number {
  if (v === undefined || v === null) return DEFAULT_WAIT_MS
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > MAX_WAIT_MS) {
    throw badRequest(`${name}: expected milliseconds, a whole number from 0 to ${MAX_WAIT_MS}`)
  }
  return v
}

function paramsField(v: unknown, name: string): Param[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw badRequest(`${name}: expected an array`)
  return v.map((p, i) => paramField(p, `${name}[${i}]`))
}

/** A bound value: null, a boolean, a finite number, a string, or bytes as {"$bytes": "<base64>"}. */
function paramField(v: unknown, name: string): Param {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v
  if (typeof v === 'number' && Number.isFinite(v)) return v
  if (isObject(v) && Object.keys(v).length === 1 && typeof v.$bytes === 'string') return { $bytes: v.$bytes }
  throw badRequest(`${name}: expected null, a boolean, a number, a string or {"$bytes": "<base64>"}`)
}
