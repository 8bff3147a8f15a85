/**
 * A MySQL column type as a SQLite column: the declared type (chosen so that
 * SQLite's type affinity stores values as MySQL would: INT… → INTEGER,
 * CHAR/TEXT → TEXT, BLOB/BINARY → BLOB, FLOAT/DOUBLE → REAL), the CHECK
 * constraints that make SQLite refuse what MySQL's strict mode refuses (out of
 * range, too long, not a member of the ENUM, not JSON), and MySQL's own name
 * for the type when the declared type does not carry it (kept in a comment
 * the catalog reads, see catalog.ts).
 *
 * Display widths (INT(11)) and ZEROFILL are dropped, as MySQL 8 reports them
 * (TINYINT(1) kept). Refused: SET, BIT, the spatial types, and types SQLite has
 * nothing like (UUID, INET6 …).
 */
import { isPunct, isWord, type Token } from '../lexer.ts'
import { closeOf, refuse, splitList, sqlName, sqlString } from './edits.ts'

/** A column type as SQLite gets it. */
export interface SqliteType {
  /** The declared type, e.g. `INT UNSIGNED`, `VARCHAR(20)`, `TEXT`. */
  declared: string
  /** MySQL's COLUMN_TYPE when `declared` does not say it (ENUM, JSON, BINARY …), e.g. `enum('a','b')`. */
  mysqlType?: string
  /** CHECK constraints as [constraint name, expression]. */
  checks: [string, string][]
  /** Whether values are text compared under a collation (CHAR, VARCHAR, TEXT, ENUM). */
  text: boolean
  /** Whether it is an integer type, which AUTO_INCREMENT needs. */
  integer: boolean
  /** Whether the type itself compares bytes (CHAR(n) BINARY): no case-insensitive collation. */
  binary: boolean
  /** The MySQL type in words, for messages: `INT UNSIGNED`. */
  label: string
}

/** Integer types: signed and unsigned ranges. */
const INTEGERS: Record<string, [bigint, bigint, bigint]> = {
  TINYINT: [-128n, 127n, 255n],
  SMALLINT: [-32768n, 32767n, 65535n],
  MEDIUMINT: [-8388608n, 8388607n, 16777215n],
  INT: [-2147483648n, 2147483647n, 4294967295n],
  BIGINT: [-9223372036854775808n, 9223372036854775807n, 18446744073709551615n],
}

const INTEGER_ALIASES: Record<string, string> = {
  INTEGER: 'INT',
  INT1: 'TINYINT',
  INT2: 'SMALLINT',
  INT3: 'MEDIUMINT',
  INT4: 'INT',
  INT8: 'BIGINT',
  MIDDLEINT: 'MEDIUMINT',
}

/** Byte limits of the TEXT and BLOB types. */
const LONG_TYPES: Record<string, number | undefined> = {
  TINYTEXT: 255,
  TEXT: 65535,
  MEDIUMTEXT: 16777215,
  LONGTEXT: undefined,
  TINYBLOB: 255,
  BLOB: 65535,
  MEDIUMBLOB: 16777215,
  LONGBLOB: undefined,
}

const SPATIAL = new Set([
  'GEOMETRY',
  'POINT',
  'LINESTRING',
  'POLYGON',
  'MULTIPOINT',
  'MULTILINESTRING',
  'MULTIPOLYGON',
  'GEOMETRYCOLLECTION',
  'GEOMCOLLECTION',
])

