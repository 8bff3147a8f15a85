import type { Command } from 'commander'
import { CATCH_UP_PAGE_ENTRIES, DEFAULT_LOG } from '../config.ts'
import type { Entry } from '../entry.ts'
import { ReplicationLog } from '../log/replication-log.ts'
import { formatEntry, printLine } from './print.ts'
import { count, lookup, setting } from './settings.ts'
import { untilStopped } from './signals.ts'

/** How often --follow looks for new entries. */
const FOLLOW_POLL_MS = 200

interface TailFlags {
  log?: string
  n?: string
  from?: string
  follow?: boolean
  json?: boolean
}

/**
 * `ddb log tail`: print log entries, reading the log file directly (safe while the
 * master runs). A pruned log says where it begins, on stderr (the entries on stdout
 * keep their shape).
 */
export function registerLogTail(log: Command): void {
  log
    .command('tail')
    .description('print the newest entries (or from an offset), optionally following new ones')
    .option('--log <file>', `replication log file (env DDB_LOG; default ${DEFAULT_LOG})`)
    .option('-n <count>', 'how many entries (default 10; with --from, all from that offset)')
    .option('--from <offset>', 'start at this offset')
    .option('--follow', 'keep printing entries as they are appended, like tail -f')
    .option('--json', 'one JSON entry per line')
    .addHelpText('after', '\nNo environment variable: -n, --from, --follow, --json (they say what one run does).')
    .action(async (flags: TailFlags) => {
      const file = ReplicationLog.open(setting(flags.log, 'DDB_LOG', DEFAULT_LOG), { readonly: true })
      try {
        const last = file.lastOffset()
        const wanted = (text: string, name: string) => count(lookup(text, name, null, ''))
        const n = flags.n !== undefined ? wanted(flags.n, '-n') : flags.from !== undefined ? Infinity : 10
        const first = file.start + 1
        const asked = flags.from !== undefined ? Math.max(1, wanted(flags.from, '--from')) : Math.max(1, last - n + 1)
        const from = Math.max(asked, first)
        if (file.start > 0) {
          const skipped = flags.from !== undefined && asked < first ? ` (entries before ${first} were pruned)` : ''
          process.stderr.write(`log starts after offset ${file.start}${skipped}\n`)
        }
        const print = (e: Entry) => printLine(flags.json ? JSON.stringify(e) : formatEntry(e))
        let after = await printRange(file, from - 1, Math.min(last, from - 1 + n), print)
        if (!flags.follow) return
        const stopped = untilStopped().then(() => true)
        for (;;) {
          const newest = file.refresh()
          if (newest > after) after = await printRange(file, after, newest, print)
          if (await Promise.race([stopped, Bun.sleep(FOLLOW_POLL_MS).then(() => false)])) return
        }
      } finally {
        file.close()
      }
    })
}

/** Prints entries after `after` up to `until`, page by page; returns the last offset printed. */
async function printRange(
  log: ReplicationLog,
  after: number,
  until: number,
  print: (e: Entry) => Promise<void>,
): Promise<number> {
  while (after < until) {
    const page = log.readAfter(after, Math.min(CATCH_UP_PAGE_ENTRIES, until - after))
    if (page.length === 0) break
    for (const e of page) await print(e)
    after = page[page.length - 1]!.offset
  }
  return after
}
