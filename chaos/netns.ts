/**
 * A network namespace per slave, so its link to the master can be cut without
 * touching anything else. Each namespace has two veth pairs to the host:
 * - the link pair carries replication and client traffic (the slave listens on
 *   its namespace side, the master on every host address); cut() takes the host
 *   side down, so packets vanish with no reset, as on a pulled cable;
 * - the store pair reaches the slave's own mariadbd on the host, so a link cut
 *   never also cuts a slave from its store.
 */
import { sh } from './system.ts'

export interface Netns {
  readonly name: string
  /** The host's address on the link pair: where the slave reaches the master. */
  readonly hostIp: string
  /** The slave's address on the link pair: where it listens. */
  readonly nsIp: string
  /** The host's address on the store pair (where the slave reaches its mariadbd), and the slave's. */
  readonly storeIp: string
  readonly storeNsIp: string
  /** The prefix that runs a command inside the namespace. */
  readonly exec: string[]
  /** Whether the link is cut now. */
  readonly cut: boolean
  cutLink(): void
  healLink(): void
  /** Deletes the namespace and its veth pairs; safe twice. */
  remove(): void
}

/** This run's namespace and interface names start with it (a pid tag, so two runs never collide). */
export const NETNS_TAG = `dc${process.pid.toString(36)}`
/** Second octet of this run's 10.x.y.z addresses. */
const NET = 200 + (process.pid % 50)

/** Creates namespace `i` (1, 2 …) with its two veth pairs, up and addressed. */
export function createNetns(i: number): Netns {
  const name = `${NETNS_TAG}s${i}`
  const link = { host: `${name}lh`, ns: `${name}ln`, net: `10.${NET}.${2 * i}` }
  const store = { host: `${name}sh`, ns: `${name}sn`, net: `10.${NET}.${2 * i + 1}` }
  let cut = false
  let removed = false
  const ns = (...args: string[]) => sh(['ip', 'netns', 'exec', name, ...args])
  const netns: Netns = {
    name,
    hostIp: `${link.net}.1`,
    nsIp: `${link.net}.2`,
    storeIp: `${store.net}.1`,
    storeNsIp: `${store.net}.2`,
    exec: ['ip', 'netns', 'exec', name],
    get cut() {
      return cut
    },
    cutLink() {
      sh(['ip', 'link', 'set', link.host, 'down'])
      cut = true
    },
    healLink() {
      sh(['ip', 'link', 'set', link.host, 'up'])
      cut = false
    },
    remove() {
      if (removed) return
      removed = true
      // Deleting the namespace destroys its veth ends, and with them the host ends.
      sh(['ip', 'netns', 'del', name], { check: false })
      for (const pair of [link, store]) sh(['ip', 'link', 'del', pair.host], { check: false, quiet: true })
    },
  }
  try {
    sh(['ip', 'netns', 'add', name])
    ns('ip', 'link', 'set', 'lo', 'up')
    for (const pair of [link, store]) {
      sh(['ip', 'link', 'add', pair.host, 'type', 'veth', 'peer', 'name', pair.ns])
      sh(['ip', 'link', 'set', pair.ns, 'netns', name])
      sh(['ip', 'addr', 'add', `${pair.net}.1/24`, 'dev', pair.host])
      sh(['ip', 'link', 'set', pair.host, 'up'])
      ns('ip', 'addr', 'add', `${pair.net}.2/24`, 'dev', pair.ns)
      ns('ip', 'link', 'set', pair.ns, 'up')
    }
  } catch (err) {
    netns.remove()
    throw err
  }
  return netns
}