/** Reads the type that starts at tokens[from] for column `column`; returns it and the index after it. */
export function readType(tokens: Token[], from: number, column: string): { type: SqliteType; end: number } {
  let k = from
  let base = tokens[k]?.value ?? ''
  if (tokens[k]?.type !== 'word') throw refuse(`column ${column} without a type`, 'MySQL needs one')
  k++
  // Two-word type names: NATIONAL CHAR, CHARACTER VARYING, DOUBLE PRECISION, LONG VARCHAR …
  if (base === 'NATIONAL') base = tokens[k++]?.value === 'VARCHAR' ? 'VARCHAR' : 'CHAR'
  if ((base === 'CHAR' || base === 'CHARACTER') && isWord(tokens[k], 'VARYING')) {
    base = 'VARCHAR'
    k++
  }
  if (base === 'DOUBLE' && isWord(tokens[k], 'PRECISION')) k++
  if (base === 'LONG') {
    base = isWord(tokens[k], 'VARBINARY') ? 'MEDIUMBLOB' : 'MEDIUMTEXT'
    if (isWord(tokens[k], 'VARCHAR') || isWord(tokens[k], 'VARBINARY')) k++
  }
  let args: string[] = []
  if (isPunct(tokens[k], '(')) {
    const close = closeOf(tokens, k)
    args = splitList(tokens, k + 1, close).map((s) =>
      tokens
        .slice(s.from, s.to)
        .map((t) => t.text)
        .join(''),
    )
    if (base === 'ENUM' || base === 'SET') args = splitList(tokens, k + 1, close).map((s) => tokens[s.from]!.value)
    k = close + 1
  }
  let unsigned = false
  let binary = false
  for (;;) {
    const t = tokens[k]
    if (isWord(t, 'UNSIGNED') || isWord(t, 'ZEROFILL')) unsigned = true
    else if (isWord(t, 'BINARY')) binary = true
    else if (!isWord(t, 'SIGNED') && !isWord(t, 'ASCII') && !isWord(t, 'UNICODE') && !isWord(t, 'BYTE')) break
    k++
  }
  const type = sqliteType(INTEGER_ALIASES[base] ?? base, args, unsigned, sqlName(column))
  return { type: binary ? { ...type, binary } : type, end: k }
}

