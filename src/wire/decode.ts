import { ProtocolError } from '../errors.ts'
import type { Message, MessageType } from './messages.ts'

/**
 * A check returns null when a value fits, else what is wrong with it, written
 * relative to the value so callers can prefix a path: " must be a string",
 * "[2].sql must be a string", ".offset must be a non-negative integer".
 */
type Check = (v: unknown) => string | null

const leaf =
  (fits: (v: unknown) => boolean, what: string): Check =>
  (v) =>
    fits(v) ? null : ` must be ${what}`
const isString = (v: unknown): v is string => typeof v === 'string'
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isParam = (v: unknown) =>
  v === null || ['boolean', 'number', 'string'].includes(typeof v) || (isRecord(v) && isString(v.$bytes))

const str = leaf(isString, 'a string')
const strOrNull = leaf((v) => v === null || isString(v), 'a string or null')
const num = leaf((v) => typeof v === 'number', 'a number')
const numOrNull = leaf((v) => v === null || typeof v === 'number', 'a number or null')
const bool = leaf((v) => typeof v === 'boolean', 'a boolean')
const uint = leaf((v) => Number.isSafeInteger(v) && (v as number) >= 0, 'a non-negative integer')
const uintOrNull = leaf(
  (v) => v === null || (Number.isSafeInteger(v) && (v as number) >= 0),
  'a non-negative integer or null',
)
const param = leaf(isParam, 'null, a boolean, a number, a string or {"$bytes": string}')
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined ? null : check(v)

/** An array whose every item passes `item`. */
function arrayOf(item: Check): Check {
  return (v) => {
    if (!Array.isArray(v)) return ' must be an array'
    for (let i = 0; i < v.length; i++) {
      const problem = item(v[i])
      if (problem !== null) return `[${i}]${problem}`
    }
    return null
  }
}

/** An object whose every field passes `item`. */
function recordOf(item: Check): Check {
  return (v) => {
    if (!isRecord(v)) return ' must be an object'
    for (const [name, field] of Object.entries(v)) {
      const problem = item(field)
      if (problem !== null) return `.${name}${problem}`
    }
    return null
  }
}

/** An object with (at least) these fields. */
function object(fields: Record<string, Check>): Check {
  return (v) => {
    if (!isRecord(v)) return ' must be an object'
    for (const [name, check] of Object.entries(fields)) {
      const problem = check(v[name])
      if (problem !== null) return `.${name}${problem}`
    }
    return null
  }
}

/** An object whose `tag` field picks which fields it must have. */
function union(tag: string, variants: Record<string, Record<string, Check>>): Check {
  const tags = Object.keys(variants)
  const checks = Object.fromEntries(tags.map((t) => [t, object(variants[t]!)]))
  const tagCheck = leaf((t) => isString(t) && Object.hasOwn(checks, t), tags.map((t) => JSON.stringify(t)).join(' or '))
  return (v) => {
    if (!isRecord(v)) return ' must be an object'
    const problem = tagCheck(v[tag])
    return problem !== null ? `.${tag}${problem}` : checks[v[tag] as string]!(v)
  }
}

const role = leaf((v) => v === 'master' || v === 'slave', '"master" or "slave"')
const dialect = leaf((v) => v === 'mysql' || v === 'sqlite', '"mysql" or "sqlite"')

const entry = object({
  offset: uint,
  ts: num,
  db: strOrNull,
  timeZone: optional(strOrNull),
  // insertId and ts are written into SQL on replay (SET INSERT_ID, SET TIMESTAMP): numbers only.
  statements: arrayOf(
    object({
      sql: str,
      params: arrayOf(param),
      insertId: optional(uint),
      settings: optional(recordOf(param)),
      db: optional(str),
      ts: optional(uint),
      original: optional(str),
    }),
  ),
  affected: arrayOf(num),
  epoch: uint,
  hash: str,
  checksum: num,
})

const nullable =
  (check: Check): Check =>
  (v) =>
    v === null ? null : check(v)
const columnType = object({ type: uint, length: uint, decimals: uint, flags: uint, charset: uint })

const queryAnswer = arrayOf(
  union('kind', {
    read: {
      columns: arrayOf(str),
      rows: arrayOf(leaf(Array.isArray, 'an array of values')),
      columnTypes: optional(arrayOf(nullable(columnType))),
    },
    write: { offset: uint, affectedRows: num, insertId: num },
    ok: {},
  }),
)

const filters = object({ replicateDb: arrayOf(str), ignoreDb: arrayOf(str) })

const replicaStatus = object({
  id: str,
  address: str,
  applied: uint,
  connected: bool,
  lagEntries: numOrNull,
  lagSeconds: numOrNull,
  error: strOrNull,
  stopped: optional(bool),
  snapshot: optional(nullable(object({ offset: uint, rowsSent: uint, rowsEstimate: uint }))),
  lastSeen: optional(uint),
})

const syncStatus = object({
  replicas: uint,
  timeoutMs: uint,
  fallback: leaf((v) => v === 'async' || v === 'block', '"async" or "block"'),
  state: leaf((v) => v === 'async' || v === 'sync' || v === 'fallen-back', '"async", "sync" or "fallen-back"'),
  fallbacks: uint,
  waiting: uint,
})

