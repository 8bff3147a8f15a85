/**
 * `bun run chaos [--quick|--full] [--faults a,b] [--stores sqlite,mysql] [--minutes M] [--binary FILE] [--self-test]`
 *
 * Runs the compiled ddb (a master and two slaves, each slave in a network
 * namespace of its own) on a SQLite and then a MySQL store, under concurrent
 * writers that record every acknowledgement, and injects faults one at a time
 * (faults.ts). At quiet points and at the end it holds the writers, waits for
 * the slaves, and checks the stores and the log with readers that never go
 * through ddb (checks.ts). Prints the figures, writes RELIABILITY.md after a
 * full run of everything, and exits 1 on any violation. Needs root (ip netns,
 * mount). --self-test damages the stores and the log on purpose at the end and
 * passes only if every check catches its damage.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildDdb } from '../bench/nodes.ts'
import { count, every, progress } from '../bench/progress.ts'
import { guardTempDir, Resources } from '../bench/resources.ts'
import { addFindings, CHECKS, checkCluster, type Findings, noFindings } from './checks.ts'
import { type Cluster, type StoreKind, startCluster } from './cluster.ts'
import { appliesTo, FAULT_KINDS, FAULTS, type FaultContext, type FaultKind, restart } from './faults.ts'
import { NETNS_TAG } from './netns.ts'
import type { Crash } from './nodes.ts'
import { logLast } from './readers.ts'
import { clean, renderResults, type StoreResult, writeReliability } from './report.ts'
import { selfTestDamage, selfTestVerdict } from './self-test.ts'
import { FULL, QUICK, type Settings } from './settings.ts'
import { afterExit } from './system.ts'
import { Writers } from './writers.ts'

const STORES: StoreKind[] = ['sqlite', 'mysql']
const USAGE =
  'usage: bun run chaos [--quick|--full] [--faults kill-master,...] [--stores sqlite,mysql] [--minutes M] [--binary FILE] [--self-test]'
/** How long slaves may take to catch up at a quiet point. */
const CATCH_UP_MS = 180_000

interface Options {
  settings: Settings
  faults: FaultKind[]
  stores: StoreKind[]
  selfTest: boolean
  /** A ddb binary to run instead of building one from the working tree (copied: the guard kills processes of the copy). */
  binary?: string
  /** Whether this run is the release run whose figures RELIABILITY.md keeps. */
  release: boolean
}

function parseArgs(args: string[]): Options {
  const value = (flag: string) => {
    const i = args.indexOf(flag)
    if (i < 0) return undefined
    const v = args[i + 1]
    if (!v || v.startsWith('--')) throw new Error(`${flag} needs a value`)
    args.splice(i, 2)
    return v
  }
  const list = <T extends string>(flag: string, all: readonly T[]): T[] => {
    const v = value(flag)
    if (v === undefined) return [...all]
    const items = v.split(',') as T[]
    const bad = items.find((x) => !all.includes(x))
    if (bad) throw new Error(`${flag}: unknown ${bad} (one of ${all.join(', ')})`)
    return items
  }
  const selfTest = args.includes('--self-test')
  // The self-test's run must be clean before its damage: faults today's master survives, unless told otherwise.
  const faults = list('--faults', selfTest ? ['kill-master', 'kill-slave', 'stop-node'] : FAULT_KINDS)
  const stores = list('--stores', STORES)
  const minutes = value('--minutes')
  const binary = value('--binary')
  const flags = new Set(args)
  const unknown = [...flags].find((a) => !['--quick', '--full', '--self-test'].includes(a))
  if (unknown) throw new Error(`unknown argument ${unknown}`)
  const settings = { ...(flags.has('--quick') || selfTest ? QUICK : FULL) }
  if (selfTest) settings.faultMsPerStore = 15_000
  if (minutes) settings.faultMsPerStore = Number(minutes) * 60_000
  const release =
    settings.mode === 'full' && !selfTest && !minutes && faults.length === FAULT_KINDS.length && stores.length === 2
  return { settings, faults, stores, selfTest, release, binary }
}

