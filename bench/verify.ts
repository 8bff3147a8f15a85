import { Database } from 'bun:sqlite'
import { connectMysql } from './native.ts'

/** Rows read per query while digesting a table. */
const PAGE_ROWS = 10_000

/** A table's content in brief: its row count and a SHA-1 of every row in id order. */
export interface Digest {
  rows: number
  sha1: string
}

/** A copy of table t to compare: where it is, and how to digest it. */
export interface Copy {
  name: string
  digest(): Promise<Digest>
}

/** Table `database`.t on the mariadbd at `port`. */
export function mysqlCopy(name: string, port: number, database: string): Copy {
  return {
    name,
    async digest() {
      const conn = await connectMysql(port, database)
      try {
        return await digestPages(async (after) => {
          const [rows] = await conn.query('SELECT id, v FROM t WHERE id > ? ORDER BY id LIMIT ?', [after, PAGE_ROWS])
          return rows as Row[]
        })
      } finally {
        conn.destroy()
      }
    },
  }
}

/** Table t in the SQLite file at `path` (opened read-only). */
export function sqliteCopy(name: string, path: string): Copy {
  return {
    name,
    async digest() {
      const db = new Database(path, { readonly: true })
      try {
        const page = db.query<Row, [number, number]>('SELECT id, v FROM t WHERE id > ? ORDER BY id LIMIT ?')
        return await digestPages(async (after) => page.all(after, PAGE_ROWS))
      } finally {
        db.close()
      }
    },
  }
}

/**
 * Checks that every copy holds `expectedRows` rows and the same rows as the
 * first (the master); returns a one-line verdict for each failure, none when equal.
 */
export async function compareCopies(what: string, expectedRows: number, copies: Copy[]): Promise<string[]> {
  const digests = await Promise.all(copies.map((c) => c.digest()))
  const failures: string[] = []
  const master = digests[0]!
  if (master.rows !== expectedRows)
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

interface Row {
  id: number
  v: string
}

async function digestPages(pageAfter: (id: number) => Promise<Row[]>): Promise<Digest> {
  const hash = new Bun.CryptoHasher('sha1')
  let rows = 0
  for (let after = 0; ; ) {
    const page = await pageAfter(after)
    if (page.length === 0) break
    for (const r of page) hash.update(`${Number(r.id)}\t${r.v}\n`)
    rows += page.length
    after = Number(page[page.length - 1]!.id)
  }
  return { rows, sha1: hash.digest('hex') }
}
