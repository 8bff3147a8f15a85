import { Database } from 'bun:sqlite'
import { afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Entry, EntryDraft } from '../entry.ts'
import { CorruptEntryError, ReplicationLog } from './replication-log.ts'

const dirs: string[] = []
function logPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ddb-log-'))
  dirs.push(dir)
  return join(dir, 'log.sqlite')
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function append(log: ReplicationLog, drafts: EntryDraft[]): Entry[] {
  const entries = log.prepare(drafts)
  log.append(entries)
  return entries
}

const draft = (sql: string) => ({
  ts: 1_700_000_000_000,
  db: 'app',
  statements: [{ sql, params: [1, 'x', null] }],
  affected: [1],
})

describe('ReplicationLog.append', () => {
  test('gives offsets 1, 2, 3 … with no gaps, across reopen', () => {
    const path = logPath()
    const log = ReplicationLog.open(path)
    expect(append(log, [draft('a'), draft('b')]).map((e) => e.offset)).toEqual([1, 2])
    log.close()
    const again = ReplicationLog.open(path)
    expect(again.lastOffset()).toBe(2)
    expect(append(again, [draft('c')])[0]!.offset).toBe(3)
    expect(again.readAfter(0, 10).map((e) => e.statements[0]!.sql)).toEqual(['a', 'b', 'c'])
    again.close()
  })

  test('keeps its id across reopen', () => {
    const path = logPath()
    const id = ReplicationLog.open(path).id
    expect(ReplicationLog.open(path).id).toBe(id)
    expect(ReplicationLog.open(logPath()).id).not.toBe(id)
  })

  test('round-trips params, db and affected counts', () => {
    const log = ReplicationLog.open(logPath())
    const [e] = append(log, [
      { ts: 5, db: null, statements: [{ sql: 'x', params: [{ $bytes: 'AAE=' }, true, 1.5] }], affected: [7] },
    ])
    expect(log.get(1)).toEqual(e!)
  })
})

describe('ReplicationLog.readAfter', () => {
  test('pages from any offset', () => {
    const log = ReplicationLog.open(logPath())
    append(
      log,
      Array.from({ length: 100 }, (_, i) => draft(`s${i + 1}`)),
    )
    expect(log.readAfter(40, 5).map((e) => e.offset)).toEqual([41, 42, 43, 44, 45])
    expect(log.readAfter(100, 5)).toEqual([])
  })

  test('detects a damaged entry by its checksum', () => {
    const path = logPath()
    const log = ReplicationLog.open(path)
    append(log, [draft('INSERT INTO t VALUES (1)')])
    const raw = new Database(path)
    raw.exec(`UPDATE entries SET statements = replace(statements, '(1)', '(2)')`)
    raw.close()
    expect(() => log.readAfter(0, 1)).toThrow(CorruptEntryError)
  })
})

describe('ReplicationLog.open', () => {
  test('readonly refuses a missing file with a clear error', () => {
    expect(() => ReplicationLog.open('/nonexistent/log.sqlite', { readonly: true })).toThrow(/no such file/)
  })

  test("a readonly reader sees a writer's appends after refresh", () => {
    const path = logPath()
    const writer = ReplicationLog.open(path)
    const reader = ReplicationLog.open(path, { readonly: true })
    append(writer, [draft('a')])
    expect(reader.refresh()).toBe(1)
    expect(reader.readAfter(0, 10)).toHaveLength(1)
  })

  test('append refuses entries that do not continue the log', () => {
    const log = ReplicationLog.open(logPath())
    const entries = log.prepare([draft('a'), draft('b')])
    expect(() => log.append(entries.slice(1))).toThrow(/entry 2 does not follow 0/)
  })

  test('truncateAfter removes only newer entries', () => {
    const log = ReplicationLog.open(logPath())
    append(log, [draft('a'), draft('b'), draft('c')])
    log.truncateAfter(2)
    expect(log.lastOffset()).toBe(2)
    expect(append(log, [draft('d')])[0]!.offset).toBe(3)
  })
})
