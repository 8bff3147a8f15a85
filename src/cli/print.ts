import { type Entry, type Param, rowObjects } from '../entry.ts'
import type { QueryAnswer } from '../wire/messages.ts'

/** One statement's answer as `ddb sql` prints it: JSON (one value per line) or for a person. */
export function formatAnswer(answer: QueryAnswer[number], json: boolean): string {
  switch (answer.kind) {
    case 'read': {
      if (json) return JSON.stringify({ rows: rowObjects(answer) })
      const n = answer.rows.length
      const table = answer.columns.length > 0 ? `${formatTable(answer.columns, answer.rows)}\n` : ''
      return `${table}${n} ${n === 1 ? 'row' : 'rows'}`
    }
    case 'write':
      if (json)
        return JSON.stringify({ offset: answer.offset, affectedRows: answer.affectedRows, insertId: answer.insertId })
      return `OK, offset ${answer.offset} (${answer.affectedRows} ${answer.affectedRows === 1 ? 'row' : 'rows'} affected)`
    case 'ok':
      return json ? JSON.stringify({ ok: true }) : 'OK'
  }
}

/** One statement's answer as the mysql client prints it: a table and `N rows in set (T sec)`, or `Query OK, …`. */
export function formatMysqlAnswer(answer: QueryAnswer[number], seconds: number): string {
  const time = `(${seconds.toFixed(2)} sec)`
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
  switch (answer.kind) {
    case 'read':
      if (answer.rows.length === 0) return `Empty set ${time}`
      return `${formatTable(answer.columns, answer.rows)}\n${plural(answer.rows.length, 'row')} in set ${time}`
    case 'write':
      return `Query OK, ${plural(answer.affectedRows, 'row')} affected ${time}\noffset ${answer.offset}`
    case 'ok':
      return `Query OK, 0 rows affected ${time}`
  }
}

/** A boxed text table, as the mysql client prints one. */
export function formatTable(columns: string[], rows: unknown[][]): string {
  const cells = rows.map((r) => r.map(formatValue))
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)))
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`
  const row = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`
  return [line, row(columns), line, ...cells.map(row), line].join('\n')
}

/** A value as a cell: NULL, bytes as 0x…, others as text. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return 'NULL'
  if (typeof v === 'object' && '$bytes' in v)
    return `0x${Buffer.from(String((v as { $bytes: string }).$bytes), 'base64').toString('hex')}`
  return typeof v === 'object' ? JSON.stringify(v) : String(v)
}

/** A log entry on one line: `#offset time db=… statement [params]; …`. */
export function formatEntry(e: Entry): string {
  const statements = e.statements
    .map((s) => (s.params.length > 0 ? `${s.sql} ${JSON.stringify(s.params.map(paramText))}` : s.sql))
    .join('; ')
  return `#${e.offset} ${new Date(e.ts).toISOString()}${e.db ? ` db=${e.db}` : ''} ${statements}`
}

function paramText(p: Param): string | number | boolean | null {
  return p !== null && typeof p === 'object' ? formatValue(p) : p
}

/**
 * Writes a line to stdout, waiting while the pipe is full so memory stays flat.
 * Unlike console.log, a reader that went away surfaces as EPIPE, which ends ddb
 * quietly (bin/ddb.ts) instead of running on into a closed pipe.
 */
export function printLine(line: string): Promise<void> {
  if (process.stdout.write(`${line}\n`)) return Promise.resolve()
  return new Promise((resolve) => process.stdout.once('drain', () => resolve()))
}

/** A command failed and has already said why on stderr: ddb exits 1 without another line. */
export class AlreadyReported extends Error {
  constructor() {
    super('failed; the reason was printed')
    this.name = 'AlreadyReported'
  }
}