const nodeStatus = union('role', {
  master: {
    offset: uint,
    logId: str,
    store: str,
    dialect: optional(dialect),
    readOnly: optional(strOrNull),
    logStart: optional(uint),
    replicas: arrayOf(replicaStatus),
    sync: optional(syncStatus),
  },
  slave: {
    master: str,
    applied: uint,
    connected: bool,
    lagEntries: numOrNull,
    lagSeconds: numOrNull,
    store: str,
    dialect: optional(dialect),
    error: strOrNull,
    stopped: optional(bool),
    filters: optional(filters),
    snapshot: optional(
      nullable(
        object({
          id: str,
          offset: uint,
          rows: uint,
          rowsEstimate: uint,
          bytes: uint,
          percent: num,
          rowsPerSecond: uint,
        }),
      ),
    ),
  },
})

const cursor = nullable(arrayOf(param))
const snapshotResume = object({ id: str, table: uint, after: cursor })
const snapshotSchema = object({
  databases: arrayOf(object({ name: str, create: str })),
  tables: arrayOf(
    object({ db: strOrNull, name: str, create: str, columns: arrayOf(str), keyColumns: uint, rowsEstimate: uint }),
  ),
  after: arrayOf(object({ db: strOrNull, sql: str })),
})

const tableChecksum = object({
  db: strOrNull,
  name: str,
  rows: uint,
  chunks: arrayOf(object({ first: arrayOf(param), last: arrayOf(param), rows: uint, crc: uint })),
  key: optional(nullable(arrayOf(str))),
})

/** Every message type's fields, besides `type` itself. */
const MESSAGES: Record<MessageType, Check> = {
  greeting: object({ protocol: uint, role, nonce: str }),
  hello: union('peer', {
    slave: {
      protocol: uint,
      auth: str,
      slaveId: str,
      position: uint,
      logId: strOrNull,
      hash: optional(strOrNull),
      epoch: optional(uint),
      rebuild: optional(bool),
      masterOnly: optional(bool),
      listen: strOrNull,
      snapshot: optional(snapshotResume),
      snapshotOnly: optional(bool),
    },
    client: { protocol: uint, auth: str },
  }),
  welcome: object({
    role,
    logId: strOrNull,
    offset: uint,
    dialect: optional(dialect),
    sync: optional(bool),
    epoch: optional(uint),
  }),
  'snapshot-begin': object({
    id: str,
    offset: uint,
    logId: str,
    schema: snapshotSchema,
    resume: nullable(snapshotResume),
    dialect: optional(dialect),
    hash: optional(strOrNull),
    epoch: optional(uint),
  }),
  'snapshot-rows': object({
    id: str,
    table: uint,
    rows: arrayOf(leaf(Array.isArray, 'an array of values')),
    next: cursor,
    checksum: uint,
  }),
  'snapshot-end': object({ id: str }),
  entries: object({ entries: arrayOf(entry) }),
  heartbeat: object({ offset: uint, ts: num }),
  ack: object({ applied: uint, error: strOrNull }),
  query: object({
    id: uint,
    sql: str,
    params: arrayOf(param),
    db: optional(strOrNull),
    minOffset: optional(uint),
    waitMs: optional(uint),
    syncReplicas: optional(uint),
  }),
  status: object({ id: uint }),
  'checksum-open': object({ id: uint }),
  'checksum-opened': object({ id: uint, offset: uint, token: str }),
  checksum: object({
    id: uint,
    token: optional(str),
    offset: optional(uint),
    forms: optional(arrayOf(leaf((v) => v === 'raw' || v === 'neutral', '"raw" or "neutral"'))),
  }),
  'checksum-result': object({
    id: uint,
    offset: uint,
    tables: arrayOf(tableChecksum),
    neutral: optional(arrayOf(tableChecksum)),
    filters: optional(filters),
  }),
  'forget-replica': object({ id: uint, replica: str }),
  'prune-log': object({ id: uint, before: uint }),
  promote: object({ id: uint }),
  'log-hashes': object({ id: uint, offsets: arrayOf(uint) }),
  'log-hashes-result': object({ id: uint, hashes: arrayOf(strOrNull) }),
  fence: object({ id: uint, epoch: uint, by: str }),
  fenced: object({ id: uint, epoch: uint }),
  promoted: object({ id: uint, epoch: uint, offset: uint }),
  result: object({ id: uint, result: queryAnswer }),
  'status-result': object({ id: uint, status: nodeStatus }),
  forgotten: object({ id: uint, replica: str }),
  pruned: object({ id: uint, start: uint, removed: uint }),
  error: object({ id: uintOrNull, code: str, message: str, hint: optional(str) }),
}

/** Checks that a parsed JSON value is one of ddb's messages, field by field; throws ProtocolError naming the bad field. */
export function decodeMessage(value: unknown): Message {
  if (!isRecord(value)) throw new ProtocolError('malformed message: not a JSON object')
  const type = value.type
  if (!isString(type) || !Object.hasOwn(MESSAGES, type)) {
    throw new ProtocolError(`unknown message type: ${String(type).slice(0, 100)}`)
  }
  const problem = MESSAGES[type as MessageType](value)
  if (problem !== null) throw new ProtocolError(`malformed ${type}: field ${problem.slice(1)}`)
  return value as Message
}
