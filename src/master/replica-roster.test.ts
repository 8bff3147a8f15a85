import { afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ReplicationLog } from '../log/replication-log.ts'
import { createLogger } from '../logger.ts'
import type { ReplicaSession } from '../stream/replica-session.ts'
import { ReplicaRoster } from './replica-roster.ts'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
function openLog(path?: string): ReplicationLog {
  if (!path) {
    const dir = mkdtempSync(join(tmpdir(), 'ddb-roster-'))
    dirs.push(dir)
    path = join(dir, 'log.sqlite')
  }
  return ReplicationLog.open(path)
}
const quiet = createLogger({}, { write: () => {} })

/** The fields of a ReplicaSession the roster reads, settable by the test. */
function session(id: string, applied: number, lastSeen: number) {
  const s = {
    id,
    address: `${id}:8081`,
    applied,
    lastSeen,
    connected: true,
    status: () => ({
      id,
      address: s.address,
      applied: s.applied,
      connected: s.connected,
      lagEntries: 0,
      lagSeconds: 0,
      error: null,
      stopped: false,
    }),
    close: () => {
      s.connected = false
    },
  }
  return s
}
const asSession = (s: ReturnType<typeof session>) => s as unknown as ReplicaSession

describe('ReplicaRoster', () => {
  test('registers on attach; a replaced connection that ends later does not write over the new one', () => {
    const log = openLog()
    const roster = new ReplicaRoster(log.replicas, quiet)
    const old = session('s1', 5, 1_000)
    roster.attach(asSession(old))
    const fresh = session('s1', 9, 2_000)
    roster.attach(asSession(fresh))
    old.connected = false
    roster.detached(asSession(old))
    expect(log.replicas.list()).toEqual([{ id: 's1', address: 's1:8081', applied: 9, lastSeen: 2_000 }])
    fresh.applied = 12
    fresh.lastSeen = 3_000
    roster.close('done')
    expect(log.replicas.list()[0]).toMatchObject({ applied: 12, lastSeen: 3_000 })
  })

  test('lists the slaves of before a restart, disconnected; forgets one that is not connected, never one that is', () => {
    const first = openLog()
    const before = new ReplicaRoster(first.replicas, quiet)
    before.attach(asSession(session('gone', 3, 1_000)))
    before.close('restart')
    const path = first.path
    first.close()
    const log = openLog(path)
    const roster = new ReplicaRoster(log.replicas, quiet)
    roster.attach(asSession(session('here', 7, 5_000)))
    expect(roster.statuses(5).map((s) => [s.id, s.connected, s.lastSeen, s.error])).toEqual([
      ['gone', false, 1_000, "its offset 3 is before the log's start (5): it needs a snapshot when it returns"],
      ['here', true, 5_000, null],
    ])
    expect(() => roster.forget('here')).toThrow('slave here is connected')
    expect(() => roster.forget('nobody')).toThrow('no slave nobody is registered')
    roster.forget('gone')
    expect(roster.holds().map((h) => h.id)).toEqual(['here'])
    expect(log.replicas.list().map((r) => r.id)).toEqual(['here'])
    roster.close('done')
  })
})
