import type { Command } from 'commander'
import { formatHostPort, type HostPort, parseHostPort } from '../config.ts'
import { DdbError, formatError } from '../errors.ts'
import { Client } from '../wire/client.ts'
import type { NodeStatus } from '../wire/messages.ts'
import { printLine } from './print.ts'
import { hostPort, hostPorts, lookup, required, setting } from './settings.ts'

interface PromoteFlags {
  to?: string
  peers?: string
  force?: boolean
  secret?: string
}

/** What one node said, or why it could not be asked. */
type Answer = { address: string; status: NodeStatus } | { address: string; unreachable: string }

/**
 * `ddb promote --to SLAVE`: makes a slave the master, in place, at the next epoch. First it
 * asks every node it can reach (the slave's master, and --peers): it refuses while a master
 * still answers (two masters would take writes), or while another slave holds entries the
 * candidate lacks (with --sync-replicas, acknowledged writes among them); --force goes on,
 * saying what may be lost.
 */
export function registerPromote(program: Command): void {
  program
    .command('promote')
    .description('make a slave the master, in place (it checks first that no reachable node holds writes it lacks)')
    .option('--to <host:port>', 'the slave to promote (env DDB_TO; required)')
    .option(
      '--peers <host:port,…>',
      'the other nodes to ask before promoting: the slaves, the old master (env DDB_PEERS)',
    )
    .option('--force', 'promote even if a master still answers or a slave is ahead (what may be lost is printed)')
    .option('--secret <secret>', 'shared secret of the nodes (env DDB_SECRET)')
    .action(async (flags: PromoteFlags) => {
      const to = hostPort(required(flags.to, '--to', 'DDB_TO'))
      const secret = setting(flags.secret, 'DDB_SECRET', '')
      const peersText = lookup(flags.peers, '--peers', 'DDB_PEERS', '')
      const candidate = await ask(to, secret)
      if ('unreachable' in candidate) throw new DdbError('UNREACHABLE', candidate.unreachable)
      const { status } = candidate
      if (status.role !== 'slave') throw new DdbError('NOT_SLAVE', `${candidate.address} is a master already`)
      if (status.stopped)
        throw new DdbError('PROMOTE_REFUSED', `${candidate.address} has stopped applying: ${status.error}`)
      // Each node once, by address: the peers and the master the candidate follows, not the candidate.
      const others = new Map<string, HostPort>()
      for (const p of [...(peersText.text ? hostPorts(peersText) : []), parseHostPort(status.master, 'master')])
        if (formatHostPort(p) !== candidate.address) others.set(formatHostPort(p), p)
      const answers = await Promise.all([...others.values()].map((p) => ask(p, secret)))
      const problems = objections(status, answers)
      for (const a of answers) if ('unreachable' in a) warn(`not checked: ${a.unreachable}`)
      if (problems.length > 0 && !flags.force)
        throw new DdbError('PROMOTE_REFUSED', `not promoting ${candidate.address}: ${problems.join('; ')}`, {
          hint: '--force promotes anyway, losing what the candidate lacks',
        })
      for (const p of problems) warn(`warning (--force): ${p}`)
      const client = await Client.connect(to, secret)
      try {
        const { epoch, offset } = await client.promote()
        await printLine(
          `promoted ${candidate.address}: it is the master now, at epoch ${epoch}, its log at offset ${offset}`,
        )
      } finally {
        client.close()
      }
    })
}

/** Why promoting the candidate (a slave at `status`) could lose writes or split the cluster in two, by what the others said. */
function objections(candidate: Extract<NodeStatus, { role: 'slave' }>, answers: Answer[]): string[] {
  const problems: string[] = []
  const held = candidate.log?.offset ?? candidate.applied
  for (const a of answers) {
    if ('unreachable' in a) continue
    const s = a.status
    if (s.role === 'master' && !s.readOnly?.includes('fenced'))
      problems.push(`the master at ${a.address} still answers (offset ${s.offset}): stop it first`)
    if (s.role === 'slave' && s.log && s.log.id === candidate.log?.id && s.log.offset > held)
      problems.push(
        `slave ${a.address} holds entries up to ${s.log.offset}, the candidate up to ${held} (${s.log.offset - held} would be lost): promote it instead`,
      )
  }
  return problems
}

async function ask(address: HostPort, secret: string): Promise<Answer> {
  const where = formatHostPort(address)
  try {
    const client = await Client.connect(address, secret)
    try {
      return { address: where, status: await client.status() }
    } finally {
      client.close()
    }
  } catch (err) {
    return { address: where, unreachable: `${where}: ${formatError(err)}` }
  }
}

function warn(line: string): void {
  process.stderr.write(`ddb: ${line}\n`)
}
