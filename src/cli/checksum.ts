import type { Command } from 'commander'
import { type ChecksumForm, compareChecksums, type TableChecksum, tableName } from '../checksum.ts'
import { DEFAULT_MASTER_LISTEN } from '../config.ts'
import { DdbError } from '../errors.ts'
import { databaseApplies } from '../slave/filter.ts'
import { Client } from '../wire/client.ts'
import type { ChecksumResult } from '../wire/messages.ts'
import { printLine } from './print.ts'
import { hostPort, lookup, setting } from './settings.ts'

interface ChecksumFlags {
  to?: string
  slave?: string[]
  json?: boolean
  secret?: string
}

/**
 * `ddb checksum`: compares every replicated table of the master and its slaves at one
 * offset, as pt-table-checksum does: the slaves stop applying a moment, the master opens a
 * consistent read at its offset, each slave applies up to exactly that offset and reads
 * there, and all compute chunked checksums meanwhile. Prints the tables that differ and
 * where they first differ; exits 1 on any difference.
 */
export function registerChecksum(program: Command): void {
  program
    .command('checksum')
    .description('compare the tables of a master and its slaves at the same offset (exit status 1 on a difference)')
    .option('--to <host:port>', `the master (env DDB_TO; default ${DEFAULT_MASTER_LISTEN})`)
    .option(
      '--slave <host:port>',
      "a slave's ddb port, repeatable (default: every slave connected to the master)",
      (v: string, all: string[] = []) => [...all, v],
    )
    .option('--json', 'print the result as one JSON value')
    .option('--secret <secret>', 'shared secret of the nodes (env DDB_SECRET)')
    .addHelpText('after', '\nNo environment variable: --slave, --json (they say what one run does).')
    .action(async (flags: ChecksumFlags) => {
      const secret = setting(flags.secret, 'DDB_SECRET', '')
      const master = await Client.connect(hostPort(lookup(flags.to, '--to', 'DDB_TO', DEFAULT_MASTER_LISTEN)), secret)
      const slaves: ChecksumSlave[] = []
      try {
        const status = await master.status()
        if (status.role !== 'master') throw new DdbError('USAGE', 'ddb checksum --to takes the master, not a slave')
        const addresses = flags.slave ?? status.replicas.filter((r) => r.connected).map((r) => r.address)
        const masterDialect = status.dialect ?? null
        for (const address of addresses) {
          const client = await Client.connect(hostPort({ text: address, name: '--slave', where: '' }), secret)
          const slave = { address, client, neutral: false }
          slaves.push(slave) // closed below even if its status fails
          const dialect = await dialectOf(client)
          slave.neutral = masterDialect !== null && dialect !== null && dialect !== masterDialect
        }
        const result = await checksumAll(master, slaves)
        await report(result, flags.json ?? false)
        const differing = result.tables.filter((t) => t.differences.length > 0)
        if (differing.length > 0)
          throw new DdbError('CHECKSUM_DIFFERS', `${differing.length} of ${result.tables.length} tables differ`)
      } finally {
        master.close()
        for (const s of slaves) s.client.close()
      }
    })
}

/** What `ddb checksum --json` prints. */
export interface ChecksumReport {
  offset: number
  slaves: string[]
  /** The slaves whose store is of another kind than the master's: compared in the neutral form. */
  neutral: string[]
  tables: Array<{
    table: string
    rows: number
    differences: Array<{ slave: string; reason: string }>
    /** The slaves whose filters leave the table's database out (not compared); absent when none does. */
    leftOut?: string[]
  }>
}

interface ChecksumSlave {
  address: string
  client: Client
  /** Its store speaks another dialect than the master's: both hash rows in the neutral form. */
  neutral: boolean
}

/** The SQL a node's store speaks, or null when the node is too old to say. */
async function dialectOf(client: Client): Promise<string | null> {
  return (await client.status()).dialect ?? null
}

async function checksumAll(master: Client, slaves: ChecksumSlave[]): Promise<ChecksumReport> {
  // Slaves first, so none can pass the offset the master's read is taken at.
  for (const s of slaves) await s.client.checksumOpen()
  const { offset, token } = await master.checksumOpen()
  process.stderr.write(`checksumming the master and ${slaves.length} slave(s) at offset ${offset}…\n`)
  const formOf = (s: ChecksumSlave): ChecksumForm => (s.neutral ? 'neutral' : 'raw')
  // The master takes every form its slaves need, in one pass over its rows.
  const masterForms = slaves.some((s) => s.neutral) ? [...new Set(slaves.map(formOf))] : ['raw' as const]
  const [ours, ...theirs] = await Promise.all([
    master.checksum({ token, ...(masterForms.includes('neutral') ? { forms: masterForms } : {}) }),
    ...slaves.map(async (s) => {
      const result = await s.client.checksum({ offset, ...(s.neutral ? { forms: ['neutral' as const] } : {}) })
      const count = (s.neutral ? result.neutral : result.tables)?.length ?? 0
      process.stderr.write(`  slave ${s.address}: ${count} tables checksummed${s.neutral ? ' (neutral form)' : ''}\n`)
      return result
    }),
  ])
  const tablesIn = (result: ChecksumResult, form: ChecksumForm, who: string): TableChecksum[] => {
    if (form === 'raw') return result.tables
    if (result.neutral) return result.neutral
    throw new DdbError(
      'CHECKSUM',
      `${who} did not answer in the neutral form a store of another kind needs (an older ddb): run the same ddb version on every node`,
    )
  }
  const tables: ChecksumReport['tables'] = tablesIn(ours!, masterForms[0]!, 'the master').map((t) => ({
    table: tableName(t),
    rows: t.rows,
    differences: [],
  }))
  const row = (table: string, rows = 0) => {
    let found = tables.find((t) => t.table === table)
    if (!found) {
      found = { table, rows, differences: [] }
      tables.push(found)
    }
    return found
  }
  for (const [i, s] of slaves.entries()) {
    const mine = tablesIn(ours!, formOf(s), 'the master')
    const filters = theirs[i]!.filters
    const holds = (db: string | null) => !filters || db === null || databaseApplies(filters, db)
    for (const t of mine) {
      if (holds(t.db)) continue
      const r = row(tableName(t), t.rows)
      r.leftOut = [...(r.leftOut ?? []), s.address]
    }
    for (const d of compareChecksums(mine, tablesIn(theirs[i]!, formOf(s), `slave ${s.address}`), holds))
      row(d.table).differences.push({ slave: s.address, reason: d.reason })
  }
  return {
    offset,
    slaves: slaves.map((s) => s.address),
    neutral: slaves.filter((s) => s.neutral).map((s) => s.address),
    tables,
  }
}

async function report(result: ChecksumReport, json: boolean): Promise<void> {
  if (json) return printLine(JSON.stringify(result))
  for (const t of result.tables) {
    const leftOut = t.leftOut ?? []
    if (result.slaves.length > 0 && leftOut.length === result.slaves.length)
      await printLine(`${t.table}: not compared (${t.rows} rows; the slaves' filters leave its database out)`)
    else if (t.differences.length === 0) {
      const but = leftOut.length > 0 ? `; not on slave ${leftOut.join(', ')}, whose filters leave it out` : ''
      await printLine(`${t.table}: equal (${t.rows} rows${but})`)
    }
    for (const d of t.differences) await printLine(`${t.table}: DIFFERS on slave ${d.slave}: ${d.reason}`)
  }
  if (result.slaves.length === 0) await printLine('no slave to compare with (none is connected to the master)')
}
