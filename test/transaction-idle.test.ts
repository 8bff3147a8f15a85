import { expect, test } from 'bun:test'
import { join } from 'node:path'
import { startDdbPort } from '../src/front/ddb-port.ts'
import { createLogger } from '../src/logger.ts'
import { Master } from '../src/master/master.ts'
import { Client } from '../src/wire/client.ts'
import { tempDir } from './support/util.ts'

test('an idle client transaction is rolled back, releasing the writer it held', async () => {
  await using dir = await tempDir('ddb-idle-')
  const logger = createLogger({}, { write: () => {} })
  const master = await Master.start({
    db: `sqlite:${join(dir.path, 'store.sqlite')}`,
    log: join(dir.path, 'log.sqlite'),
    logSync: 'full',
    logger,
    onFatal: (err) => {
      throw err
    },
    transactionIdleMs: 300,
  })
  const ddbPort = await startDdbPort({ listen: { host: '127.0.0.1', port: 0 }, secret: '', node: master, logger })
  const [host, port] = ddbPort.address.split(':')
  const idle = await Client.connect({ host: host!, port: Number(port) }, '')
  const other = await Client.connect({ host: host!, port: Number(port) }, '')
  try {
    await other.query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
    await idle.query('BEGIN')
    await idle.query('INSERT INTO t (id) VALUES (1)') // holds SQLite's single writer from here
    // Another client's write waits for the writer, until the idle transaction is rolled back.
    const [w] = await other.query('INSERT INTO t (id) VALUES (2)')
    expect(w?.kind === 'write' && w.offset).toBe(2)
    await expect(idle.query('INSERT INTO t (id) VALUES (3)')).rejects.toThrow(/rolled back \(idle for 0.3 s/)
    expect(await idle.query('ROLLBACK')).toEqual([{ kind: 'ok' }])
    const rows = await other.query('SELECT id FROM t ORDER BY id')
    expect(rows[0]?.kind === 'read' && rows[0].rows).toEqual([[2]])
  } finally {
    idle.close()
    other.close()
    await ddbPort.close()
    await master.close()
  }
})
