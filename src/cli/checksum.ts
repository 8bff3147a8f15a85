import type { Command } from 'commander'
import { compareChecksums, type TableChecksum, type TableDifference } from '../checksum.ts'
import { DEFAULT_MASTER_LISTEN } from '../config.ts'
import { DdbError } from '../errors.ts'
import { Client } from '../wire/client.ts'
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
      const slaves: Array<{ address: string; client: Client }> = []
      try {
        const status = await master.status()
        if (status.role !== 'master') throw new DdbError('USAGE', 'ddb checksum --to takes the master, not a slave')
        const addresses = flags.slave ?? status.replicas.filter((r) => r.connected).map((r) => r.address)
        for (const address of addresses)
          slaves.push({
            address,
            client: await Client.connect(hostPort({ text: address, name: '--slave', where: '' }), secret),
          })
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

interface ChecksumReport {
  offset: number
  slaves: string[]
  tables: Array<{ table: string; rows: number; differences: Array<{ slave: string; reason: string }> }>
}

async function checksumAll(
  master: Client,
  slaves: Array<{ address: string; client: Client }>,
): Promise<ChecksumReport> {
  // Slaves first, so none can pass the offset the master's read is taken at.
  for (const s of slaves) await s.client.checksumOpen()
  const { offset, token } = await master.checksumOpen()
  process.stderr.write(`checksumming the master and ${slaves.length} slave(s) at offset ${offset}…\n`)
  const [ours, ...theirs] = await Promise.all([
    master.checksum({ token }),
    ...slaves.map(async (s) => {
      const result = await s.client.checksum({ offset })
      process.stderr.write(`  slave ${s.address}: ${result.tables.length} tables checksummed\n`)
      return result
    }),
  ])
  const name = (t: TableChecksum) => (t.db === null ? t.name : `${t.db}.${t.name}`)
  const differences: TableDifference[][] = theirs.map((t) => compareChecksums(ours!.tables, t.tables))
  const tables = ours!.tables.map((t) => ({
    table: name(t),
    rows: t.rows,
    differences: [] as ChecksumReport['tables'][0]['differences'],
  }))
  for (const [i, found] of differences.entries()) {
    for (const d of found) {
      let row = tables.find((t) => t.table === d.table)
      if (!row) {
        row = { table: d.table, rows: 0, differences: [] }
        tables.push(row)
      }
      row.differences.push({ slave: slaves[i]!.address, reason: d.reason })
    }
  }
  return { offset, slaves: slaves.map((s) => s.address), tables }
}

async function report(result: ChecksumReport, json: boolean): Promise<void> {
  if (json) return printLine(JSON.stringify(result))
  for (const t of result.tables) {
    if (t.differences.length === 0) await printLine(`${t.table}: equal (${t.rows} rows)`)
    for (const d of t.differences) await printLine(`${t.table}: DIFFERS on slave ${d.slave}: ${d.reason}`)
  }
  if (result.slaves.length === 0) await printLine('no slave to compare with (none is connected to the master)')
}
