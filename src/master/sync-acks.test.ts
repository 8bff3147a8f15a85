import { describe, expect, test } from 'bun:test'
import { createLogger } from '../logger.ts'
import { SyncAcks, type SyncPolicy } from './sync-acks.ts'

/** SyncAcks over slaves whose applied offsets the test sets, with a log head at `head`. */
function acks(policy: Partial<SyncPolicy>) {
  const state = { applied: [] as number[], head: 0 }
  const lines: string[] = []
  const logger = createLogger({}, { write: (line: string) => lines.push(line) })
  const sync = new SyncAcks(
    { replicas: 1, timeoutMs: 50, fallback: 'async', ...policy },
    { applied: () => state.applied, published: () => state.head },
    logger,
  )
  return { sync, state, lines }
}

const settled = async (p: Promise<unknown>, ms = 10) =>
  Promise.race([
    p.then(
      () => 'resolved',
      () => 'rejected',
    ),
    Bun.sleep(ms).then(() => 'pending'),
  ])

describe('SyncAcks', () => {
  test('a write waits until K slaves have applied its offset; one ack releases every write it covers', async () => {
    const { sync, state } = acks({ replicas: 2, timeoutMs: 10_000 })
    state.applied = [0, 0]
    const a = sync.wait(1)
    const b = sync.wait(2)
    state.applied = [2, 1]
    sync.acked()
    expect(await settled(a)).toBe('resolved')
    expect(await settled(b)).toBe('pending') // one slave has 2
    state.applied = [2, 2]
    sync.acked()
    expect(await settled(b)).toBe('resolved')
    expect(sync.status()).toMatchObject({ state: 'sync', waiting: 0, fallbacks: 0 })
  })

  test('async fallback: after the timeout writes go on without waiting, until K slaves are at the head', async () => {
    const { sync, state, lines } = acks({})
    state.applied = [0]
    state.head = 1
    const a = sync.wait(1)
    expect(await settled(a)).toBe('pending')
    expect(await settled(a, 100)).toBe('resolved')
    expect(sync.status()).toMatchObject({ state: 'fallen-back', fallbacks: 1 })
    expect(await settled(sync.wait(2))).toBe('resolved')
    expect(lines.join('')).toContain('falling back to asynchronous replication')
    state.head = 2
    state.applied = [1]
    sync.acked()
    expect(sync.status().state).toBe('fallen-back') // not at the head yet
    state.applied = [2]
    sync.acked()
    expect(sync.status().state).toBe('sync')
    expect(await settled(sync.wait(3))).toBe('pending')
  })

  test('block: writes keep waiting past the timeout, and go once a slave applies them', async () => {
    const { sync, state } = acks({ fallback: 'block' })
    state.applied = [0]
    const a = sync.wait(1)
    expect(await settled(a, 150)).toBe('pending')
    expect(sync.status()).toMatchObject({ state: 'sync', waiting: 1, fallbacks: 0 })
    state.applied = [1]
    sync.acked()
    expect(await settled(a)).toBe('resolved')
  })

  test('another slave’s acks do not hold the timeout back when K are needed', async () => {
    const { sync, state } = acks({ replicas: 2, timeoutMs: 60 })
    state.applied = [0, 0]
    const a = sync.wait(5)
    for (let i = 1; i <= 8; i++) {
      await Bun.sleep(15)
      state.applied = [i, 0] // one slave keeps acking, the other never does
      sync.acked()
    }
    expect(await settled(a)).toBe('resolved')
    expect(sync.status().fallbacks).toBe(1)
  })

  test('a request asks for its own number of slaves: more on an asynchronous master, fewer on a synchronous one', async () => {
    const { sync, state } = acks({ replicas: 0, timeoutMs: 10_000 })
    state.applied = [0, 0]
    const more = sync.wait(3, 2)
    state.applied = [3, 0]
    sync.acked()
    expect(await settled(more)).toBe('pending')
    state.applied = [3, 3]
    sync.acked()
    expect(await settled(more)).toBe('resolved')
    const strict = acks({ replicas: 2, timeoutMs: 10_000 })
    strict.state.applied = [0, 0]
    expect(await settled(strict.sync.wait(1, 0))).toBe('resolved')
  })

  test('asynchronous (K = 0) never waits; closing answers waiting writes with an error', async () => {
    expect(await settled(acks({ replicas: 0 }).sync.wait(9))).toBe('resolved')
    const { sync, state } = acks({ timeoutMs: 10_000 })
    state.applied = [0]
    const a = sync.wait(1)
    sync.close()
    expect(await settled(a)).toBe('rejected')
    await expect(a).rejects.toThrow('the master stopped before enough slaves applied this write')
  })
})
