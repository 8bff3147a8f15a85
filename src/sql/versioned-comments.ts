/**
 * MySQL's executable comments, resolved as the server a client talks to would:
 * `/*!NNNNN code *\/` runs when the server's version is at least N.N.NN (always
 * without a number), and MariaDB's `/*M!NNNNNN code *\/` runs only on MariaDB of
 * at least that version (MySQL reads it as a plain comment). Dump files depend on
 * this: `/*!40101 SET NAMES utf8mb4 *\/` runs, `/*M!999999\- enable the sandbox
 * mode *\/` never does. The statement that results holds no executable comment,
 * so it replays the same on any server.
 */
import { DdbError } from '../errors.ts'
import { readQuoted } from './lexer.ts'

/** A server as executable comments see it: its version as a number (10.11.19 → 101119) and whether it is MariaDB. */
export interface ServerVersion {
  id: number
  mariadb: boolean
}

/** Reads a VERSION() string: "10.11.19-MariaDB-0+deb12u1" → {101119, mariadb}, "8.0.40" → {80040}. */
export function parseServerVersion(version: string): ServerVersion {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version)
  const [major, minor, patch] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0]
  return { id: major * 10000 + minor * 100 + patch, mariadb: /mariadb/i.test(version) }
}

/** `sql` with every executable comment resolved: the code of those that run kept, the others removed. */
export function resolveVersionedComments(sql: string, server: ServerVersion): string {
  if (!sql.includes('/*!') && !sql.includes('/*M!')) return sql
  let out = ''
  let from = 0
  let inside = false // within the code of an executable comment that runs
  let pos = 0
  while (pos < sql.length) {
    const c = sql[pos]
    const next = sql[pos + 1]
    if (c === "'" || c === '"' || c === '`') {
      pos = readQuoted(sql, pos, c).end
    } else if (c === '#' || (c === '-' && next === '-' && (pos + 2 === sql.length || sql.charCodeAt(pos + 2) <= 32))) {
      const newline = sql.indexOf('\n', pos)
      pos = newline < 0 ? sql.length : newline + 1
    } else if (c === '*' && next === '/' && inside) {
      out += `${sql.slice(from, pos)} `
      pos += 2
      from = pos
      inside = false
    } else if (c === '/' && next === '*') {
      const comment = executable(sql, pos)
      const close = sql.indexOf('*/', pos + 2)
      if (close < 0) throw new DdbError('SQL_SYNTAX', `unterminated comment starting at position ${pos}`)
      if (comment && !inside && runs(comment, server)) {
        out += `${sql.slice(from, pos)} `
        pos = comment.body
        from = pos
        inside = true
      } else if (comment) {
        out += `${sql.slice(from, pos)} `
        pos = close + 2
        from = pos
      } else {
        pos = close + 2
      }
    } else {
      pos++
    }
  }
  return out + sql.slice(from)
}

/** The executable comment starting at `pos`: where its code begins, its version (null: none) and whether it is MariaDB's. */
function executable(sql: string, pos: number): { body: number; version: number | null; mariadb: boolean } | null {
  let i = pos + 2
  const mariadb = sql[i] === 'M' && sql[i + 1] === '!'
  if (mariadb) i++
  if (sql[i] !== '!') return null
  i++
  const digits = /^\d*/.exec(sql.slice(i, i + 6))![0]
  return { body: i + digits.length, version: digits ? Number(digits) : null, mariadb }
}

function runs(comment: { version: number | null; mariadb: boolean }, server: ServerVersion): boolean {
  if (comment.mariadb && !server.mariadb) return false
  return comment.version === null || comment.version <= server.id
}
