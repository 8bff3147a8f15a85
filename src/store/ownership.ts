import { DdbError } from '../errors.ts'

/** Which node claims a store, recorded in it and shown to a node that is refused it. */
export interface NodeClaim {
  role: 'master' | 'slave'
  /** Who holds it, in words: "master pid 12 on db1, started 2026-12-01T18:00:00Z". */
  owner: string
  /** Called if the store's lock is lost while the node runs (MySQL: the server restarted and another node took it). */
  onLost?(err: DdbError): void
  /** A slave that may take a master's store: an old master rejoining (`ddb slave --rejoin`). */
  rejoin?: boolean
}

/** The claim a node makes: its role, its process and host, when it started. */
export function nodeClaim(role: NodeClaim['role'], hostname: string, onLost?: NodeClaim['onLost']): NodeClaim {
  return {
    role,
    owner: `ddb ${role} pid ${process.pid} on ${hostname}, started ${new Date().toISOString()}`,
    ...(onLost ? { onLost } : {}),
  }
}

/** Another node holds the store. */
export function storeInUse(displayUrl: string, owner: string | null): DdbError {
  return new DdbError('STORE_IN_USE', `open ${displayUrl}: in use by ${owner ?? 'another ddb node'}`, {
    hint: 'one node serves a store: stop that one first, or give this node a --db of its own',
  })
}

/**
 * A slave replays its master's entries into its store, so it must never be given the
 * master's own store (it would apply every write a second time on the master's data).
 * A master may take over a slave's store (a promoted replica).
 */
export function checkRole(displayUrl: string, recorded: string | null, claim: NodeClaim): void {
  if (recorded === 'master' && claim.role === 'slave' && !claim.rejoin) {
    throw new DdbError('STORE_IS_MASTERS', `open ${displayUrl}: this is a master's store, not a slave's`, {
      hint: "a slave needs a store of its own: give it another --db (an empty one, or a copy of the master's); an old master rejoining its new master takes --rejoin",
    })
  }
}
