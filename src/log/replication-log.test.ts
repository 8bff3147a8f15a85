import { Database } from 'bun:sqlite'
import { afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Entry, type EntryDraft, entryChecksum, entryHash, legacyChecksum } from '../entry.ts'
import { CorruptEntryError, ForkError, LOG_FORMAT, ReplicationLog } from './replication-log.ts'

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

describe('the hash chain', () => {
  test("each entry's hash chains it to the one before, from '' in a new log, across reopen", () => {
    const path = logPath()
    const log = ReplicationLog.open(path)
    const [a, b] = append(log, [draft('a'), draft('b')])
    expect(a!.hash).toBe(entryHash('', a!))
    expect(b!.hash).toBe(entryHash(a!.hash, b!))
    expect(b!.hash).toMatch(/^[0-9a-f]{32}$/)
    expect(a!.epoch).toBe(1)
    log.close()
    const again = ReplicationLog.open(path)
    expect(again.lastHash).toBe(b!.hash)
    const [c] = append(again, [draft('c')])
    expect(c!.hash).toBe(entryHash(b!.hash, c!))
    expect(again.hashAt(2)).toBe(b!.hash)
    expect(again.hashAt(0)).toBe('')
    again.close()
  })

  test("two logs agree on an entry's hash only if they agree on every entry before it", () => {
    const [one, two] = [ReplicationLog.open(logPath()), ReplicationLog.open(logPath())]
    append(one, [draft('a'), draft('b'), draft('c')])
    append(two, [draft('a'), draft('B'), draft('c')])
    expect(two.hashAt(1)).toBe(one.hashAt(1))
    expect(two.hashAt(2)).not.toBe(one.hashAt(2))
    expect(two.hashAt(3)).not.toBe(one.hashAt(3)) // same content, different history
  })

  test("a copy appends the master's entries as they are; one that does not chain is a ForkError and nothing is written", () => {
    const master = ReplicationLog.open(logPath())
    const copy = ReplicationLog.open(logPath())
    copy.reset(master.id, 0, '', 1)
    const entries = append(master, [draft('a'), draft('b')])
    copy.append(entries.slice(0, 1))
    const other = ReplicationLog.open(logPath())
    const foreign = append(other, [draft('x'), draft('y')])
    expect(() => copy.append(foreign.slice(1))).toThrow(ForkError)
    expect(copy.lastOffset()).toBe(1)
    copy.append(entries.slice(1))
    expect(copy.readAfter(0, 10)).toEqual(entries)
    expect(copy.id).toBe(master.id)
  })

  test('a log reset to begin mid-history at an unknown hash takes any next entry, then chains on from it', () => {
    const master = ReplicationLog.open(logPath())
    const entries = append(master, [draft('a'), draft('b'), draft('c')])
    const copy = ReplicationLog.open(logPath())
    copy.reset(master.id, 1, null, 3)
    expect(copy.lastHash).toBeNull()
    expect(copy.start).toBe(1)
    expect(copy.epoch).toBe(3)
    copy.append(entries.slice(1, 2))
    expect(copy.lastHash).toBe(entries[1]!.hash)
    expect(() => copy.append([{ ...entries[2]!, hash: entries[1]!.hash }])).toThrow(ForkError)
  })

  test('a pruned log keeps the hash of its start: the chain goes on across the pruned entries', () => {
    const path = logPath()
    const log = ReplicationLog.open(path)
    const entries = append(log, [draft('a'), draft('b'), draft('c')])
    log.removeThrough(3, 10)
    log.close()
    const again = ReplicationLog.open(path)
    expect(again.hashAt(3)).toBe(entries[2]!.hash)
    expect(again.lastHash).toBe(entries[2]!.hash)
    const [d] = append(again, [draft('d')])
    expect(d!.hash).toBe(entryHash(entries[2]!.hash, d!))
  })

  test("an entry appended with a higher epoch raises the log's; prepare seals new entries with it", () => {
    const master = ReplicationLog.open(logPath())
    const [a] = append(master, [draft('a')])
    const copy = ReplicationLog.open(logPath())
    copy.reset(master.id, 0, '', 1)
    copy.append([a!])
    copy.raiseEpoch(4)
    copy.raiseEpoch(2) // never lower
    expect(copy.epoch).toBe(4)
    const [b] = copy.prepare([draft('b')])
    expect(b!.epoch).toBe(4)
    expect(b!.checksum).toBe(entryChecksum(b!))
  })

  test('a format-1 log is read as it is, and upgraded when opened to write: epoch 1, the chain, new checksums', () => {
    const path = logPath()
    const log = ReplicationLog.open(path)
    append(log, [draft('a'), draft('b')])
    const id = log.id
    log.close()
    // What a ddb before epochs and hashes wrote.
    const db = new Database(path)
    db.run('ALTER TABLE entries DROP COLUMN epoch')
    db.run('ALTER TABLE entries DROP COLUMN hash')
    for (const row of db.query('SELECT * FROM entries').all() as any[]) {
      const e = {
        offset: row.offset,
        ts: row.ts,
        db: row.db,
        statements: JSON.parse(row.statements),
        affected: JSON.parse(row.affected),
      }
      db.run('UPDATE entries SET checksum = ? WHERE offset = ?', [legacyChecksum(e), row.offset])
    }
    db.run("UPDATE meta SET value = '1' WHERE key = 'format'")
    db.run("DELETE FROM meta WHERE key IN ('start_hash', 'epoch')")
    db.close()
    const reader = ReplicationLog.open(path, { readonly: true })
    expect(reader.readAfter(0, 10).map((e) => e.statements[0]!.sql)).toEqual(['a', 'b'])
    reader.close()
    const upgraded = ReplicationLog.open(path)
    expect(upgraded.id).toBe(id)
    const [a, b] = upgraded.readAfter(0, 10)
    expect(a!.hash).toBe(entryHash('', a!))
    expect(b!.hash).toBe(entryHash(a!.hash, b!))
    expect(b!.epoch).toBe(1)
    expect(upgraded.lastHash).toBe(b!.hash)
    upgraded.close()
    const meta = new Database(path, { readonly: true })
    expect(meta.query("SELECT value FROM meta WHERE key = 'format'").get()).toEqual({ value: String(LOG_FORMAT) })
    meta.close()
  })

  test('a damaged format-1 entry is refused by the upgrade, and the log stays as it was', () => {
    const path = logPath()
    const log = ReplicationLog.open(path)
    append(log, [draft('a')])
    log.close()
    const db = new Database(path)
    db.run('ALTER TABLE entries DROP COLUMN epoch')
    db.run('ALTER TABLE entries DROP COLUMN hash')
    db.run("UPDATE meta SET value = '1' WHERE key = 'format'")
    db.run('UPDATE entries SET checksum = 1')
    db.close()
    expect(() => ReplicationLog.open(path)).toThrow(/log entry 1 is corrupt/)
    const after = new Database(path, { readonly: true })
    expect(after.query("SELECT value FROM meta WHERE key = 'format'").get()).toEqual({ value: '1' })
    after.close()
  })
})

