/**
 * The faults a chaos run injects, one at a time, each injected, held and
 * healed before the next. Each returns what it did, in a few words; what it
 * finds wrong on the way (a node that does not come back or stops answering, a
 * full log disk that does not degrade as it should) it reports as a violation.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import mysql from 'mysql2/promise'
import type { Cluster } from './cluster.ts'
import { attack, type PortKind } from './garbage.ts'
import { type ChaosNode, STATUS_TIMEOUT_MS, withTimeout } from './nodes.ts'
import { ROWS_TABLE } from './readers.ts'
import type { Settings } from './settings.ts'
import { freeBytes, rssOf, sh } from './system.ts'
import type { Writers } from './writers.ts'

export const FAULT_KINDS = [
  'kill-master',
  'kill-slave',
  'stop-node',
  'cut-link',
  'kill-store',
  'disk-full',
  'garbage',
] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

export interface FaultContext {
  cluster: Cluster
  writers: Writers
  settings: Settings
  violation(check: string, message: string): void
  /** Adds to one of the store's figures (printed with the results), or raises it to `max`. */
  figure(name: string, add: number, how?: 'sum' | 'max'): void
  progress(message: string): void
}

/** Whether a fault applies to a store kind (the master's mariadbd exists only on MySQL). */
export function appliesTo(kind: FaultKind, store: Cluster['kind']): boolean {
  return kind !== 'kill-store' || store === 'mysql'
}

export const FAULTS: Record<FaultKind, (ctx: FaultContext) => Promise<string>> = {
  async 'kill-master'(ctx) {
    const down = hold(ctx)
    await ctx.cluster.master.kill9()
    await Bun.sleep(down)
    await restart(ctx, ctx.cluster.master)
    return `kill -9 master, down ${down} ms`
  },

  async 'kill-slave'(ctx) {
    const slave = pick(ctx.cluster.slaves)
    const down = hold(ctx)
    await slave.kill9()
    await Bun.sleep(down)
    await restart(ctx, slave)
    return `kill -9 ${slave.name}, down ${down} ms`
  },

  async 'stop-node'(ctx) {
    const node = pick(ctx.cluster.nodes)
    const held = hold(ctx)
    node.pause()
    await Bun.sleep(held)
    node.resume()
    return `SIGSTOP ${node.name} for ${held} ms`
  },

  async 'cut-link'(ctx) {
    const both = Math.random() < 0.3
    const nets = both ? ctx.cluster.nets : [pick(ctx.cluster.nets)]
    const held = 2 * hold(ctx)
    for (const ns of nets) ns.cutLink()
    await Bun.sleep(held)
    for (const ns of nets) ns.healLink()
    return `cut ${both ? 'both slaves’ links' : `the link of ${ns(ctx, nets[0]!)}`} for ${held} ms`
  },

  async 'kill-store'(ctx) {
    const server = ctx.cluster.masterServer!
    const down = hold(ctx)
    await server.crash()
    await Bun.sleep(down)
    await server.restart()
    return `kill -9 the master's mariadbd, down ${down} ms`
  },

  'disk-full': diskFull,

  async garbage(ctx) {
    const targets: Array<[string, PortKind]> = ctx.cluster.nodes.flatMap((n) => [
      [n.spec.address, 'ddb'] as [string, PortKind],
      [n.spec.mysql, 'mysql'] as [string, PortKind],
      [n.spec.http, 'http'] as [string, PortKind],
    ])
    const rss0 = ctx.cluster.nodes.map((n) => rssOf(n.pid))
    const peak = [...rss0]
    const attacks = targets.map(([address, kind]) => attack(address, kind, ctx.settings.garbagePerPort))
    const until = Date.now() + 3 * hold(ctx)
    try {
      while (Date.now() < until) {
        await Bun.sleep(1_000)
        ctx.cluster.nodes.forEach((n, i) => {
          peak[i] = Math.max(peak[i]!, rssOf(n.pid))
        })
        // Everyone else must still be served: a fresh client on each port of each node.
        for (const node of ctx.cluster.nodes) {
          for (const failure of await probe(node)) ctx.violation('unresponsive', `under garbage: ${failure}`)
        }
      }
    } finally {
      for (const a of attacks) a.stop()
    }
    const connections = attacks.reduce((sum, a) => sum + a.connections, 0)
    ctx.figure('garbage connections', connections)
    ctx.figure(
      'peak RSS growth of a node under garbage, MiB',
      Math.max(...peak.map((p, i) => (p - rss0[i]!) / 2 ** 20)),
      'max',
    )
    const growth = ctx.cluster.nodes.map((n, i) => `${n.name} +${mib(peak[i]! - rss0[i]!)}`).join(', ')
    return `${connections} garbage connections on ${targets.length} ports; peak RSS growth ${growth}`
  },
}

/**
 * Fills the master's log disk with a ballast file, holds it full, then frees
 * it. Expected (issue 11, part 3): the master stays up; the batch the log could
 * not take waits for the log (as MySQL waits on a full binlog disk), every
 * other write is refused with an error; reads and status go on; writing
 * resumes by itself once space returns.
 */
