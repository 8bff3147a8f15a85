/**
 * Property: whatever mix of safe DML concurrent clients send, and whichever of
 * their statements fail, every slave ends with the master's tables, row for row,
 * at the master's offset. Statements come from a seeded generator; the seed is
 * in the test's name, and DDB_SEED=<seed> replays the same statements (the
 * interleaving of the clients is up to the scheduler).
 *
 * Client transactions (BEGIN … COMMIT or ROLLBACK) are in the mix too: each
 * committed one is one entry, replayed whole, in commit order.
 */
import { describe, expect, test } from 'bun:test'
import { DdbError } from '../src/errors.ts'
import type { Client } from '../src/wire/client.ts'
import { BACKEND_KINDS } from './support/backends.ts'
import { withCluster } from './support/cluster.ts'
import { expectSlavesEqualMaster, masterOffset, write } from './support/compare.ts'
import type { DdbNode } from './support/ddb.ts'
import { prng, TEST_SEED } from './support/random.ts'

type Kind = (typeof BACKEND_KINDS)[number]

/** Clients writing at once. */
const CLIENTS = 8
/** Steps (queries or transactions) each client sends. */
const STEPS_PER_CLIENT = 150
const SEED = TEST_SEED

/** Draws from a seeded PRNG. */
class Gen {
  readonly #next: () => number

  constructor(seed: number) {
    this.#next = prng(seed)
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#next() * (hi - lo + 1))
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!
  }

  chance(p: number): boolean {
    return this.#next() < p
  }
}

/** The tables every run starts from, in each dialect. */
function schema(kind: Kind): string[] {
  const autoId = kind === 'mysql' ? 'id INT AUTO_INCREMENT PRIMARY KEY' : 'id INTEGER PRIMARY KEY AUTOINCREMENT'
  return [
    'CREATE TABLE kv (id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v INTEGER NOT NULL, note VARCHAR(40), UNIQUE (k))',
    `CREATE TABLE items (${autoId}, grp INTEGER NOT NULL, tag VARCHAR(20) NOT NULL, v INTEGER NOT NULL, UNIQUE (grp, tag))`,
    `CREATE TABLE copies (${autoId}, src INTEGER NOT NULL, v INTEGER NOT NULL)`,
  ]
}

/**
 * One random statement of safe DML (or, now and then, two separated by ';').
 * Keys are drawn from small ranges, so inserts collide and some statements fail
 * on purpose (duplicate keys, NOT NULL, unknown tables and columns).
 */
