import { describe, expect, spyOn, test } from 'bun:test'
import { type FakeNode, fakeNode } from '../../test/support/fake-node.ts'
import { DdbError, NotMasterError, StoreError, UsageError } from '../errors.ts'
import type { WriteStatement } from './api.ts'
import { Session } from './session.ts'

/** A master on MySQL, whose sessions start in database 'app'. */
function mysqlMaster(): FakeNode {
  return fakeNode({ dialect: 'mysql', defaultDb: 'app' })
}

/** What execute rejected with. */
async function failure(p: Promise<unknown>): Promise<DdbError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(DdbError)
  return err as DdbError
}

/** Records every node.write's database and statements, then does what the node did. */
function recordWrites(node: FakeNode): Array<{ db: string | null; statements: WriteStatement[] }> {
  const writes: Array<{ db: string | null; statements: WriteStatement[] }> = []
  const write = node.write
  node.write = (db, statements) => {
    writes.push({ db, statements })
    return write(db, statements)
  }
  return writes
}

describe('reads and writes', () => {
  test("reads go to node.read and writes to node.write, in the session's database", async () => {
    const node = mysqlMaster()
    const writes = recordWrites(node)
    const session = new Session(node)
    expect(session.db).toBe('app')
    expect(await session.execute('SELECT * FROM t WHERE id = ?', [1])).toEqual([
      { kind: 'read', columns: ['id', 'name'], rows: [[1, 'Ali']] },
    ])
    expect(await session.execute('UPDATE t SET a = ?', [2])).toEqual([
      { kind: 'write', offset: 1, affectedRows: 1, insertId: 1 },
    ])
    expect(node.calls).toEqual(['read SELECT * FROM t WHERE id = ? [1] in app', 'write UPDATE t SET a = ? [2] in app'])
    expect(writes).toEqual([
      {
        db: 'app',
        statements: [
          {
            statement: { sql: 'UPDATE t SET a = ?', params: [2] },
            classification: { kind: 'write', keyword: 'UPDATE' },
          },
        ],
      },
    ])
  })

  test("LAST_INSERT_ID() is the session's last generated id, written in as a literal; a given id is not one", async () => {
    const node = mysqlMaster()
    node.columns = {
      t: [
        ['id', 'auto_increment'],
        ['v', ''],
      ],
    }
    const session = new Session(node)
    node.insertId = 5
    await session.execute('INSERT INTO t (v) VALUES (1)')
    node.insertId = 50
    expect(await session.execute('INSERT INTO t VALUES (50, 2)')).toEqual([
      { kind: 'write', offset: 2, affectedRows: 1, insertId: 50 },
    ])
    await session.execute('SELECT LAST_INSERT_ID()')
    await session.execute('INSERT INTO child VALUES (LAST_INSERT_ID())')
    expect(node.calls.slice(2)).toEqual(['read SELECT 5 [] in app', 'write INSERT INTO child VALUES (5) [] in app'])
  })

  test('DDL is a write too', async () => {
    const node = mysqlMaster()
    expect(await new Session(node).execute('CREATE TABLE t (a INT)')).toEqual([
      { kind: 'write', offset: 1, affectedRows: 1, insertId: 1 },
    ])
    expect(node.calls).toEqual(['write CREATE TABLE t (a INT) [] in app'])
  })

  test('options.db runs one query in another database; the session keeps its own', async () => {
    const node = mysqlMaster()
    const session = new Session(node)
    await session.execute('INSERT INTO t VALUES (1)', [], { db: 'other' })
    await session.execute('INSERT INTO t VALUES (2)')
    expect(node.calls).toEqual([
      'write INSERT INTO t VALUES (1) [] in other',
      'write INSERT INTO t VALUES (2) [] in app',
    ])
    expect(session.db).toBe('app')
  })

  test('options.db is ignored on SQLite (one database)', async () => {
    const node = fakeNode({ dialect: 'sqlite' })
    await new Session(node).execute('INSERT INTO t VALUES (1)', [], { db: 'other' })
    expect(node.calls).toEqual(['write INSERT INTO t VALUES (1) []'])
  })

  test('several statements run in order, one answer each', async () => {
    const node = fakeNode()
    const answers = await new Session(node).execute('SET NAMES utf8mb4; INSERT INTO t VALUES (1); SELECT 1')
    expect(answers.map((a) => a.kind)).toEqual(['ok', 'write', 'read'])
    expect(node.calls).toEqual(['write INSERT INTO t VALUES (1) []', 'read SELECT 1 []'])
  })

  test('several statements stop at the first error', async () => {
    const node = fakeNode()
    const err = await failure(
      new Session(node).execute("INSERT INTO t VALUES (1); INSERT INTO t VALUES ('dup'); INSERT INTO t VALUES (3)"),
    )
    expect(err).toBeInstanceOf(StoreError)
    expect(err.message).toBe('Duplicate entry')
    expect(node.calls).toEqual(['write INSERT INTO t VALUES (1) []', "write INSERT INTO t VALUES ('dup') []"])
  })

  test('params with several statements is a UsageError, and nothing runs', async () => {
    const node = fakeNode()
    const err = await failure(new Session(node).execute('SELECT ?; SELECT ?', [1]))
    expect(err).toBeInstanceOf(UsageError)
    expect(err.message).toBe('parameters need exactly one statement')
    expect(node.calls).toEqual([])
  })

  test('no statement at all is a UsageError', async () => {
    expect(await failure(new Session(fakeNode()).execute(' ; '))).toBeInstanceOf(UsageError)
  })

  test('session statements other than USE and SET NAMES, and refused statements, are UNSUPPORTED', async () => {
    const node = fakeNode()
    const session = new Session(node)
    for (const sql of ['HANDLER t OPEN', 'FLUSH TABLES']) {
      expect((await failure(session.execute(sql))).code).toBe('UNSUPPORTED')
    }
    expect(node.calls).toEqual([])
  })
})