/** The SQLite column for MySQL type `base`(args) [UNSIGNED]; `c` is the column, quoted, for the checks. */
function sqliteType(base: string, args: string[], unsigned: boolean, c: string): SqliteType {
  const label = `${base}${args.length > 0 && base !== 'ENUM' ? `(${args.join(',')})` : ''}${unsigned ? ' UNSIGNED' : ''}`
  const plain = { checks: [] as [string, string][], text: false, integer: false, binary: false, label }
  const range = INTEGERS[base]
  if (range) {
    const [min, max, umax] = range
    const declared =
      base === 'TINYINT' && args[0] === '1' && !unsigned ? 'TINYINT(1)' : `${base}${unsigned ? ' UNSIGNED' : ''}`
    return {
      ...plain,
      declared,
      integer: true,
      checks: [integerCheck(c, label, unsigned ? 0n : min, unsigned ? umax : max)],
    }
  }
  switch (base) {
    case 'BOOL':
    case 'BOOLEAN':
      return { ...plain, declared: 'BOOLEAN', checks: [integerCheck(c, 'BOOLEAN (TINYINT)', -128n, 127n)] }
    case 'DECIMAL':
    case 'DEC':
    case 'NUMERIC':
    case 'FIXED': {
      const precision = Number(args[0] ?? 10)
      const scale = Number(args[1] ?? 0)
      const max = `${'9'.repeat(Math.max(1, precision - scale))}${scale > 0 ? `.${'9'.repeat(scale)}` : ''}`
      return {
        ...plain,
        declared: `DECIMAL(${precision},${scale})`,
        checks: [[`${c}: out of range for ${label}`, `${c} BETWEEN ${unsigned ? '0' : `-${max}`} AND ${max}`]],
      }
    }
    case 'FLOAT':
    case 'DOUBLE':
    case 'REAL': {
      const number = `typeof(${c}) IN ('integer', 'real', 'null')${unsigned ? ` AND ${c} >= 0` : ''}`
      return {
        ...plain,
        declared: base === 'FLOAT' ? 'FLOAT' : 'DOUBLE',
        checks: [[`${c}: not a number for ${label}`, number]],
      }
    }
    case 'CHAR':
    case 'CHARACTER':
    case 'NCHAR': {
      const n = Number(args[0] ?? 1)
      return {
        ...plain,
        declared: `CHAR(${n})`,
        text: true,
        checks: [
          [`${c}: too long for CHAR(${n})`, `length(${c}) <= ${n}`],
          [`${c}: trailing spaces, which MySQL drops from CHAR`, `substr(${c}, -1) <> ' '`],
        ],
      }
    }
    case 'VARCHAR':
    case 'NVARCHAR':
    case 'VARCHARACTER': {
      if (args[0] === undefined) throw refuse('VARCHAR without a length', 'MySQL needs one')
      return {
        ...plain,
        declared: `VARCHAR(${args[0]})`,
        text: true,
        checks: [[`${c}: too long for VARCHAR(${args[0]})`, `length(${c}) <= ${args[0]}`]],
      }
    }
    case 'BINARY':
    case 'VARBINARY': {
      const n = args[0] ?? (base === 'BINARY' ? '1' : undefined)
      if (n === undefined) throw refuse('VARBINARY without a length', 'MySQL needs one')
      const fits = base === 'BINARY' ? `= ${n}` : `<= ${n}`
      const why = base === 'BINARY' ? `not ${n} bytes, as BINARY(${n}) pads to` : `too long for VARBINARY(${n})`
      return {
        ...plain,
        declared: 'BLOB',
        mysqlType: `${base.toLowerCase()}(${n})`,
        checks: [[`${c}: ${why}`, `length(CAST(${c} AS BLOB)) ${fits}`]],
      }
    }
    case 'ENUM': {
      if (args.some((a) => a.includes('*/')))
        throw refuse('an ENUM value holding */', 'it would end the comment that keeps the type')
      const values = args.map(sqlString).join(',')
      return {
        ...plain,
        declared: 'TEXT',
        mysqlType: `enum(${values})`,
        text: true,
        checks: [[`${c}: not a value of ENUM(${values})`, `${c} IN (${values})`]],
      }
    }
    case 'JSON':
      return { ...plain, declared: 'TEXT', mysqlType: 'json', checks: [[`${c}: not valid JSON`, `json_valid(${c})`]] }
    case 'DATE':
    case 'TIME':
    case 'DATETIME':
    case 'TIMESTAMP':
      return { ...plain, declared: args[0] === undefined ? base : `${base}(${args[0]})` }
    case 'YEAR':
      return {
        ...plain,
        declared: 'YEAR',
        checks: [[`${c}: not a YEAR (1901 to 2155, or 0)`, `${c} BETWEEN 1901 AND 2155 OR ${c} = 0`]],
      }
    case 'SET':
      throw refuse(
        'SET columns',
        "MySQL reorders a SET value's members and drops duplicates, which SQLite cannot; use VARCHAR or a separate table",
      )
    case 'BIT':
      throw refuse('BIT columns', 'MySQL returns BIT values as binary strings; use TINYINT, BOOLEAN or BIGINT')
    case 'SERIAL':
      return {
        ...plain,
        declared: 'BIGINT UNSIGNED',
        integer: true,
        checks: [integerCheck(c, 'BIGINT UNSIGNED', 0n, INTEGERS.BIGINT![2])],
      }
  }
  if (base in LONG_TYPES) {
    const bytes = LONG_TYPES[base]
    const text = base.endsWith('TEXT')
    return {
      ...plain,
      declared: base,
      text,
      checks: bytes === undefined ? [] : [[`${c}: too long for ${base}`, `length(CAST(${c} AS BLOB)) <= ${bytes}`]],
    }
  }
  if (SPATIAL.has(base)) throw refuse(`spatial type ${base}`, 'SQLite has no geometry types')
  throw refuse(`column type ${base}`, 'SQLite has nothing that stores and compares it the same way')
}

/** The CHECK that keeps an integer column's values whole and in [min, max]. */
function integerCheck(c: string, label: string, min: bigint, max: bigint): [string, string] {
  const whole = max > 9223372036854775807n ? `${c} >= 0` : `${c} BETWEEN ${min} AND ${max}`
  return [`${c}: out of range for ${label}`, `${whole} AND ${c} = CAST(${c} AS INTEGER)`]
}
