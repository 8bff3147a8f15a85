/**
 * A fake NodeApi for unit tests of what sits on a node (the front ends, the
 * Session): plain function fields, any of which a test replaces (pass it to
 * fakeNode, or assign it), and defaults that record each call in `calls`, one
 * readable line each, in order:
 *
 *   'read <sql> <params JSON>'            'write <sql; sql…> <first params JSON>'
 *   'wait <offset> <timeoutMs>'           'begin'
 *   'txn write <sql>'  'txn read <sql>'   'commit'  'rollback'
 *
 * A line ends with ' in <db>' when a database was given (never on SQLite).
 * `ran` holds every statement that reached the node ({sql, params}, reads
 * too, inside transactions too), as it arrived.
 *
 * `store.columnsOf` (how a session on a MySQL store learns a table's
 * AUTO_INCREMENT column, for insert ids) answers from `columns`.
 *
 * Writes answer offsets 1, 2, 3 …; a write whose SQL contains 'dup' fails with
 * a duplicate-key StoreError. A node of role 'slave' has no beginTransaction,
 * and its write records the call, then refuses with NotMasterError(`master`).
 */
import type { Param, ReadResult, Statement, WriteResult } from '../../src/entry.ts'
import { NotMasterError, StoreError } from '../../src/errors.ts'
import type { NodeApi, Transaction, WriteStatement } from '../../src/node/api.ts'
import type { StatementShape } from '../../src/store/store.ts'
import type { NodeStatus } from '../../src/wire/messages.ts'

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

export interface FakeNode extends Mutable<NodeApi> {
  /** Every call, in order (see the module comment). */
  calls: string[]
  /** Every statement that reached the node, as it arrived. */
  ran: Statement[]
  /** The last offset a write or commit answered. */
  offset: number
  /** What reads answer (default: columns id, name; one row 1, 'Ali'). */
  readResult: ReadResult
  /** The insert id a write outside a transaction answers (null: its offset; inside one it is 7). */
  insertId: number | null
  /** The address a slave's NotMasterError names. */
  master: string
  /** Each table's columns as information_schema.COLUMNS has them: [COLUMN_NAME, EXTRA] (default: none). */
  columns: Record<string, Array<[string, string]>>
}

export function fakeNode(overrides: Partial<FakeNode> = {}): FakeNode {
  const calls: string[] = []
  const ran: Statement[] = []
  const line = (text: string, db: string | null) => calls.push(db === null ? text : `${text} in ${db}`)
  const refuseDup = (sql: string) => {
    if (sql.includes('dup')) throw new StoreError('Duplicate entry', { rejectedByServer: true })
  }
  const node: FakeNode = {
    calls,
    ran,
    offset: 0,
    readResult: { columns: ['id', 'name'], rows: [[1, 'Ali']] },
    insertId: null,
    master: '10.0.0.1:8080',
    columns: {},
    role: 'master',
    defaultDb: null,
    dialect: 'sqlite',
    async write(db: string | null, statements: WriteStatement[]): Promise<WriteResult> {
      line(
        `write ${statements.map((s) => s.statement.sql).join('; ')} ${JSON.stringify(statements[0]?.statement.params ?? [])}`,
        db,
      )
      for (const s of statements) ran.push(s.statement)
      if (node.role !== 'master') throw new NotMasterError(node.master)
      for (const s of statements) refuseDup(s.statement.sql)
      node.offset++
      return { offset: node.offset, affectedRows: 1, insertId: node.insertId ?? node.offset }
    },
    async read(db: string | null, sql: string, params: Param[]): Promise<ReadResult> {
      line(`read ${sql} ${JSON.stringify(params)}`, db)
      ran.push({ sql, params })
      return node.readResult
    },
    store: {
      version: null,
      sessionDefaults: async () => ({}),
      checkSetting: async () => null,
      async columnsOf(_db: string, name: string) {
        const columns = node.columns[name]
        if (!columns) return undefined
        const id = columns.find(([, extra]) => extra === 'auto_increment')
        return { columns: columns.map(([c]) => ({ name: c })), autoIncrement: id?.[0] }
      },
      async describe(db: string | null, sql: string): Promise<StatementShape> {
        line(`describe ${sql}`, db)
        const { columns, columnTypes } = node.readResult
        return { columns: columns.map((name, i) => ({ name, type: columnTypes?.[i] ?? null })), params: 0 }
      },
    },
    async waitForOffset(offset: number, timeoutMs: number): Promise<void> {
      calls.push(`wait ${offset} ${timeoutMs}`)
    },
    async beginTransaction(db: string | null): Promise<Transaction> {
      line('begin', db)
      const txn: Transaction = {
        open: true,
        async write(w: WriteStatement): Promise<WriteResult> {
          calls.push(`txn write ${w.statement.sql}`)
          ran.push(w.statement)
          refuseDup(w.statement.sql)
          if (w.statement.sql.includes('deadlock')) {
            ;(txn as { open: boolean }).open = false // the store rolled it back, as InnoDB does
            throw new StoreError('Deadlock found when trying to get lock', { rejectedByServer: true, storeCode: 1213 })
          }
          return { offset: 0, affectedRows: 1, insertId: 7 }
        },
        use(db: string): void {
          calls.push(`txn use ${db}`)
        },
        async savepoint(name: string): Promise<void> {
          calls.push(`txn savepoint ${name}`)
        },
        async rollbackTo(name: string): Promise<void> {
          calls.push(`txn rollback to ${name}`)
        },
        async release(name: string): Promise<void> {
          calls.push(`txn release ${name}`)
        },
        async read(sql: string, params: Param[]): Promise<ReadResult> {
          calls.push(`txn read ${sql}`)
          ran.push({ sql, params })
          return { columns: ['n'], rows: [[1]] }
        },
        async commit(): Promise<WriteResult | null> {
          calls.push('commit')
          node.offset++
          return { offset: node.offset, affectedRows: 0, insertId: 0 }
        },
        async rollback(): Promise<void> {
          calls.push('rollback')
        },
      }
      return txn
    },
    position: () => ({ logId: 'log-1', offset: node.offset, epoch: 1 }),
    checksumOpen: async () => ({ offset: 0, token: '' }),
    checksum: async () => ({ offset: 0, tables: [] }),
    status: (): NodeStatus =>
      node.role === 'master'
        ? { role: 'master', offset: node.offset, logId: 'log-1', store: 'sqlite:x', replicas: [] }
        : {
            role: 'slave',
            master: node.master,
            applied: node.offset,
            connected: true,
            lagEntries: 0,
            lagSeconds: 0,
            store: 'sqlite:x',
            error: null,
          },
    ...overrides,
  }
  if (node.role !== 'master' && !('beginTransaction' in overrides)) delete node.beginTransaction
  return node
}
