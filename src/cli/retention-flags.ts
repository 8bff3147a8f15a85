import type { Command } from 'commander'
import type { RetentionPolicy } from '../stream/retention.ts'
import { count, duration, lookup, type Setting, size } from './settings.ts'

/** The log's retention flags, a master's and a slave's (a slave prunes its own log). */
export interface RetentionFlags {
  retainEntries?: string
  retainTime?: string
  retainBytes?: string
  replicaTimeout?: string
}

/** Adds --retain-entries, --retain-time, --retain-bytes and --replica-timeout. */
export function retentionOptions(command: Command): Command {
  return command
    .option('--retain-entries <n>', 'prune the log to its newest N entries (env DDB_RETAIN_ENTRIES; default keep all)')
    .option(
      '--retain-time <duration>',
      'prune log entries older than this, e.g. 7d, 12h, 30m (env DDB_RETAIN_TIME; default keep all)',
    )
    .option(
      '--retain-bytes <size>',
      "prune the log's oldest entries to keep it under this size, e.g. 10GB, 512MB (env DDB_RETAIN_BYTES; default keep all)",
    )
    .option(
      '--replica-timeout <duration>',
      'a slave away this long stops holding the log back, and needs a snapshot to return (env DDB_REPLICA_TIMEOUT; default never)',
    )
}

/** The retention flags, each from its flag or DDB_* variable ('' when not given). */
function retentionSettings(flags: RetentionFlags) {
  return {
    entries: lookup(flags.retainEntries, '--retain-entries', 'DDB_RETAIN_ENTRIES', ''),
    timeMs: lookup(flags.retainTime, '--retain-time', 'DDB_RETAIN_TIME', ''),
    bytes: lookup(flags.retainBytes, '--retain-bytes', 'DDB_RETAIN_BYTES', ''),
    replicaTimeoutMs: lookup(flags.replicaTimeout, '--replica-timeout', 'DDB_REPLICA_TIMEOUT', ''),
  }
}

/** The retention policy the flags give; none given: the log keeps everything. */
export function retentionPolicy(flags: RetentionFlags): RetentionPolicy {
  const s = retentionSettings(flags)
  const given = <T>(setting: Setting, parse: (s: Setting) => T): T | null => (setting.text ? parse(setting) : null)
  return {
    entries: given(s.entries, count),
    timeMs: given(s.timeMs, duration),
    bytes: given(s.bytes, size),
    replicaTimeoutMs: given(s.replicaTimeoutMs, duration),
  }
}

/** The retention flags given, as the start line shows them (`--retain-time` → retainTime=7d). */
export function retentionFields(flags: RetentionFlags): Record<string, string> {
  const given = Object.values(retentionSettings(flags)).filter((s) => s.text !== '')
  return Object.fromEntries(given.map((s) => [camel(s.name), s.text]))
}

/** `--retain-time` or `DDB_RETAIN_TIME` → retainTime. */
function camel(name: string): string {
  return name
    .replace(/^--|^DDB_/, '')
    .toLowerCase()
    .replace(/[-_](.)/g, (_, c: string) => c.toUpperCase())
}