function statement(g: Gen, kind: Kind, client: number, i: number, multi = true): string {
  const note = `'c${client}-${i}'`
  const kvRow = () => `(${g.int(1, 150)}, ${g.int(1, 300)}, ${g.int(0, 999)}, ${note})`
  const itemRow = () => `(${g.int(1, 8)}, 't${g.int(0, 24)}', ${g.int(0, 999)})`
  const range = () => {
    const a = g.int(1, 150)
    return [a, a + g.int(0, 30)] as const
  }
  const dir = () => g.pick(['ASC', 'DESC'])
  switch (g.int(0, 26)) {
    case 0:
    case 1:
      return `INSERT INTO kv (id, k, v, note) VALUES ${kvRow()}`
    case 2:
      return `INSERT INTO kv (id, k, v, note) VALUES ${Array.from({ length: g.int(2, 3) }, kvRow).join(', ')}`
    case 3:
    case 4:
      return `INSERT INTO items (grp, tag, v) VALUES ${itemRow()}`
    case 5:
      return `INSERT INTO items (grp, tag, v) VALUES ${Array.from({ length: g.int(2, 4) }, itemRow).join(', ')}`
    case 6:
      // Explicit and generated ids in one statement: the generated ones must follow the same counter on slaves.
      return `INSERT INTO items (id, grp, tag, v) VALUES (NULL, ${g.int(1, 8)}, 't${g.int(0, 24)}', 1), (${g.int(1, 400)}, ${g.int(1, 8)}, 'x${g.int(0, 24)}', 2), (NULL, ${g.int(1, 8)}, 'y${g.int(0, 24)}', 3)`
    case 7:
      return `INSERT INTO items (id, grp, tag, v) VALUES (${g.int(1, 400)}, ${g.int(1, 8)}, 'z${g.int(0, 24)}', ${g.int(0, 999)})`
    case 8:
      return `INSERT ${kind === 'mysql' ? 'IGNORE' : 'OR IGNORE'} INTO items (grp, tag, v) VALUES ${Array.from({ length: g.int(1, 4) }, itemRow).join(', ')}`
    case 9:
      return kind === 'mysql'
        ? `INSERT INTO items (grp, tag, v) VALUES ${itemRow()} ON DUPLICATE KEY UPDATE v = v + 1000`
        : `INSERT INTO items (grp, tag, v) VALUES ${itemRow()} ON CONFLICT (grp, tag) DO UPDATE SET v = v + 1000`
    case 10:
      return `REPLACE INTO kv (id, k, v, note) VALUES ${kvRow()}`
    case 22:
    case 23: {
      // An upsert that often finds its row already holding the value: it changes nothing and generates no id.
      const row = `(${g.int(1, 8)}, 't${g.int(0, 24)}', ${g.int(0, 1)})`
      return kind === 'mysql'
        ? `INSERT INTO items (grp, tag, v) VALUES ${row} ON DUPLICATE KEY UPDATE v = VALUES(v)`
        : `INSERT INTO items (grp, tag, v) VALUES ${row} ON CONFLICT (grp, tag) DO UPDATE SET v = excluded.v`
    }
    case 24:
      return `INSERT INTO items (id, grp, tag, v) VALUES (${g.int(401, 2000)}, ${g.int(1, 8)}, 'w${g.int(0, 99)}', ${g.int(2, 999)})`
    case 25:
      // The master's clock, which slaves must replay rather than read their own.
      return kind === 'mysql'
        ? `UPDATE kv SET note = CAST(NOW(6) AS CHAR) WHERE id BETWEEN ${g.int(1, 150)} AND ${g.int(1, 150)}`
        : `UPDATE kv SET note = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id BETWEEN ${g.int(1, 150)} AND ${g.int(1, 150)}`
    case 26:
      // Random values, which the master writes as literals.
      return kind === 'mysql'
        ? `INSERT INTO kv (id, k, v, note) VALUES (${g.int(1, 150)}, ${g.int(1, 300)}, FLOOR(RAND() * 1000), UUID())`
        : `INSERT INTO kv (id, k, v, note) VALUES (${g.int(1, 150)}, ${g.int(1, 300)}, abs(random()) % 1000, hex(randomblob(16)))`
    case 11:
    case 12:
      return `UPDATE kv SET v = (v * 3 + ${g.int(1, 9)}) % 1000, note = ${note} WHERE id = ${g.int(1, 150)}`
    case 13: {
      const [a, b] = range()
      return `UPDATE kv SET v = v + 1, note = ${note} WHERE id BETWEEN ${a} AND ${b} ORDER BY id ${dir()} LIMIT ${g.int(1, 5)}`
    }
    case 14:
      // May collide with another row's k: fails on purpose, as a whole statement.
      return `UPDATE kv SET k = k + ${g.int(1, 20)} WHERE id BETWEEN ${g.int(1, 150)} AND ${g.int(1, 150)} ORDER BY k DESC LIMIT ${g.int(1, 4)}`
    case 15:
      return `UPDATE items SET v = v + ${g.int(1, 9)} WHERE grp = ${g.int(1, 8)} ORDER BY id ${dir()} LIMIT ${g.int(1, 3)}`
    case 16:
      return `UPDATE items SET tag = 't${g.int(0, 24)}' WHERE id = ${g.int(1, 400)}`
    case 17:
      return g.chance(0.5)
        ? `DELETE FROM kv WHERE id = ${g.int(1, 150)}`
        : `DELETE FROM kv WHERE k BETWEEN ${g.int(1, 300)} AND ${g.int(1, 300)} ORDER BY k ${dir()} LIMIT ${g.int(1, 3)}`
    case 18:
      return `DELETE FROM items WHERE grp = ${g.int(1, 8)} ORDER BY id ${dir()} LIMIT ${g.int(1, 2)}`
    case 19: {
      const [a, b] = range()
      return `INSERT INTO copies (src, v) SELECT id, v FROM kv WHERE id BETWEEN ${a} AND ${b} ORDER BY id ${dir()} LIMIT ${g.int(1, 6)}`
    }
    case 21:
      if (!multi) return `UPDATE kv SET v = v + 1 WHERE id = ${g.int(1, 150)}`
      return `${statement(g, kind, client, i)}; ${statement(g, kind, client, i)}`
    default:
      return g.pick([
        `INSERT INTO kv (id, k, v) VALUES (${g.int(1, 150)}, ${g.int(1, 300)}, NULL)`,
        `INSERT INTO nowhere (id) VALUES (${g.int(1, 9)})`,
        `UPDATE items SET nosuch = 1 WHERE id = ${g.int(1, 400)}`,
      ])
  }
}

