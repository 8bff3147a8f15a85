import type { ColumnType } from '../entry.ts'
import { COLUMN_CHARSET, COLUMN_FLAG, COLUMN_TYPE } from '../mysql-protocol.ts'

/** MySQL's longest length, for TEXT and BLOB columns SQLite does not bound. */
const UNBOUNDED_LENGTH = 0xffff_ffff

/**
 * A column's MySQL type from its declared SQLite type, by SQLite's affinity
 * rules (INT → BIGINT, CHAR/CLOB/TEXT → VARCHAR, BLOB → BLOB, REAL/FLOA/DOUB →
 * DOUBLE); of the NUMERIC-affinity names, DECIMAL/NUMERIC, BOOL(EAN), DATE,
 * DATETIME, TIMESTAMP and TIME keep their MySQL meaning. null (the caller
 * infers from the values) for an expression, a column declared without a type,
 * or another NUMERIC name.
 */
export function sqliteColumnType(declared: string | null | undefined): ColumnType | null {
  if (!declared) return null
  const d = declared.toUpperCase()
  const size = /\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)/.exec(d)
  const n = size ? Number(size[1]) : undefined
  const binary = { charset: COLUMN_CHARSET.BINARY, decimals: 0 }
  const num = { ...binary, flags: COLUMN_FLAG.NUM }
  if (d.includes('INT')) return { ...num, type: COLUMN_TYPE.LONGLONG, length: 20 }
  if (/CHAR|CLOB|TEXT/.test(d)) {
    const length = n !== undefined && /CHAR/.test(d) ? n * 4 : UNBOUNDED_LENGTH
    return { type: COLUMN_TYPE.VAR_STRING, length, decimals: 0, flags: 0, charset: COLUMN_CHARSET.UTF8MB4 }
  }
  if (d.includes('BLOB'))
    return { ...binary, type: COLUMN_TYPE.BLOB, length: UNBOUNDED_LENGTH, flags: COLUMN_FLAG.BLOB | COLUMN_FLAG.BINARY }
  if (/REAL|FLOA|DOUB/.test(d)) return { ...num, type: COLUMN_TYPE.DOUBLE, length: 22, decimals: 0x1f }
  const base = d.replace(/\(.*$/s, '').trim()
  const fsp = n !== undefined ? Math.min(n, 6) : 0
  switch (base) {
    case 'DECIMAL':
    case 'DEC':
    case 'NUMERIC': {
      const precision = n ?? 10
      const scale = size?.[2] !== undefined ? Number(size[2]) : 0
      return { ...num, type: COLUMN_TYPE.NEWDECIMAL, length: precision + (scale > 0 ? 2 : 1), decimals: scale }
    }
    case 'BOOL':
    case 'BOOLEAN':
      return { ...num, type: COLUMN_TYPE.TINY, length: 1 }
    case 'DATE':
      return { ...binary, type: COLUMN_TYPE.DATE, length: 10, flags: COLUMN_FLAG.BINARY }
    case 'DATETIME':
    case 'TIMESTAMP':
      return {
        ...binary,
        type: base === 'DATETIME' ? COLUMN_TYPE.DATETIME : COLUMN_TYPE.TIMESTAMP,
        length: 19 + (fsp ? fsp + 1 : 0),
        decimals: fsp,
        flags: COLUMN_FLAG.BINARY,
      }
    case 'TIME':
      return {
        ...binary,
        type: COLUMN_TYPE.TIME,
        length: 10 + (fsp ? fsp + 1 : 0),
        decimals: fsp,
        flags: COLUMN_FLAG.BINARY,
      }
    default:
      return null
  }
}
