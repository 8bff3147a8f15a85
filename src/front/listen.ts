import type net from 'node:net'
import { formatHostPort, type HostPort } from '../config.ts'
import { DdbError, formatError } from '../errors.ts'

/** Why a port could not be bound, as one line. */
function why(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'EADDRINUSE') return 'address already in use'
  if (code === 'EADDRNOTAVAIL') return 'address not available on this machine'
  return formatError(err)
}

/** The one-line LISTEN error of a front end that cannot bind: `operation: why`, and the flag that picks another address. */
export function listenError(err: unknown, operation: string, flag: string): DdbError {
  return new DdbError('LISTEN', `${operation}: ${why(err)}`, { hint: `pick another address with ${flag}` })
}

/** Binds a node:net server to `address`; resolves with the address actually bound (port 0 becomes the real port). */
export async function listenTcp(
  server: net.Server,
  address: HostPort,
  operation: string,
  flag: string,
): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenError(err, operation, flag)))
    server.listen(address.port, address.host, () => resolve())
  })
  const bound = server.address() as net.AddressInfo
  return formatHostPort({ host: bound.address, port: bound.port })
}