/** What one client sends next: a query (one statement, or two separated by ';'), or a transaction of single statements. */
type Step = { query: string } | { transaction: string[]; commit: boolean }

/** A client's next step: now and then a transaction of 2–5 statements that commits, or (one in five) rolls back. */
function step(g: Gen, kind: Kind, client: number, i: number): Step {
  if (!g.chance(0.1)) return { query: statement(g, kind, client, i) }
  const transaction = Array.from({ length: g.int(2, 5) }, () => statement(g, kind, client, i, false))
  return { transaction, commit: !g.chance(0.2) }
}

function describeStep(s: Step): string {
  return 'query' in s ? s.query : `BEGIN; ${s.transaction.join('; ')}; ${s.commit ? 'COMMIT' : 'ROLLBACK'}`
}

/** What the clients' statements came to. */
interface Outcome {
  /** Writes the master acknowledged, by offset. */
  offsets: number[]
  /** Statements the store refused (duplicates, NOT NULL, unknown names). */
  failed: number
  /** Failed `a; b` queries: `a` may have committed without its answer reaching us. */
  partly: number
  /** Transactions committed with at least one write (each one entry), and rolled back. */
  committed: number
  rolledBack: number
}

/** True for an error a statement may meet on purpose: the store refused it (inside a transaction also: it was a deadlock victim, so the rest is refused). */
function expected(err: unknown): err is DdbError {
  return err instanceof DdbError && (err.code === 'STORE' || err.code === 'TRANSACTION_ABORTED')
}

/** Sends one step on `c`, adding what it came to to `outcome`. */
async function send(c: Client, s: Step, outcome: Outcome): Promise<void> {
  if ('query' in s) {
    try {
      for (const answer of await c.query(s.query)) {
        if (answer.kind === 'write') outcome.offsets.push(answer.offset)
      }
    } catch (err) {
      if (!expected(err) || err.code !== 'STORE') throw err
      outcome.failed++
      if (s.query.includes('; ')) outcome.partly++
    }
    return
  }
  expect(await c.query('BEGIN')).toEqual([{ kind: 'ok' }])
  let aborted = false
  for (const sql of s.transaction) {
    try {
      const [answer] = await c.query(sql)
      // Inside a transaction a write has no offset yet: COMMIT gives its entry one.
      if (answer?.kind === 'write') expect(answer.offset).toBe(0)
    } catch (err) {
      if (!expected(err)) throw err
      outcome.failed++
      // A deadlock victim's transaction is over, as in MySQL (InnoDB rolled it back): stop sending its statements.
      if (err.code === 'TRANSACTION_ABORTED' || /^Deadlock found/.test(err.message)) {
        aborted = true
        break
      }
    }
  }
  if (!s.commit || aborted) {
    expect(await c.query('ROLLBACK')).toEqual([{ kind: 'ok' }])
    outcome.rolledBack++
    return
  }
  // A transaction that lost its store connection can only roll back: its COMMIT says so, and logs nothing.
  const [answer] = await c.query('COMMIT').catch((err: unknown) => {
    if (!(err instanceof DdbError) || err.code !== 'TRANSACTION_ABORTED') throw err
    outcome.rolledBack++
    return [null]
  })
  if (answer === null) return
  if (answer?.kind === 'write') {
    outcome.offsets.push(answer.offset)
    outcome.committed++
  } else {
    expect(answer).toEqual({ kind: 'ok' }) // every statement in it failed: nothing to log
  }
}

