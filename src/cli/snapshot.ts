import { open, rename, rm } from 'node:fs/promises'
import { hostname } from 'node:os'
import type { Command } from 'commander'
import { DEFAULT_MASTER_LISTEN, formatHostPort } from '../config.ts'
import { DdbError, formatError, UsageError } from '../errors.ts'
import { snapshotFileHeader } from '../slave/snapshot-file.ts'
import { hello } from '../wire/handshake.ts'
import { isSnapshotMessage, type Message } from '../wire/messages.ts'
import type { Peer } from '../wire/peer.ts'
import { hostPort, lookup, setting } from './settings.ts'

/** How often the progress line is written, in ms. */
const PROGRESS_MS = 1_000

/**
 * `ddb snapshot --to MASTER --out FILE`: the snapshot a new slave would get (consistent,
 * at an exact offset), written to a file for offline provisioning or a backup; `ddb slave
 * --from-snapshot FILE` starts from it. Written to FILE.partial and renamed when whole,
 * so a file named FILE is always a complete snapshot.
 */
export function registerSnapshot(program: Command): void {
  program
    .command('snapshot')
    .description("write a consistent snapshot of the master's data to a file (for ddb slave --from-snapshot)")
    .option('--to <host:port>', `the master (env DDB_TO; default ${DEFAULT_MASTER_LISTEN})`)
    .option('--out <file>', 'the file to write (required)')
    .option('--secret <secret>', 'shared secret of the master (env DDB_SECRET)')
    .addHelpText('after', '\nNo environment variable: --out (it says what one run does).')
    .action(async (flags: { to?: string; out?: string; secret?: string }) => {
      const out = flags.out
      if (!out) throw new UsageError('missing --out', 'pass --out FILE: where to write the snapshot')
      const master = hostPort(lookup(flags.to, '--to', 'DDB_TO', DEFAULT_MASTER_LISTEN))
      await writeSnapshot(master, setting(flags.secret, 'DDB_SECRET', ''), out)
    })
}

async function writeSnapshot(master: { host: string; port: number }, secret: string, out: string): Promise<void> {
  const partial = `${out}.partial`
  const file = await open(partial, 'w')
  let rows = 0
  let estimate = 0
  let lastProgress = 0
  let chain = file.write(snapshotFileHeader(formatHostPort(master))).then(() => {})
  let finished!: (err: Error | null) => void
  const done = new Promise<Error | null>((resolve) => (finished = resolve))
  try {
    // Taken from the welcome: the first messages may come before hello() resolves.
    let peer: Peer | null = null
    await hello(master, {
      secret,
      hello: {
        peer: 'slave',
        slaveId: `snapshot:${hostname()}:${process.pid}`,
        position: 0,
        logId: null,
        listen: null,
        snapshotOnly: true,
      },
      onWelcome: (_welcome, welcomed) => {
        peer = welcomed
      },
      onMessage: (m: Message) => {
        if (m.type === 'error') return finished(new DdbError(m.code, m.message, { hint: m.hint }))
        if (!isSnapshotMessage(m) || !peer) return
        // One message at a time: the socket is paused until it is on disk, so the master waits for the disk.
        const link = peer
        link.pause()
        chain = chain.then(async () => {
          await file.write(`${JSON.stringify(m)}\n`)
          if (m.type === 'snapshot-begin') estimate = m.schema.tables.reduce((n, t) => n + t.rowsEstimate, 0)
          if (m.type === 'snapshot-rows') rows += m.rows.length
          if (Date.now() - lastProgress > PROGRESS_MS || m.type === 'snapshot-end') {
            lastProgress = Date.now()
            const percent = estimate > 0 ? Math.min(100, Math.round((rows / estimate) * 100)) : 100
            process.stderr.write(`snapshot: ${rows} of about ${estimate} rows (${percent}%)\n`)
          }
          if (m.type === 'snapshot-end') {
            finished(null)
            link.close(null)
          } else link.resume()
        })
        chain.catch((err: Error) => finished(err))
      },
      onClose: (reason) =>
        finished(new DdbError('CONNECTION_LOST', `the master closed the connection: ${reason ?? 'closed'}`)),
    })
    const failed = await done
    await chain
    if (failed) throw failed
    await file.sync()
    await file.close()
    await rename(partial, out)
    process.stderr.write(`snapshot written to ${out}: ${rows} rows\n`)
  } catch (err) {
    await file.close().catch(() => {})
    await rm(partial, { force: true })
    throw err instanceof DdbError
      ? err
      : new DdbError('SNAPSHOT', `snapshot of ${formatHostPort(master)}: ${formatError(err)}`)
  }
}
