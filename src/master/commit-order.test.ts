import { describe, expect, test } from 'bun:test'
import { CommitOrder } from './commit-order.ts'

/** Lets pending promise callbacks run. */
const settle = () => Bun.sleep(1)

describe('CommitOrder', () => {
  test('turns are taken in the order they were asked for, batches and others alike', async () => {
    const order = new CommitOrder()
    const taken: string[] = []
    const releases = new Map<string, () => void>()
    const take = (name: string, turn: Promise<(() => void) | null>) =>
      void turn.then((release) => {
        taken.push(name)
        releases.set(name, release!)
      })
    take('a', order.acquire())
    take('b', order.batchTurn())
    take('c', order.acquire())
    take('d', order.batchTurn())
    await settle()
    expect(taken).toEqual(['a'])
    for (const [name, next] of [
      ['a', ['a', 'b']],
      ['b', ['a', 'b', 'c']],
      ['c', ['a', 'b', 'c', 'd']],
    ] as const) {
      releases.get(name)!()
      await settle()
      expect(taken).toEqual([...next])
    }
  })

  test('a reconcile makes the batches waiting for a turn give it up (null), and none starts until it ends', async () => {
    const order = new CommitOrder()
    const held = await order.acquire() // the commit that failed holds the turn while it reconciles
    const waiting = [order.batchTurn(), order.batchTurn()]
    const afterBatches = order.acquire()
    let acquiredAfter = false
    void afterBatches.then(() => (acquiredAfter = true))
    const work = Promise.withResolvers<void>()
    let reconcileEnded = false
    expect(order.reconciling).toBeNull()
    const reconciled = order.reconcile(() => work.promise).then(() => (reconcileEnded = true))

    expect(await Promise.all(waiting)).toEqual([null, null])
    expect(order.reconciling).not.toBeNull()
    expect(await order.batchTurn()).toBeNull() // asked for during the reconcile
    let waitedFor = false
    void order.reconciling!.then(() => (waitedFor = true))
    await settle()
    expect([reconcileEnded, waitedFor]).toEqual([false, false])

    work.resolve()
    await reconciled
    await settle()
    expect(waitedFor).toBe(true)
    expect(order.reconciling).toBeNull()
    // The given-up turns hold nothing: once the holder releases, the next turn comes.
    expect(acquiredAfter).toBe(false)
    held()
    ;(await afterBatches)()
    expect(acquiredAfter).toBe(true)
    const next = await order.batchTurn()
    expect(next).toBeFunction()
    next!()
  })

  test('a reconcile whose work fails still ends', async () => {
    const order = new CommitOrder()
    await expect(
      order.reconcile(async () => {
        throw new Error('store gone')
      }),
    ).rejects.toThrow('store gone')
    expect(order.reconciling).toBeNull()
    const turn = await order.batchTurn()
    expect(turn).toBeFunction()
    turn!()
  })

  test('a batch whose turn came before the reconcile keeps it: the next turn waits for its release', async () => {
    const order = new CommitOrder()
    const turn = await order.batchTurn()
    expect(turn).toBeFunction()
    await order.reconcile(async () => {})
    let nextCame = false
    const next = order.acquire().then((release) => {
      nextCame = true
      return release
    })
    await settle()
    expect(nextCame).toBe(false)
    turn!()
    ;(await next)()
    expect(nextCame).toBe(true)
  })
})