describe('pruning the oldest entries', () => {
  const bulky = (i: number) => ({ ...draft(`INSERT INTO t VALUES (${i}, '${'x'.repeat(500)}')`), ts: 1_000 + i })
  const fill = (log: ReplicationLog, n: number) => {
    for (let i = 0; i < n; i += 500)
      append(
        log,
        Array.from({ length: Math.min(500, n - i) }, (_, j) => bulky(i + j + 1)),
      )
  }

  test('removeThrough removes in batches and moves the start in the same commit', () => {
    const path = logPath()
    const log = ReplicationLog.open(path)
    fill(log, 100)
    expect(log.removeThrough(60, 25)).toBe(25)
    expect(log.removeThrough(60, 25)).toBe(50)
    expect(log.removeThrough(60, 25)).toBe(60)
    expect(log.removeThrough(60, 25)).toBe(60)
    expect(log.start).toBe(60)
    expect(log.readAfter(60, 2).map((e) => e.offset)).toEqual([61, 62])
    log.close()
    const again = ReplicationLog.open(path)
    expect(again.start).toBe(60)
    expect(again.get(60)).toBeNull()
    expect(again.get(61)?.offset).toBe(61)
  })

  test('a read from before the start is refused, not answered with a gap', () => {
    const log = ReplicationLog.open(logPath())
    fill(log, 10)
    log.removeThrough(5, 100)
    expect(() => log.readAfter(3, 10)).toThrow(/starts after entry 5 \(the entries before were pruned\)/)
    expect(log.readAfter(5, 1)[0]!.offset).toBe(6)
  })

  test('a reader that has not refreshed since another process pruned is refused too', () => {
    const path = logPath()
    const writer = ReplicationLog.open(path)
    fill(writer, 10)
    const reader = ReplicationLog.open(path, { readonly: true })
    writer.removeThrough(7, 100)
    expect(() => reader.readAfter(2, 10)).toThrow(/starts after entry 7/)
    expect(reader.start).toBe(7)
  })

  test('a log pruned to its last entry keeps its offsets across reopen', () => {
    const path = logPath()
    const log = ReplicationLog.open(path)
    fill(log, 3)
    log.removeThrough(3, 100)
    expect(log.lastOffset()).toBe(3)
    log.close()
    const again = ReplicationLog.open(path)
    expect(again.lastOffset()).toBe(3)
    expect(append(again, [draft('d')])[0]!.offset).toBe(4)
  })

  test('reclaimSpace gives the freed pages back to the file system', async () => {
    const path = logPath()
    const log = ReplicationLog.open(path)
    fill(log, 5_000)
    const before = await log.reclaimSpace(async () => {})
    log.removeThrough(4_900, 10_000)
    const after = await log.reclaimSpace(async () => {})
    expect(before).toBeGreaterThan(2_500_000)
    expect(after).toBeLessThan(before / 10)
    expect(log.readAfter(4_900, 200)).toHaveLength(100)
  })

  test('a log of an older ddb (no auto_vacuum) is converted by its first reclaim', async () => {
    const path = logPath()
    const old = new Database(path, { create: true })
    old.exec('PRAGMA journal_mode = WAL')
    old.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`)
    old.exec(
      `CREATE TABLE entries (offset INTEGER PRIMARY KEY, ts INTEGER NOT NULL, db TEXT, statements TEXT NOT NULL, affected TEXT NOT NULL, checksum INTEGER NOT NULL)`,
    )
    old.exec(`INSERT INTO meta VALUES ('log_id', 'old'), ('format', '1')`)
    old.close()
    const log = ReplicationLog.open(path)
    fill(log, 3_000)
    expect(log.usedBytes()).toBeGreaterThan(1_500_000)
    log.removeThrough(2_990, 10_000)
    expect(await log.reclaimSpace(async () => {})).toBeLessThan(200_000)
    const raw = new Database(path, { readonly: true })
    expect(raw.query('PRAGMA auto_vacuum').get()).toEqual({ auto_vacuum: 2 })
    raw.close()
  })

  test('newestBefore finds the newest entry older than a time; sizesAfter weighs entries', () => {
    const log = ReplicationLog.open(logPath())
    fill(log, 100)
    expect(log.newestBefore(1_000 + 40)).toBe(39)
    expect(log.newestBefore(0)).toBe(0)
    expect(log.newestBefore(10_000)).toBe(100)
    log.removeThrough(50, 100)
    expect(log.newestBefore(1_000 + 40)).toBe(50)
    const sizes = log.sizesAfter(50, 3)
    expect(sizes.map((s) => s.offset)).toEqual([51, 52, 53])
    expect(sizes[0]!.bytes).toBeGreaterThan(500)
    expect(log.usedBytes()).toBeGreaterThan(0)
  })
})

describe('ReplicaRegistry', () => {
  test('keeps replicas across reopen, in the order they first attached, until forgotten', () => {
    const path = logPath()
    const log = ReplicationLog.open(path)
    log.replicas.save([
      { id: 'b', address: '10.0.0.2:8081', applied: 5, lastSeen: 1_000 },
      { id: 'a', address: '10.0.0.1:8081', applied: 3, lastSeen: 2_000 },
    ])
    log.replicas.save([{ id: 'b', address: '10.0.0.9:8081', applied: 9, lastSeen: 3_000 }])
    log.close()
    const again = ReplicationLog.open(path)
    expect(again.replicas.list()).toEqual([
      { id: 'b', address: '10.0.0.9:8081', applied: 9, lastSeen: 3_000 },
      { id: 'a', address: '10.0.0.1:8081', applied: 3, lastSeen: 2_000 },
    ])
    expect(again.replicas.forget('b')).toBe(true)
    expect(again.replicas.forget('b')).toBe(false)
    expect(again.replicas.list().map((r) => r.id)).toEqual(['a'])
  })
})