describe('determinism', () => {
  test('the master rewrites RAND() into a literal and keeps the original', async () => {
    const random = spyOn(Math, 'random').mockReturnValue(0.25)
    try {
      const node = mysqlMaster()
      await new Session(node).execute('INSERT INTO t VALUES (RAND())')
      expect(node.ran).toEqual([
        { sql: 'INSERT INTO t VALUES (0.25000000000000000e0)', params: [], original: 'INSERT INTO t VALUES (RAND())' },
      ])
    } finally {
      random.mockRestore()
    }
  })

  test('a deterministic write goes as it is, without an original', async () => {
    const node = mysqlMaster()
    await new Session(node).execute('INSERT INTO t VALUES (NOW())')
    expect(node.ran).toEqual([{ sql: 'INSERT INTO t VALUES (NOW())', params: [] }])
  })

  test('a statement that cannot be made deterministic is refused before it reaches the node', async () => {
    const node = fakeNode({ dialect: 'sqlite' })
    expect((await failure(new Session(node).execute('UPDATE t SET a = random()'))).code).toBe('UNSAFE_STATEMENT')
    expect(node.calls).toEqual([])
  })
})

describe('USE', () => {
  test('checks that the database exists, then switches to it', async () => {
    const node = mysqlMaster()
    const session = new Session(node)
    expect(await session.execute('USE `other`')).toEqual([{ kind: 'ok' }])
    expect(session.db).toBe('other')
    await session.execute('SELECT 1')
    expect(node.calls).toEqual([
      'read SELECT schema_name FROM information_schema.schemata WHERE schema_name = ? ["other"]',
      'read SELECT 1 [] in other',
    ])
  })

  test('an unknown database is UNKNOWN_DATABASE and the session stays where it was', async () => {
    const node = mysqlMaster()
    node.readResult = { columns: ['schema_name'], rows: [] }
    const session = new Session(node)
    const err = await failure(session.execute('USE nope'))
    expect([err.code, err.message]).toEqual(['UNKNOWN_DATABASE', "USE: unknown database 'nope'"])
    expect(session.db).toBe('app')
  })

  test('SQLite has one database: USE is UNSUPPORTED', async () => {
    const node = fakeNode({ dialect: 'sqlite' })
    expect((await failure(new Session(node).execute('USE main'))).code).toBe('UNSUPPORTED')
    expect(node.calls).toEqual([])
  })

  test('USE inside a transaction switches the database of the statements after it, as in MySQL', async () => {
    const node = mysqlMaster()
    const session = new Session(node)
    await session.execute('BEGIN')
    expect(await session.execute('USE other')).toEqual([{ kind: 'ok' }])
    expect(session.db).toBe('other')
    expect(node.calls).toEqual([
      'begin in app',
      'read SELECT schema_name FROM information_schema.schemata WHERE schema_name = ? ["other"]',
      'txn use other',
    ])
  })
})

