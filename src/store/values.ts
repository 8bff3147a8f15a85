import type { Param } from '../entry.ts'
import type { StoreState } from './store.ts'

/** A value as reads return it: JSON-safe, the same shape as a Param (bytes as {$bytes: base64}). */
export type JsonValue = Param

/** A parameter as the drivers take it: a Param with {$bytes} decoded to a Buffer. */
export type DriverValue = null | boolean | number | string | Buffer

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/**
 * Converts one driver value to a JSON-safe value: bigint to a number when it is
 * safe, else its decimal string; bytes to {$bytes}; a Date to
 * 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC); strings (DECIMAL included) stay strings.
 */
export function toJsonValue(value: unknown): JsonValue {
  if (value === null || value === undefined) return null
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      return Number.isFinite(value) ? value : String(value)
    case 'bigint':
      return value >= -MAX_SAFE && value <= MAX_SAFE ? Number(value) : value.toString()
  }
  if (value instanceof Uint8Array) {
    return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }
  }
  if (value instanceof Date) return formatDate(value)
  return JSON.stringify(value)
}

/** Converts every value of a result row with toJsonValue. */
export function toJsonRow(row: unknown[]): JsonValue[] {
  return row.map(toJsonValue)
}

/** Converts a bound Param to what the drivers take: {$bytes} becomes a Buffer, others stay as they are. */
export function toDriverValue(param: Param): DriverValue {
  if (param !== null && typeof param === 'object') return Buffer.from(param.$bytes, 'base64')
  return param
}

function formatDate(d: Date): string {
  const iso = d.toISOString() // YYYY-MM-DDTHH:MM:SS.mmmZ
  const ms = d.getUTCMilliseconds()
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${ms ? `.${String(ms).padStart(3, '0')}000` : ''}`
}

/** The replication state from its row's values (applied_offset, log_id, pending_entries), as both stores keep it. */
export function stateOf([offset, logId, pending]: unknown[]): StoreState {
  return {
    offset: Number(offset),
    logId: logId === null ? null : String(logId),
    pending: pending === null || pending === undefined ? null : String(pending),
  }
}
