/**
 * `--self-test`: proof that every check can fail. After a short run, with the
 * slaves caught up, it damages each store and the log behind ddb's back, the
 * way each violation would look, and kills a slave without saying so. The run
 * passes only if every check reports its damage.
 */
import { CHECKS } from './checks.ts'
import type { Cluster } from './cluster.ts'
import { COUNTERS_TABLE, ROWS_TABLE, tamperLog } from './readers.ts'
import type { StoreResult } from './report.ts'
import type { Ledger } from './writers.ts'

/** Damages the stores and the log: one finding for each check, and a crash. */
export async function selfTestDamage(cluster: Cluster, ledger: Ledger, say: (m: string) => void): Promise<void> {
  const acked = ledger.rows.filter((r) => r.outcome === 'acked')
  const failed = ledger.rows.find((r) => r.outcome === 'failed')
  const [master, slave1, slave2] = cluster.readers
  if (acked.length < 3 || !failed || !master || !slave1 || !slave2)
    throw new Error('self-test: the run produced too few acked and failed writes to damage')
  const [gone, holed, corrupted] = [acked[0]!, acked[Math.floor(acked.length / 2)]!, acked[acked.length - 1]!]
  say(`self-test: deleting acked row ${gone.id} from the master's store (lost, diverged)`)
  await master.tamper(`DELETE FROM ${ROWS_TABLE} WHERE id = ${gone.id}`)
  say(`self-test: adding 1000 to counter 1 on ${slave1.name} (double-applied)`)
  await slave1.tamper(`UPDATE ${COUNTERS_TABLE} SET n = n + 1000 WHERE id = 1`)
  say(`self-test: inserting row ${failed.id}, whose write failed, on ${slave2.name} (phantom)`)
  await slave2.tamper(`INSERT INTO ${ROWS_TABLE} (id, w, v) VALUES (${failed.id}, 0, 'phantom')`)
  say(`self-test: deleting log entry ${holed.offset} and breaking the checksum of entry ${corrupted.offset} (log)`)
  tamperLog(cluster.logPath, `DELETE FROM entries WHERE offset = ${holed.offset}`)
  tamperLog(cluster.logPath, `UPDATE entries SET checksum = checksum + 1 WHERE offset = ${corrupted.offset}`)
  const victim = cluster.slaves[1]!
  say(`self-test: kill -9 of ${victim.name} behind the suite's back (crashed)`)
  process.kill(victim.pid, 'SIGKILL')
  await Bun.sleep(500)
}

/** 0 if every check caught its damage on every store, else 1 with what went unseen. */
export function selfTestVerdict(results: StoreResult[]): number {
  const missed = results.flatMap((r) => {
    const t = r.selfTest
    if (!t) return [`${r.kind}: no self-test ran`]
    return [
      ...(t.cleanBefore ? [] : [`${r.kind}: the run was not clean before the damage, so the damage proves nothing`]),
      ...CHECKS.filter((c) => t.after[c] === 0).map((c) => `${r.kind}: the ${c} check did not catch its damage`),
      ...(t.crashes === 0 ? [`${r.kind}: the crash of a slave was not seen`] : []),
    ]
  })
  for (const m of missed) process.stderr.write(`self-test FAILED: ${m}\n`)
  if (missed.length === 0) process.stderr.write('self-test passed: every check caught the damage made for it\n')
  return missed.length === 0 ? 0 : 1
}
