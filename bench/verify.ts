import { Database } from 'bun:sqlite'
import { connectMysql } from './native.ts'

/** Rows read per query while digesting a table. */
const PAGE_ROWS = 10_000

/** A table's content in brief: its row count and a SHA-1 of every row in id order. */
export interface Digest {
  rows: number
  sha1: string
}

/** A table to compare: its name, and its columns in digest order, an integer key `id` first. */
export interface Table {
  name: string
  columns: string[]
}

/** The throughput phases' table. */
export const T: Table = { name: 't', columns: ['id', 'v'] }

/** A copy of a table to compare: where it is, and how to digest it. */
export interface Copy {
  name: string
  digest(): Promise<Digest>
}

/** The query that reads one page of `table`'s rows after a given id. */
function pageQuery(table: Table): string {
  return `SELECT ${table.columns.join(', ')} FROM ${table.name} WHERE id > ? ORDER BY id LIMIT ?`
}

/** Table `database`.`table` (t unless told) on the mariadbd at `port`. */
export function mysqlCopy(name: string, port: number, database: string, table: Table = T): Copy {
  return {
    name,
    async digest() {
      const conn = await connectMysql(port, database)
      try {
        return await digestPages(table, async (after) => {
          const [rows] = await conn.query(pageQuery(table), [after, PAGE_ROWS])
          return rows as Row[]
        })
      } finally {
        conn.destroy()
      }
    },
  }
}

/** Table `table` (t unless told) in the SQLite file at `path` (opened read-only). */
export function sqliteCopy(name: string, path: string, table: Table = T): Copy {
  return {
    name,
    async digest() {
      const db = new Database(path, { readonly: true })
      try {
        const page = db.query<Row, [number, number]>(pageQuery(table))
        return await digestPages(table, async (after) => page.all(after, PAGE_ROWS))
      } finally {
        db.close()
      }
    },
  }
}

/**
 * Checks that every copy holds `expectedRows` rows (when given) and the same
 * rows as the first (the master); returns a one-line verdict for each failure,
 * none when equal.
 */
export async function compareCopies(what: string, expectedRows: number | null, copies: Copy[]): Promise<string[]> {
  const digests = await Promise.all(copies.map((c) => c.digest()))
  const failures: string[] = []
  const master = digests[0]!
  if (expectedRows !== null && master.rows !== expectedRows)
    failures.push(`${what}: ${copies[0]!.name} has ${master.rows} rows, expected ${expectedRows}`)
  digests.forEach((d, i) => {
    if (i > 0 && (d.rows !== master.rows || d.sha1 !== master.sha1)) {
      failures.push(
        `${what}: ${copies[i]!.name} differs from ${copies[0]!.name} (${d.rows} rows, sha1 ${d.sha1.slice(0, 12)} vs ${master.rows} rows, sha1 ${master.sha1.slice(0, 12)})`,
      )
    }
  })
  return failures
}

type Row = Record<string, unknown> & { id: number }

async function digestPages(table: Table, pageAfter: (id: number) => Promise<Row[]>): Promise<Digest> {
  const hash = new Bun.CryptoHasher('sha1')
  const [, ...values] = table.columns
  let rows = 0
  for (let after = 0; ; ) {
    const page = await pageAfter(after)
    if (page.length === 0) break
    for (const r of page) hash.update(`${[Number(r.id), ...values.map((c) => String(r[c]))].join('\t')}\n`)
    rows += page.length
    after = Number(page[page.length - 1]!.id)
  }
  return { rows, sha1: hash.digest('hex') }
}
