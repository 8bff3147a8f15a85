import { describe, expect, test } from 'bun:test'
import { ProtocolError } from '../errors.ts'
import { decodeMessage } from './decode.ts'

const entry = {
  offset: 1,
  ts: 5,
  db: null,
  statements: [{ sql: 'DELETE FROM t', params: [] }],
  affected: [0],
  epoch: 1,
  hash: 'ab'.repeat(16),
  checksum: 9,
}

const VALID: Record<string, Record<string, unknown>> = {
  greeting: { type: 'greeting', protocol: 1, role: 'master', nonce: 'n' },
  hello: { type: 'hello', protocol: 1, peer: 'slave', auth: '', slaveId: 's1', position: 3, logId: null, listen: null },
  entries: { type: 'entries', entries: [entry] },
  query: { type: 'query', id: 1, sql: 'SELECT 1', params: [] },
  result: { type: 'result', id: 1, result: [{ kind: 'ok' }] },
  'status-result': {
    type: 'status-result',
    id: 1,
    status: {
      role: 'slave',
      master: 'm:1',
      applied: 0,
      connected: true,
      lagEntries: 0,
      lagSeconds: 0,
      store: 's',
      error: null,
    },
  },
  error: { type: 'error', id: null, code: 'X', message: 'm' },
  'forget-replica': { type: 'forget-replica', id: 3, replica: 's1' },
  'prune-log': { type: 'prune-log', id: 4, before: 100 },
  forgotten: { type: 'forgotten', id: 3, replica: 's1' },
  pruned: { type: 'pruned', id: 4, start: 99, removed: 99 },
}

/** A master's status with a disconnected slave whose lag is unknown. */
const MASTER_STATUS = {
  type: 'status-result',
  id: 2,
  status: {
    role: 'master',
    offset: 4,
    logId: 'l',
    store: 's',
    replicas: [
      { id: 's1', address: 'a', applied: 3, connected: false, lagEntries: null, lagSeconds: null, error: null },
    ],
  },
}

describe('decodeMessage', () => {
  test.each(Object.keys(VALID))('accepts a valid %s', (type) => {
    expect(decodeMessage(VALID[type])).toEqual(VALID[type] as never)
  })

  test('accepts a status whose lag is unknown (null), with or without stopped', () => {
    expect(decodeMessage(MASTER_STATUS)).toEqual(MASTER_STATUS as never)
    const slave = {
      ...VALID['status-result']!,
      status: { ...(VALID['status-result']!.status as object), lagEntries: null, lagSeconds: null, stopped: true },
    }
    expect(decodeMessage(slave)).toEqual(slave as never)
  })

  test("accepts a master's log start and its slaves' last-seen times", () => {
    const status = {
      ...MASTER_STATUS,
      status: {
        ...MASTER_STATUS.status,
        logStart: 2,
        replicas: [{ ...MASTER_STATUS.status.replicas[0]!, lastSeen: 1_700_000_000_000 }],
      },
    }
    expect(decodeMessage(status)).toEqual(status as never)
    const bad = { ...status, status: { ...status.status, logStart: -1 } }
    expect(() => decodeMessage(bad)).toThrow(
      new ProtocolError('malformed status-result: field status.logStart must be a non-negative integer'),
    )
  })

  test('rejects a status whose lag is neither a number nor null, or whose stopped is not a boolean', () => {
    const replica = MASTER_STATUS.status.replicas[0]!
    const bad = (fields: object) => ({
      ...MASTER_STATUS,
      status: { ...MASTER_STATUS.status, replicas: [{ ...replica, ...fields }] },
    })
    expect(() => decodeMessage(bad({ lagSeconds: '1' }))).toThrow(
      new ProtocolError('malformed status-result: field status.replicas[0].lagSeconds must be a number or null'),
    )
    expect(() => decodeMessage(bad({ stopped: 'yes' }))).toThrow(
      new ProtocolError('malformed status-result: field status.replicas[0].stopped must be a boolean'),
    )
  })

  test.each([
    [null, 'malformed message: not a JSON object'],
    [[1, 2], 'malformed message: not a JSON object'],
    [{ protocol: 1 }, 'unknown message type: undefined'],
    [{ type: 'shout' }, 'unknown message type: shout'],
    [{ type: 'toString' }, 'unknown message type: toString'],
  ])('rejects %j', (value, message) => {
    expect(() => decodeMessage(value)).toThrow(new ProtocolError(message))
  })

  test.each([
    ['greeting', { protocol: '1' }, 'field protocol must be a non-negative integer'],
    ['greeting', { role: 'client' }, 'field role must be "master" or "slave"'],
    ['hello', { position: -1 }, 'field position must be a non-negative integer'],
    ['hello', { position: 1.5 }, 'field position must be a non-negative integer'],
    ['hello', { slaveId: undefined }, 'field slaveId must be a string'],
    ['hello', { peer: 'robot' }, 'field peer must be "slave" or "client"'],
    ['hello', { logId: 7 }, 'field logId must be a string or null'],
    ['prune-log', { before: -1 }, 'field before must be a non-negative integer'],
    ['forget-replica', { replica: 1 }, 'field replica must be a string'],
    ['entries', { entries: {} }, 'field entries must be an array'],
    [
      'entries',
      { entries: [entry, { ...entry, statements: [{ sql: 1, params: [] }] }] },
      'field entries[1].statements[0].sql must be a string',
    ],
    [
      'entries',
      { entries: [{ ...entry, statements: [{ sql: 'x', params: [[1]] }] }] },
      'field entries[0].statements[0].params[0] must be null, a boolean, a number, a string or {"$bytes": string}',
    ],
    ['entries', { entries: [{ ...entry, affected: ['1'] }] }, 'field entries[0].affected[0] must be a number'],
    [
      'entries',
      { entries: [{ ...entry, statements: [{ sql: 'x', params: [], insertId: '1; DROP TABLE t' }] }] },
      'field entries[0].statements[0].insertId must be a non-negative integer',
    ],
    [
      'entries',
      { entries: [{ ...entry, statements: [{ sql: 'x', params: [], ts: 'now' }] }] },
      'field entries[0].statements[0].ts must be a non-negative integer',
    ],
    ['entries', { entries: [{ ...entry, checksum: null }] }, 'field entries[0].checksum must be a number'],
    ['entries', { entries: [{ ...entry, db: 3 }] }, 'field entries[0].db must be a string or null'],
    [
      'query',
      { params: [{ $bytes: 1 }] },
      'field params[0] must be null, a boolean, a number, a string or {"$bytes": string}',
    ],
    ['query', { id: Number.MAX_SAFE_INTEGER + 1 }, 'field id must be a non-negative integer'],
    [
      'result',
      { result: [{ kind: 'read', columns: ['a'], rows: [1] }] },
      'field result[0].rows[0] must be an array of values',
    ],
    ['result', { result: [{ kind: 'maybe' }] }, 'field result[0].kind must be "read" or "write" or "ok"'],
    [
      'status-result',
      { status: { role: 'master', offset: 1, logId: 'l', store: 's', replicas: [{}] } },
      'field status.replicas[0].id must be a string',
    ],
    ['error', { id: 'x' }, 'field id must be a non-negative integer or null'],
    ['error', { hint: 5 }, 'field hint must be a string'],
  ])('rejects a %s with %j', (type, change, problem) => {
    expect(() => decodeMessage({ ...VALID[type], ...change })).toThrow(
      new ProtocolError(`malformed ${type}: ${problem}`),
    )
  })
})