async function main(argv: string[], resources: Resources): Promise<number> {
  let options: Options
  try {
    options = parseArgs([...argv])
  } catch (err) {
    process.stderr.write(`chaos: ${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('chaos: needs root (network namespaces, tmpfs mounts)\n')
    return 2
  }
  const started = Date.now()
  const dir = await mkdtemp(join(tmpdir(), 'ddb-chaos-'))
  // If this process is killed outright, its namespaces and mounts go too (guardTempDir kills the nodes and removes dir).
  afterExit(
    `for n in $(ip netns list | awk '{print $1}' | grep '^${NETNS_TAG}s'); do ip netns del "$n"; done; awk '$2 ~ "^${dir}/" {print $2}' /proc/mounts | xargs -r -n1 umount -l; sleep 2; rm -rf ${dir}`,
  )
  resources.defer('temp dir', () => rm(dir, { recursive: true, force: true }))
  progress(
    'setup',
    `${options.settings.mode} mode${options.selfTest ? ' (self-test)' : ''}; ${options.binary ? `running ${options.binary}` : 'building the ddb binary'}`,
  )
  let binary = join(dir, 'ddb')
  if (options.binary) await copyFile(options.binary, binary)
  else binary = await buildDdb(dir)
  guardTempDir(dir, binary)

  const results: StoreResult[] = []
  for (const kind of options.stores) {
    const local = new Resources()
    resources.defer(`${kind} cluster`, () => local.closeAll())
    results.push(await runStore(kind, binary, join(dir, kind), options, local))
    await local.closeAll()
  }

  const seconds = (Date.now() - started) / 1000
  const info = {
    mode: options.settings.mode,
    command: `bun run chaos${argv.length ? ` ${argv.join(' ')}` : ''}`,
    date: new Date().toISOString(),
    seconds,
    commit: options.binary ? `(the binary ${options.binary}, given with --binary)` : await commit(),
  }
  const report = renderResults(results, info)
  console.log(`\n${report}\n`)
  if (options.selfTest) return selfTestVerdict(results)
  const ok = results.every(clean)
  if (options.release) {
    writeReliability(report)
    progress('report', 'wrote RELIABILITY.md')
  } else {
    progress('report', 'not a full run of every fault on both stores: RELIABILITY.md left as it is')
  }
  progress('done', ok ? `no violation in ${Math.round(seconds)} s` : 'VIOLATIONS found (above)')
  return ok ? 0 : 1
}

/** One store's run: start the cluster and the writers, inject faults until time is up, check at quiet points and at the end. */
async function runStore(
  kind: StoreKind,
  binary: string,
  dir: string,
  options: Options,
  resources: Resources,
): Promise<StoreResult> {
  const { settings } = options
  const crashes: Crash[] = []
  const violations: StoreResult['violations'] = []
  const findings = noFindings()
  const faults = new Map<FaultKind, number>()
  const figures = new Map<string, number>()
  const say = (message: string) => progress(kind, message)
  const onCrash = (crash: Crash) => {
    crashes.push(crash)
    say(
      `CRASH: ${crash.node} exited on its own (${crash.code ?? crash.signal}); its log:\n${crash.log.trimEnd().split('\n').slice(-10).join('\n')}`,
    )
  }
  say(
    `starting a master and 2 slaves (slaves in network namespaces${kind === 'mysql' ? ', each node on its own mariadbd' : ''})`,
  )
  await Bun.$`mkdir -p ${dir}`.quiet()
  const cluster = await startCluster(kind, binary, dir, settings.logDiskMiB, resources, onCrash)
  const writers = new Writers({
    mysql: cluster.master.spec.mysql,
    ddb: cluster.master.spec.address,
    count: settings.writers,
    timeoutMs: 30_000,
  })
  await writers.start()
  resources.defer(`${kind} writers`, () => writers.stop())
  const ctx: FaultContext = {
    cluster,
    writers,
    settings,
    violation: (check, message) => {
      violations.push({ check, message })
      say(`VIOLATION ${check}: ${message}`)
    },
    figure: (name, add, how = 'sum') => {
      const old = figures.get(name) ?? 0
      figures.set(name, how === 'max' ? Math.max(old, add) : old + add)
    },
    progress: say,
  }

  const kinds = options.faults.filter((f) => appliesTo(f, kind))
  let current = 'starting'
  const began = Date.now()
  const w = writers.ledger.writes
  const stopTicker = every(5_000, () => {
    const problems = CHECKS.reduce((s, c) => s + findings[c], 0) + crashes.length + violations.length
    say(
      `${Math.round((Date.now() - began) / 1000)}/${settings.faultMsPerStore / 1000} s, ${current} | writes ${count(w.attempted)}: ${count(w.acked)} acked, ${count(w.failed)} failed, ${count(w.unknown)} unknown | offset ${count(lastOffset(cluster))} | faults ${count(sum(faults))} | violations ${problems}`,
    )
  })
  resources.defer('ticker', stopTicker)

  const deadline = began + settings.faultMsPerStore
  let quietPoints = 0
  let selfTest: StoreResult['selfTest']
  try {
    for (let n = 0; Date.now() < deadline && kinds.length > 0; n++) {
      await healCrashed(ctx)
      const fault = kinds[n % kinds.length]!
      current = `fault ${n + 1} ${fault}`
      const done = await FAULTS[fault](ctx)
      faults.set(fault, (faults.get(fault) ?? 0) + 1)
      say(`fault ${n + 1}: ${done}`)
      current = 'between faults'
      await Bun.sleep(settings.gapMs)
      if ((n + 1) % settings.checkEvery === 0 && Date.now() < deadline - 10_000) {
        current = `quiet point ${++quietPoints}`
        addFindings(findings, await quietCheck(ctx, `quiet point ${quietPoints}`))
        writers.resume()
      }
    }
    if (kinds.length === 0) await Bun.sleep(settings.faultMsPerStore)
    current = 'final check'
    await healCrashed(ctx)
    await writers.stop()
    if (options.selfTest) {
      // The run must be clean before the damage, so that what is found after it is the damage's.
      addFindings(findings, await quietCheck(ctx, 'before the damage'))
      const cleanBefore = CHECKS.every((c) => findings[c] === 0) && crashes.length === 0 && violations.length === 0
      const crashesBefore = crashes.length
      await selfTestDamage(cluster, writers.ledger, say)
      const after = await quietCheck(ctx, 'after the damage')
      addFindings(findings, after)
      selfTest = { cleanBefore, after, crashes: crashes.length - crashesBefore }
    } else {
      addFindings(findings, await quietCheck(ctx, 'final check'))
    }
  } finally {
    stopTicker()
  }
  const seconds = (Date.now() - began) / 1000
  say(`done in ${Math.round(seconds)} s`)
  return { kind, seconds, ledger: writers.ledger, faults, figures, findings, crashes, violations, selfTest }
}

/** Holds the writers, waits for the slaves to apply the whole log, and runs every check. */
async function quietCheck(ctx: FaultContext, what: string): Promise<Findings> {
  const say = ctx.progress
  say(`${what}: holding the writers`)
  await ctx.writers.pause()
  await catchUp(ctx)
  const f = await checkCluster(ctx.cluster, ctx.writers.ledger)
  const total = CHECKS.reduce((s, c) => s + f[c], 0)
  say(`${what}: ${total === 0 ? 'every check passed' : `${total} violations: ${f.examples.join('; ')}`}`)
  for (const e of f.examples) f.examples[f.examples.indexOf(e)] = `${e} (${what})`
  return f
}

/** Waits until each slave has applied the master's whole log; one that stopped with an error or never gets there is diverged. */
async function catchUp(ctx: FaultContext): Promise<void> {
  const { cluster } = ctx
  const last = logLast(cluster.logPath)
  const deadline = Date.now() + CATCH_UP_MS
  let lastSaid = 0
  for (const slave of cluster.slaves) {
    // A slave that is down has crashed (reported as such) and will not catch up.
    while (slave.alive) {
      const s = await slave.status().catch((err: Error) => ({ role: 'unreachable', error: err.message, applied: -1 }))
      const applied = 'applied' in s ? s.applied : -1
      if (applied >= last) break
      // Only a slave that stopped applying fails at once: a link problem (its master just came back, the
      // slave's back-off has not run out yet) is what catching up waits out.
      const stopped = s.role === 'slave' && 'stopped' in s && s.stopped === true
      if (Date.now() > deadline || stopped) {
        ctx.violation(
          'catch-up',
          `${slave.name} applied ${applied} of ${last}: ${('error' in s && s.error) || 'too slow'}`,
        )
        break
      }
      if (Date.now() - lastSaid > 5_000) {
        ctx.progress(`waiting for ${slave.name} to catch up: applied ${count(applied)} of ${count(last)}`)
        lastSaid = Date.now()
      }
      await Bun.sleep(100)
    }
  }
}

/** Starts any node that crashed (already reported), so the run goes on and can find more. */
async function healCrashed(ctx: FaultContext): Promise<void> {
  for (const node of ctx.cluster.nodes) if (!node.alive) await restart(ctx, node)
}

function lastOffset(cluster: Cluster): number {
  try {
    return logLast(cluster.logPath)
  } catch {
    return 0
  }
}

const sum = (m: Map<unknown, number>) => [...m.values()].reduce((a, b) => a + b, 0)

/** The commit the binary was built from, and whether ddb's sources had changes on top (others' work in progress). */
async function commit(): Promise<string> {
  const git = async (...args: string[]) =>
    (
      await Bun.$`git ${args}`
        .cwd(import.meta.dir)
        .quiet()
        .nothrow()
    ).stdout
      .toString()
      .trim()
  const [head, dirty] = await Promise.all([
    git('rev-parse', '--short', 'HEAD'),
    git('status', '--porcelain', '--', '../bin', '../src', '../package.json'),
  ])
  return head ? `${head}${dirty ? ' with uncommitted changes to bin/, src/ or package.json' : ''}` : 'unknown'
}

// An interrupted run still undoes everything: nodes, servers, namespaces, mounts, files.
const resources = new Resources()
let interrupted: number | null = null
const interrupt = (signal: string, exitStatus: number) => {
  if (interrupted !== null) return
  interrupted = exitStatus
  process.stderr.write(`\nchaos: ${signal}: stopping every process, removing namespaces, mounts and temp files\n`)
  void resources.closeAll().finally(() => process.exit(exitStatus))
}
process.on('SIGINT', () => interrupt('SIGINT', 130))
process.on('SIGTERM', () => interrupt('SIGTERM', 143))

const exitStatus = await main(process.argv.slice(2), resources).catch((err: Error) => {
  // After a signal, whatever was running fails as its processes go away: not news.
  if (interrupted === null) process.stderr.write(`\nchaos FAILED: ${err.stack ?? err}\n`)
  return 1
})
await resources.closeAll()
process.exit(interrupted ?? exitStatus)