describe('transactions on the master', () => {
  test("BEGIN … COMMIT: reads and writes go to the node's Transaction, COMMIT answers its offset", async () => {
    const node = mysqlMaster()
    const session = new Session(node)
    expect(await session.execute('BEGIN')).toEqual([{ kind: 'ok' }])
    expect(await session.execute('INSERT INTO t VALUES (1)')).toEqual([
      { kind: 'write', offset: 0, affectedRows: 1, insertId: 7 },
    ])
    expect(await session.execute('SELECT n FROM t')).toEqual([{ kind: 'read', columns: ['n'], rows: [[1]] }])
    expect(await session.execute('COMMIT')).toEqual([{ kind: 'write', offset: 1, affectedRows: 0, insertId: 0 }])
    await session.execute('SELECT 2')
    expect(node.calls).toEqual([
      'begin in app',
      'txn write INSERT INTO t VALUES (1)',
      'txn read SELECT n FROM t',
      'commit',
      'read SELECT 2 [] in app',
    ])
  })

  test('START TRANSACTION … ROLLBACK: nothing is committed, and writes go to the node again after', async () => {
    const node = fakeNode()
    const session = new Session(node)
    await session.execute('START TRANSACTION; INSERT INTO t VALUES (1); ROLLBACK')
    await session.execute('INSERT INTO t VALUES (2)')
    expect(node.calls).toEqual([
      'begin',
      'txn write INSERT INTO t VALUES (1)',
      'rollback',
      'write INSERT INTO t VALUES (2) []',
    ])
  })

  test("SQLite's END commits", async () => {
    const node = fakeNode()
    const session = new Session(node)
    await session.execute('BEGIN; INSERT INTO t VALUES (1); END')
    expect(node.calls).toEqual(['begin', 'txn write INSERT INTO t VALUES (1)', 'commit'])
  })

  test('COMMIT or ROLLBACK without a transaction answers ok and touches nothing', async () => {
    const node = fakeNode()
    expect(await new Session(node).execute('COMMIT; ROLLBACK')).toEqual([{ kind: 'ok' }, { kind: 'ok' }])
    expect(node.calls).toEqual([])
  })

  test('a COMMIT that logged nothing answers ok', async () => {
    const node = fakeNode()
    const begin = node.beginTransaction!
    node.beginTransaction = async (db) => ({ ...(await begin(db)), commit: async () => null })
    expect(await new Session(node).execute('BEGIN; SELECT 1; COMMIT')).toEqual([
      { kind: 'ok' },
      { kind: 'read', columns: ['n'], rows: [[1]] },
      { kind: 'ok' },
    ])
  })

  test('a COMMIT that fails rolls the transaction back and answers the error; the session has none open after', async () => {
    const node = fakeNode()
    const lost = new StoreError('connection lost')
    const begin = node.beginTransaction!
    node.beginTransaction = async (db) => ({
      ...(await begin(db)),
      commit: async () => {
        throw lost
      },
    })
    const session = new Session(node)
    await session.execute('BEGIN; INSERT INTO t VALUES (1)')
    expect(await failure(session.execute('COMMIT'))).toBe(lost)
    await session.execute('INSERT INTO t VALUES (2)')
    expect(node.calls).toEqual([
      'begin',
      'txn write INSERT INTO t VALUES (1)',
      'rollback',
      'write INSERT INTO t VALUES (2) []',
    ])
  })

  test('BEGIN inside a transaction commits it first, as MySQL does', async () => {
    const node = mysqlMaster()
    const session = new Session(node, { dialect: 'mysql' })
    await session.execute('BEGIN; INSERT INTO t VALUES (1)')
    expect(await session.execute('START TRANSACTION')).toEqual([
      { kind: 'write', offset: 1, affectedRows: 0, insertId: 0 },
    ])
    expect(session.inTransaction).toBe(true)
    expect(node.calls).toEqual(['begin in app', 'txn write INSERT INTO t VALUES (1)', 'commit', 'begin in app'])
  })

  test('a second BEGIN inside a transaction is refused for a SQLite client (TRANSACTION_OPEN); the first stays open', async () => {
    const node = fakeNode()
    const session = new Session(node)
    await session.execute('BEGIN')
    expect((await failure(session.execute('BEGIN'))).code).toBe('TRANSACTION_OPEN')
    expect((await failure(session.execute('START TRANSACTION'))).code).toBe('TRANSACTION_OPEN')
    await session.execute('INSERT INTO t VALUES (1)')
    expect(node.calls).toEqual(['begin', 'txn write INSERT INTO t VALUES (1)'])
  })

  test('DDL inside a transaction commits it first on MySQL: two entries, in order', async () => {
    const node = mysqlMaster()
    const session = new Session(node)
    await session.execute('BEGIN; INSERT INTO t VALUES (1)')
    expect(await session.execute('CREATE TABLE u (a INT)')).toEqual([
      { kind: 'write', offset: 2, affectedRows: 1, insertId: 2 },
    ])
    expect(session.inTransaction).toBe(false)
    expect(node.calls).toEqual([
      'begin in app',
      'txn write INSERT INTO t VALUES (1)',
      'commit',
      'write CREATE TABLE u (a INT) [] in app',
    ])
  })

  test('a deadlock ends the transaction, as InnoDB rolls it back: the next BEGIN opens a new one', async () => {
    const node = mysqlMaster()
    const session = new Session(node, { dialect: 'mysql' })
    await session.execute('BEGIN')
    const err = await failure(session.execute("UPDATE t SET a = 'deadlock'"))
    expect(err).toBeInstanceOf(StoreError)
    expect(session.inTransaction).toBe(false)
    expect(await session.execute('BEGIN')).toEqual([{ kind: 'ok' }])
    expect(await session.execute('COMMIT')).toEqual([{ kind: 'write', offset: 1, affectedRows: 0, insertId: 0 }])
    expect(node.calls).toEqual(['begin in app', "txn write UPDATE t SET a = 'deadlock'", 'begin in app', 'commit'])
  })

  test('LOCK TABLES … READ reads in one transaction until UNLOCK TABLES; WRITE locks commit an open one and open none', async () => {
    const node = mysqlMaster()
    const session = new Session(node, { dialect: 'mysql' })
    await session.execute('LOCK TABLES a READ, b READ LOCAL')
    expect(session.inTransaction).toBe(true)
    await session.execute('SELECT 1; UNLOCK TABLES')
    expect(session.inTransaction).toBe(false)
    await session.execute(
      'BEGIN; INSERT INTO t VALUES (1); LOCK TABLES t WRITE; INSERT INTO t VALUES (2); UNLOCK TABLES',
    )
    expect(session.inTransaction).toBe(false)
    expect(node.calls).toEqual([
      'begin in app',
      'txn read SELECT 1',
      'commit',
      'begin in app',
      'txn write INSERT INTO t VALUES (1)',
      'commit',
      'write INSERT INTO t VALUES (2) [] in app',
    ])
  })

  test('savepoints go to the transaction; outside one, SAVEPOINT does nothing and ROLLBACK TO is SAVEPOINT_UNKNOWN', async () => {
    const node = mysqlMaster()
    const session = new Session(node)
    expect(await session.execute('SAVEPOINT a')).toEqual([{ kind: 'ok' }])
    expect((await failure(session.execute('ROLLBACK TO SAVEPOINT a'))).code).toBe('SAVEPOINT_UNKNOWN')
    await session.execute('BEGIN; SAVEPOINT `s1`; ROLLBACK WORK TO s1; RELEASE SAVEPOINT s1')
    expect(node.calls).toEqual(['begin in app', 'txn savepoint s1', 'txn rollback to s1', 'txn release s1'])
  })

  test('DDL inside a transaction on SQLite runs in it (SQLite DDL is transactional)', async () => {
    const node = fakeNode({ dialect: 'sqlite' })
    const session = new Session(node)
    await session.execute('BEGIN; CREATE TABLE u (a INT)')
    expect(node.calls).toEqual(['begin', 'txn write CREATE TABLE u (a INT)'])
  })

  test('writes inside a transaction are made deterministic too', async () => {
    const random = spyOn(Math, 'random').mockReturnValue(0.5)
    try {
      const node = mysqlMaster()
      await new Session(node).execute('BEGIN; INSERT INTO t VALUES (RAND())')
      expect(node.ran).toEqual([
        { sql: 'INSERT INTO t VALUES (0.50000000000000000e0)', params: [], original: 'INSERT INTO t VALUES (RAND())' },
      ])
    } finally {
      random.mockRestore()
    }
  })

  test('close() rolls an open transaction back, and is quiet if that fails', async () => {
    const node = fakeNode()
    const session = new Session(node)
    await session.execute('BEGIN; INSERT INTO t VALUES (1)')
    await session.close()
    expect(node.calls).toEqual(['begin', 'txn write INSERT INTO t VALUES (1)', 'rollback'])
    await session.close()
    expect(node.calls).toHaveLength(3)

    const failing = fakeNode()
    failing.beginTransaction = async () => ({
      open: true,
      write: async () => ({ offset: 0, affectedRows: 0, insertId: 0 }),
      read: async () => ({ columns: [], rows: [] }),
      use: () => {},
      savepoint: async () => {},
      rollbackTo: async () => {},
      release: async () => {},
      commit: async () => null,
      rollback: async () => {
        throw new StoreError('connection lost')
      },
    })
    const other = new Session(failing)
    await other.execute('BEGIN')
    await other.close()
  })
})