async function diskFull(ctx: FaultContext): Promise<string> {
  const { master, logDisk } = ctx.cluster
  const ledger = ctx.writers.ledger
  const ballast = join(logDisk, 'ballast')
  const refused0 = ledger.refused
  // dd stops at ENOSPC with the disk full to the last block.
  sh(['dd', 'if=/dev/zero', `of=${ballast}`, 'bs=1M'], { check: false, quiet: true })
  const free = freeBytes(logDisk)
  const filledAt = Date.now()
  const seen: string[] = []
  // SQLite reuses its WAL file's space, so a full disk bites only once the log must grow: give it time.
  const deadline = filledAt + Math.max(20_000, 6 * ctx.settings.holdMs[1])
  // Bitten: a write refused, or no acknowledgement for 2 s (the writers wait on the held batch).
  const bitten = () =>
    ledger.refused > refused0 || Date.now() - Math.max(ledger.lastAckAt, filledAt) > 2_000 || !master.alive
  while (Date.now() < deadline && !bitten()) await Bun.sleep(200)
  if (master.alive && bitten()) {
    // Keep it full a while: a degraded master must refuse a new write and go on serving reads and status.
    await Bun.sleep(hold(ctx))
    const write = await ctx.writers.once(5_000)
    if (write.outcome !== 'failed')
      ctx.violation(
        'disk-full',
        `with the log disk full, a new write was ${write.outcome === 'acked' ? 'acknowledged' : `not answered: ${write.error}`}`,
      )
    else seen.push(`a new write was refused (${write.error.slice(0, 120)})`)
    const failures = await probe(master)
    for (const f of failures) ctx.violation('disk-full', `with the log disk full, ${f}`)
    seen.push(`reads and status ${failures.length === 0 ? 'served' : 'NOT served'}`)
  }
  const died = !master.alive
  rmSync(ballast, { force: true })
  const freedAt = Date.now()
  if (died) {
    // Its log is shown with the crash.
    ctx.violation('disk-full', 'the master exited when its log disk filled (expected: refuse writes, stay up)')
    seen.push('master exited')
    await restart(ctx, master)
  } else if (!bitten()) {
    // Not ddb's fault: the log never needed a new block. Counted, so a run where it never bites shows.
    seen.push(`the log never needed space (${free} bytes were free) and went on taking writes`)
    ctx.figure('disk-full faults that did not bite', 1)
  } else {
    seen.push(`${ledger.refused - refused0} writes refused in ${Math.round((freedAt - filledAt) / 1000)} s`)
    ctx.figure('disk-full faults that made the master read-only', 1)
  }
  // Writing must resume by itself once space is back.
  const resumed = await waitUntil(() => ledger.lastAckAt > freedAt, 30_000)
  if (resumed) seen.push(`writes resumed ${ledger.lastAckAt - freedAt} ms after space returned`)
  else ctx.violation('disk-full', 'no write was acknowledged in the 30 s after the log disk had space again')
  return `log disk full: ${seen.join('; ')}`
}

/** Restarts a node we stopped; one that will not start is a violation (and the run goes on without it). */
export async function restart(ctx: FaultContext, node: ChaosNode): Promise<void> {
  try {
    await node.start()
  } catch (err) {
    ctx.violation('restart', `${node.name} did not come back: ${(err as Error).message.slice(0, 2_000)}`)
  }
}

/** What a node fails to serve: status on a fresh ddb connection, a read on its MySQL port, GET /status. */
export async function probe(node: ChaosNode): Promise<string[]> {
  if (!node.alive || node.paused) return []
  const failures: string[] = []
  const at = (what: string, err: unknown) => failures.push(`${node.name} ${what}: ${(err as Error).message}`)
  try {
    const c = await node.connect()
    try {
      await withTimeout(c.status(), STATUS_TIMEOUT_MS, 'status')
    } finally {
      c.close()
    }
  } catch (err) {
    at('ddb port status', err)
  }
  try {
    const [host, port] = node.spec.mysql.split(':')
    const c = await mysql.createConnection({
      host,
      port: Number(port),
      user: 'root',
      connectTimeout: STATUS_TIMEOUT_MS,
    })
    c.on('error', () => {})
    try {
      await withTimeout(c.query(`SELECT COUNT(*) AS n FROM ${ROWS_TABLE}`), STATUS_TIMEOUT_MS, 'read')
    } finally {
      c.destroy()
    }
  } catch (err) {
    at('MySQL port read', err)
  }
  try {
    const r = await fetch(`http://${node.spec.http}/status`, { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) })
    if (!r.ok) throw new Error(`HTTP ${r.status}`)
  } catch (err) {
    at('HTTP GET /status', err)
  }
  return failures
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!
const hold = (ctx: FaultContext) => {
  const [from, to] = ctx.settings.holdMs
  return Math.round(from + Math.random() * (to - from))
}
const ns = (ctx: FaultContext, net: Cluster['nets'][number]) => ctx.cluster.slaves[ctx.cluster.nets.indexOf(net)]!.name
const mib = (bytes: number) => `${Math.max(0, Math.round(bytes / 2 ** 20))} MiB`

async function waitUntil(fn: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!fn()) {
    if (Date.now() > deadline) return false
    await Bun.sleep(100)
  }
  return true
}
