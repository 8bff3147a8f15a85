import { DdbError } from '../errors.ts'
import type { ReplicationLog } from '../log/replication-log.ts'
import type { SlaveHello } from '../wire/messages.ts'

/**
 * Refuses a slave whose hello says it cannot follow `log` (published up to `published`):
 * one of another log (LOG_MISMATCH), one ahead of it (SLAVE_AHEAD), or one whose entry at
 * its position hashes otherwise (LOG_FORK: their histories part). A rebuild (a rejoining
 * old master) takes a snapshot whatever its position, so its entries are not compared.
 * The node's own words: "this master's", "this slave's".
 */
export function checkHello(log: ReplicationLog, published: number, hello: SlaveHello, node = 'master'): void {
  if (hello.logId !== null && hello.logId !== log.id) {
    throw new DdbError(
      'LOG_MISMATCH',
      `slave ${hello.slaveId} holds entries of log ${hello.logId}, but this ${node}'s log is ${log.id}`,
      {
        hint: "rebuild the slave from an empty store (or a copy of the master's), or point it at its own master",
      },
    )
  }
  const rebuild = hello.rebuild === true
  if (!rebuild && (hello.position > published || (hello.logId === null && hello.position !== 0))) {
    throw new DdbError(
      'SLAVE_AHEAD',
      `slave ${hello.slaveId} is at offset ${hello.position}, but this ${node}'s log ends at ${published}`,
      {
        hint: 'the slave belongs to another history: an old master rejoining takes --rejoin; else rebuild it from an empty store',
      },
    )
  }
  const hash = hello.hash && !rebuild ? log.hashAt(hello.position) : null
  if (hash && hash !== hello.hash) {
    throw new DdbError(
      'LOG_FORK',
      `slave ${hello.slaveId}'s entry ${hello.position} differs from this ${node}'s (their logs forked at or before it)`,
      {
        hint: 'the slave holds entries this node never had: restart it with --rejoin (they are saved to a file, and it rebuilds from this node)',
      },
    )
  }
}