describe("a slave's session", () => {
  function slave(): FakeNode {
    return fakeNode({ role: 'slave', dialect: 'mysql', defaultDb: 'app' })
  }

  test('sends writes to node.write as they were sent, without the determinism rewrite', async () => {
    const node = slave()
    const writes = recordWrites(node)
    const err = await failure(new Session(node).execute('INSERT INTO t VALUES (RAND())'))
    expect(err).toBeInstanceOf(NotMasterError)
    expect(writes).toEqual([
      {
        db: 'app',
        statements: [
          {
            statement: { sql: 'INSERT INTO t VALUES (RAND())', params: [] },
            classification: { kind: 'write', keyword: 'INSERT' },
          },
        ],
      },
    ])
  })

  test('keeps read-only transactions: BEGIN and COMMIT answer ok, reads go to node.read', async () => {
    const node = slave()
    expect(node.beginTransaction).toBeUndefined()
    const session = new Session(node)
    expect(await session.execute('BEGIN; SELECT 1; COMMIT')).toEqual([
      { kind: 'ok' },
      { kind: 'read', columns: ['id', 'name'], rows: [[1, 'Ali']] },
      { kind: 'ok' },
    ])
    // MySQL's rule: BEGIN inside a transaction commits it (nothing to commit on a slave) and begins another.
    expect(await session.execute('START TRANSACTION; BEGIN')).toEqual([{ kind: 'ok' }, { kind: 'ok' }])
    expect(await session.execute('ROLLBACK')).toEqual([{ kind: 'ok' }])
    expect(node.calls).toEqual(['read SELECT 1 [] in app'])
  })

  test('a write inside a read-only transaction reaches node.write with no statements, to be refused', async () => {
    const node = slave()
    const writes = recordWrites(node)
    const session = new Session(node)
    await session.execute('BEGIN')
    expect(await failure(session.execute('UPDATE t SET a = 1'))).toBeInstanceOf(NotMasterError)
    expect(writes).toEqual([{ db: 'app', statements: [] }])
  })

  test('USE inside a read-only transaction switches the database too', async () => {
    const session = new Session(slave())
    await session.execute('BEGIN')
    expect(await session.execute('USE other')).toEqual([{ kind: 'ok' }])
    expect(session.db).toBe('other')
  })
})
