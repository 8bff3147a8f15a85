/** DDB_SEED replays a failed run of a seeded test; otherwise a new seed each run. */
export const TEST_SEED =
  process.env.DDB_SEED !== undefined ? Number(process.env.DDB_SEED) : Math.floor(Math.random() * 2 ** 31)

/** mulberry32: a small seeded PRNG with uniform output in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}
