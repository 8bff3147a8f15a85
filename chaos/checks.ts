/**
 * The checks, judged on what the direct readers see (never through ddb):
 * - lost: an acknowledged row missing or with another value, or a counter below its acknowledged increments;
 * - phantom: a row whose write got an error, or that nobody wrote, is present;
 * - double-applied: a counter above its acknowledged plus unknown increments;
 * - log: offsets 1..N with no hole, every checksum valid, every acknowledged
 *   write's offset holding that write;
 * - diverged: a slave's rows or counters differ from the master's once it has caught up.
 * The pure functions take the ledger and the contents; checkCluster reads the stores.
 */
import type { Cluster } from './cluster.ts'
import { type LogScan, type StoreContent, scanLog } from './readers.ts'
import type { Ledger } from './writers.ts'

export const CHECKS = ['lost', 'phantom', 'double-applied', 'log', 'diverged'] as const
export type Check = (typeof CHECKS)[number]

/** How many violations each check found; with a few examples each. */
export type Findings = Record<Check, number> & { examples: string[] }

export function noFindings(): Findings {
  return { lost: 0, phantom: 0, 'double-applied': 0, log: 0, diverged: 0, examples: [] }
}

/** How many examples of each finding are kept. */
const EXAMPLES = 5

function found(f: Findings, check: Check, example: () => string): void {
  f[check]++
  if (f.examples.filter((e) => e.startsWith(`${check}:`)).length < EXAMPLES) f.examples.push(`${check}: ${example()}`)
}

/** Rows and counters of one store against the ledger. */
export function checkStore(node: string, ledger: Ledger, content: StoreContent, f: Findings): void {
  const written = new Set<number>([0]) // the seed row
  for (const r of ledger.rows) {
    written.add(r.id)
    const v = content.rows.get(r.id)
    if (r.outcome === 'acked' && v !== r.v)
      found(
        f,
        'lost',
        () =>
          `${node}: acked row ${r.id} (offset ${r.offset}) is ${v === undefined ? 'missing' : `"${v}", not "${r.v}"`}`,
      )
    if (r.outcome === 'failed' && v !== undefined)
      found(f, 'phantom', () => `${node}: row ${r.id}, whose write failed, is present`)
  }
  for (const id of content.rows.keys())
    if (!written.has(id)) found(f, 'phantom', () => `${node}: row ${id} was never written`)
  for (const [id, c] of ledger.counters) {
    const n = content.counters.get(id) ?? 0
    if (n < c.acked) found(f, 'lost', () => `${node}: counter ${id} is ${n}, below its ${c.acked} acked increments`)
    if (n > c.acked + c.unknown)
      found(
        f,
        'double-applied',
        () => `${node}: counter ${id} is ${n}, above ${c.acked} acked + ${c.unknown} unknown increments`,
      )
  }
}

/** The log's shape, and every acknowledged write in it at its offset. */
export function checkLog(ledger: Ledger, scan: LogScan, f: Findings): void {
  if (scan.gapCount > 0) found(f, 'log', () => `${scan.gapCount} offsets missing, first ${scan.gaps.join(', ')}`)
  if (scan.corruptCount > 0)
    found(f, 'log', () => `${scan.corruptCount} entries fail their checksum: ${scan.corrupt.join(', ')}`)
  if (scan.entries !== scan.last) found(f, 'log', () => `${scan.entries} entries for offsets 1..${scan.last}`)
  for (const r of ledger.rows) {
    if (r.outcome !== 'acked') continue
    const statements = scan.statements.get(r.offset ?? 0)
    if (!statements?.includes(r.v))
      found(
        f,
        'log',
        () =>
          `acked row ${r.id} was answered with offset ${r.offset}, which ${statements ? 'holds another write' : 'the log lacks'}`,
      )
  }
}

/** A slave's content against the master's. */
export function compareStores(slave: string, master: StoreContent, copy: StoreContent, f: Findings): void {
  for (const [id, v] of master.rows)
    if (copy.rows.get(id) !== v)
      found(f, 'diverged', () => `${slave}: row ${id} is ${copy.rows.get(id) ?? 'missing'}, master has ${v}`)
  for (const id of copy.rows.keys())
    if (!master.rows.has(id)) found(f, 'diverged', () => `${slave}: row ${id} is not on the master`)
  for (const [id, n] of master.counters)
    if (copy.counters.get(id) !== n)
      found(f, 'diverged', () => `${slave}: counter ${id} is ${copy.counters.get(id)}, master has ${n}`)
}

/** Every check on a quiet cluster (writers held, slaves caught up): the log, then each store, then each slave against the master. */
export async function checkCluster(cluster: Cluster, ledger: Ledger): Promise<Findings> {
  const f = noFindings()
  const offsets = new Set(ledger.rows.flatMap((r) => (r.outcome === 'acked' && r.offset ? [r.offset] : [])))
  checkLog(ledger, scanLog(cluster.logPath, offsets), f)
  const contents = await Promise.all(cluster.readers.map((r) => r.read()))
  for (const [i, r] of cluster.readers.entries()) {
    checkStore(r.name, ledger, contents[i]!, f)
    if (i > 0) compareStores(r.name, contents[0]!, contents[i]!, f)
  }
  return f
}

/** Adds `more` into `total`. */
export function addFindings(total: Findings, more: Findings): void {
  for (const c of CHECKS) total[c] += more[c]
  total.examples.push(...more.examples)
}