/** Runs each client's statements on its own connection, all clients at once; calls `halfway` once half are done. */
async function runClients(master: DdbNode, plans: Step[][], halfway: () => void): Promise<Outcome> {
  const outcome: Outcome = { offsets: [], failed: 0, partly: 0, committed: 0, rolledBack: 0 }
  const total = plans.reduce((n, p) => n + p.length, 0)
  let done = 0
  await Promise.all(
    plans.map(async (plan) => {
      const c = await master.client()
      try {
        for (const s of plan) {
          try {
            await send(c, s, outcome)
          } catch (err) {
            // Statements the store refuses fail on purpose; anything else (unsafe, lost connection) is a bug.
            throw new Error(`${describeStep(s)}: ${(err as Error).message} (seed ${SEED})`, { cause: err })
          }
          if (++done === Math.floor(total / 2)) halfway()
        }
      } finally {
        c.close()
      }
    }),
  )
  return outcome
}

for (const [k, kind] of BACKEND_KINDS.entries()) {
  describe(`random DML on ${kind} stores`, () => {
    test(`${CLIENTS} concurrent clients, 2 slaves (one late) end equal to the master (seed ${SEED})`, async () => {
      console.log(`property test on ${kind}: seed ${SEED} (replay with DDB_SEED=${SEED})`)
      const plans = Array.from({ length: CLIENTS }, (_, client) => {
        const g = new Gen(SEED ^ Math.imul(client + 1, 0x9e3779b1) ^ (k << 24))
        return Array.from({ length: STEPS_PER_CLIENT }, (_, i) => step(g, kind, client, i))
      })
      await using cluster = await withCluster({ store: kind, slaves: 0 })
      const { master } = cluster
      const ddl = schema(kind)
      for (const sql of ddl) await write(master, sql)
      const early = await cluster.addSlave()
      const lateStore = await cluster.newStore()
      let late: Promise<DdbNode> | undefined
      const outcome = await runClients(master, plans, () => {
        late = cluster.addSlave({ store: lateStore })
      })
      const lateSlave = await late!
      console.log(
        `${kind}: ${outcome.offsets.length} writes acknowledged (${outcome.committed} of them transactions, ${outcome.rolledBack} rolled back), ${outcome.failed} statements refused by the store`,
      )
      // No gaps and nothing extra: one entry per acknowledged write, failed ones logged nowhere.
      const offset = await masterOffset(master)
      expect(new Set(outcome.offsets).size).toBe(outcome.offsets.length)
      expect(Math.min(...outcome.offsets)).toBe(ddl.length + 1)
      expect(Math.max(...outcome.offsets)).toBeLessThanOrEqual(offset)
      const unanswered = offset - ddl.length - outcome.offsets.length
      expect(unanswered).toBeGreaterThanOrEqual(0)
      expect(unanswered).toBeLessThanOrEqual(outcome.partly)
      expect(outcome.failed, 'some statements should fail on purpose').toBeGreaterThan(0)
      expect(outcome.offsets.length, 'most statements should succeed').toBeGreaterThan(outcome.failed)
      expect(outcome.committed, 'some transactions should commit').toBeGreaterThan(0)
      await expectSlavesEqualMaster(master, [early, lateSlave], kind)
    })
  })
}
