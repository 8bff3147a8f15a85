import type { Command } from 'commander'
import { DEFAULT_MASTER_LISTEN } from '../config.ts'
import { DdbError } from '../errors.ts'
import { Client } from '../wire/client.ts'
import type { NodeStatus, ReplicaStatus, SnapshotLoadStatus, SyncStatus } from '../wire/messages.ts'
import { formatTable } from './print.ts'
import { hostPort, lookup, setting } from './settings.ts'

/**
 * `ddb status`: a node's offset, its slaves (master) or its master and lag
 * (slave). Exits 1 after printing when the node, or one of its slaves, has
 * stopped applying, so a script or a monitor need not read the output.
 */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description(
      "show a node's replication status (exit status 1 if it or a slave has stopped applying, or the master is read-only)",
    )
    .option('--to <host:port>', `the node to ask (env DDB_TO; default ${DEFAULT_MASTER_LISTEN})`)
    .option('--json', 'print the status as one JSON value')
    .option('--secret <secret>', 'shared secret of the node (env DDB_SECRET)')
    .action(async (flags: { to?: string; json?: boolean; secret?: string }) => {
      const client = await Client.connect(
        hostPort(lookup(flags.to, '--to', 'DDB_TO', DEFAULT_MASTER_LISTEN)),
        setting(flags.secret, 'DDB_SECRET', ''),
      )
      let status: NodeStatus
      try {
        status = await client.status()
      } finally {
        client.close()
      }
      console.log(flags.json ? JSON.stringify(status) : formatStatus(status))
      const stopped = stoppedError(status)
      if (stopped) throw new DdbError('REPLICATION_STOPPED', stopped)
    })
}

/** True when applying has stopped for good (older nodes send no `stopped`: their error meant just that). */
const hasStopped = (s: { stopped?: boolean; error: string | null }) => s.stopped ?? s.error !== null

/** Why `ddb status` exits 1: the slave, or a master's slave, has stopped applying, or the master is read-only; null when all is well. */
export function stoppedError(s: NodeStatus): string | null {
  if (s.role === 'slave') return hasStopped(s) ? `this slave has stopped applying: ${s.error}` : null
  if (s.readOnly) return `this master is read-only: ${s.readOnly}`
  const stopped = s.replicas.filter(hasStopped)
  const [first] = stopped
  if (!first) return null
  const more = stopped.length > 1 ? ` (and ${stopped.length - 1} more)` : ''
  return `slave ${first.id} has stopped applying: ${first.error}${more}`
}

/** Lag for a person: "unknown" while disconnected. */
function lag(r: Pick<ReplicaStatus, 'lagEntries' | 'lagSeconds'>): string {
  if (r.lagEntries === null || r.lagSeconds === null) return 'unknown'
  return `${r.lagEntries} entries, ${r.lagSeconds.toFixed(1)} s`
}

/** A slave's snapshot load for a person: how far, how fast. */
function snapshotProgress(p: SnapshotLoadStatus): string {
  return `loading, ${p.percent}% (${p.rows} of ~${p.rowsEstimate} rows, ${(p.bytes / 1e6).toFixed(1)} MB, ${p.rowsPerSecond} rows/s) at offset ${p.offset}`
}

/** Synchronous replication for a person: what writes wait for, and whether they do now. */
function syncState(s: SyncStatus): string {
  const state =
    s.state === 'fallen-back'
      ? 'FALLEN BACK to asynchronous (no slaves acknowledged in time; synchronous again once enough are at the head)'
      : `synchronous${s.waiting > 0 ? `, ${s.waiting} writes waiting` : ''}`
  return `${s.replicas} slave(s) must apply each write; ${state}; on a ${s.timeoutMs} ms timeout: ${s.fallback}; fell back ${s.fallbacks} time(s)`
}

/** `ddb status` for a person. */
export function formatStatus(s: NodeStatus): string {
  if (s.role === 'slave') {
    return [
      `role       slave`,
      `master     ${s.master} (${s.connected ? 'connected' : 'disconnected'})`,
      `applied    ${s.applied}${hasStopped(s) ? ' (stopped applying)' : ''}`,
      `lag        ${lag(s)}`,
      `store      ${s.store}`,
      ...(s.log ? [`log        ${s.log.path} (entries ${s.log.start + 1}..${s.log.offset} of ${s.log.id})`] : []),
      ...(s.epoch ? [`epoch      ${s.epoch}`] : []),
      ...(s.replicas?.length
        ? [`slaves     ${s.replicas.map((r) => `${r.id} at ${r.applied}`).join(', ')} (cascade)`]
        : []),
      ...(s.filters?.replicateDb.length ? [`replicate  ${s.filters.replicateDb.join(', ')}`] : []),
      ...(s.filters?.ignoreDb.length ? [`ignore     ${s.filters.ignoreDb.join(', ')}`] : []),
      ...(s.snapshot ? [`snapshot   ${snapshotProgress(s.snapshot)}`] : []),
      ...(s.error ? [`error      ${s.error}`] : []),
    ].join('\n')
  }
  const head = [
    `role       master`,
    `offset     ${s.offset}`,
    `log        ${s.logId}`,
    ...(s.epoch ? [`epoch      ${s.epoch}`] : []),
    `store      ${s.store}`,
    ...(s.logStart ? [`log start  after offset ${s.logStart} (older entries pruned, or data adopted)`] : []),
    ...(s.readOnly ? [`read-only  ${s.readOnly}`] : []),
    ...(s.sync && s.sync.replicas > 0 ? [`sync       ${syncState(s.sync)}`] : []),
  ]
  if (s.replicas.length === 0) return [...head, 'replicas   none'].join('\n')
  const rows = s.replicas.map((r) => [
    r.id,
    r.address,
    r.applied,
    r.lagEntries ?? 'unknown',
    r.lagSeconds?.toFixed(1) ?? 'unknown',
    r.snapshot
      ? `yes, sending a snapshot (${r.snapshot.rowsSent} of ~${r.snapshot.rowsEstimate} rows)`
      : r.connected
        ? 'yes'
        : 'no',
    r.connected || r.lastSeen === undefined ? '' : new Date(r.lastSeen).toISOString(),
    r.error ?? '',
  ])
  return [
    ...head,
    formatTable(['id', 'address', 'applied', 'lag (entries)', 'lag (s)', 'connected', 'last seen', 'error'], rows),
  ].join('\n')
}
