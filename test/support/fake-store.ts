/**
 * A fake Store for in-process tests of what sits on a store (the master's
 * writer, client transactions): every method is a plain function field a test
 * can replace, and the defaults behave like a real store in the ways callers
 * rely on:
 *
 * - begin() serializes: the next transaction is handed out once the open one
 *   committed or rolled back (beginClientTransaction does not wait, as on MySQL);
 * - transactionMode() is SQLite's rule for settings: 'fk-off' when a statement
 *   carries foreign_key_checks 0, else '' ('' always on 'mysql'); begin(mode)
 *   records 'begin' for '' and 'begin <mode>' for another;
 * - every call is recorded in `calls`, in order, as one readable line
 *   ('begin', 'runMany INSERT …; UPDATE …', 'setState 3', 'commit', …); a client
 *   transaction's lines start with 'client ';
 * - each statement answers `store.result(statement)`: {affectedRows: 1,
 *   insertId: 0} unless a test replaces it (throw there to fail a statement);
 * - the replication state lives in memory: setState (or runMany's state) is
 *   pending until commit() makes it visible to readState(), rollback() drops it;
 *   writeState() sets it at once.
 *
 * A transaction used after it ended throws, as a real one would misbehave.
 */
import type { ReadResult } from '../../src/entry.ts'
import { StoreBehindError, StoreError } from '../../src/errors.ts'
import type { RunResult, Store, StoreState, StoreStatement, StoreTxn } from '../../src/store/store.ts'
import { WriterLock } from '../../src/store/writer-lock.ts'

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A StoreTxn of function fields. */
export type FakeTxn = Mutable<StoreTxn> & {
  /** '' for a writer's transaction (begin), 'client' for beginClientTransaction's. */
  readonly label: string
  /** True once it committed or rolled back. */
  readonly ended: boolean
}

export interface FakeStore extends Mutable<Store> {
  /** Every call, in order (see the module comment). */
  readonly calls: string[]
  /** The committed replication state: what readState() answers. */
  state: StoreState
  /** Every transaction handed out, oldest first. */
  readonly txns: FakeTxn[]
  /** What each statement answers (runMany, runAutocommit); throw to fail it. */
  result: (statement: StoreStatement) => RunResult
  /** What reads answer (store.read and a transaction's read). */
  rows: (sql: string) => ReadResult
  /** Called with each new transaction before it is handed out: replace its fields here. */
  onBegin: (txn: FakeTxn) => void
}

export interface FakeStoreOptions {
  kind?: 'sqlite' | 'mysql'
  /** Default: true for 'mysql', false for 'sqlite'. */
  ddlCommitsImplicitly?: boolean
  /** Default: 'app' for 'mysql', null for 'sqlite'. */
  defaultDb?: string | null
  timeZone?: string | null
  /** Default false. */
  commitCanRefuse?: boolean
}

export function fakeStore(options: FakeStoreOptions = {}): FakeStore {
  const kind = options.kind ?? 'sqlite'
  const lock = new WriterLock()
  const store: FakeStore = {
    kind,
    displayUrl: `${kind}:fake`,
    durability: 'fake',
    defaultDb: options.defaultDb !== undefined ? options.defaultDb : kind === 'mysql' ? 'app' : null,
    timeZone: options.timeZone ?? null,
    ddlCommitsImplicitly: options.ddlCommitsImplicitly ?? kind === 'mysql',
    commitCanRefuse: options.commitCanRefuse ?? false,
    calls: [],
    state: { offset: 0, logId: null },
    txns: [],
    result: () => ({ affectedRows: 1, insertId: 0 }),
    rows: () => ({ columns: [], rows: [] }),
    onBegin: () => {},

    readState: async () => {
      store.calls.push('readState')
      return { ...store.state }
    },
    transactionMode: (statements) =>
      kind === 'sqlite' && statements.some((s) => s.settings?.foreign_key_checks === 0) ? 'fk-off' : '',
    begin: async (mode = '') => {
      const release = await lock.acquire()
      store.calls.push(mode ? `begin ${mode}` : 'begin')
      return newTxn(store, '', release)
    },
    beginClientTransaction: async () => {
      store.calls.push('client begin')
      return newTxn(store, 'client', () => {})
    },
    runAutocommit: async (s) => {
      store.calls.push(`runAutocommit ${s.sql}`)
      return store.result(s)
    },
    ddlAlreadyApplied: () => false,
    openSnapshot: async () => {
      throw new Error('the fake store has no snapshots')
    },
    staging: async () => null,
    beginStaging: async () => {
      throw new Error('the fake store has no snapshots')
    },
    version: null,
    sessionDefaults: async () => ({}),
    checkSetting: async () => null,
    endsTransaction: (err) => err instanceof StoreError && err.storeCode === 1213,
    writeState: async (state) => {
      store.calls.push(`writeState ${state.offset}`)
      store.state = guarded(store.state, state)
    },
    read: async (_db, sql) => {
      store.calls.push(`read ${sql}`)
      return store.rows(sql)
    },
    describe: async (_db, sql) => {
      store.calls.push(`describe ${sql}`)
      const { columns, columnTypes } = store.rows(sql)
      return { columns: columns.map((name, i) => ({ name, type: columnTypes?.[i] ?? null })), params: 0 }
    },
    close: async () => {
      store.calls.push('close')
    },
  }
  return store
}

function newTxn(store: FakeStore, label: string, release: () => void): FakeTxn {
  const record = (call: string) => store.calls.push(label ? `${label} ${call}` : call)
  let pending: StoreState | null = null
  let ended = false
  const live = (what: string) => {
    if (ended) throw new Error(`fake store: ${what} on a transaction that already ended`)
  }
  const end = () => {
    ended = true
    pending = null
    release()
  }
  const txn: FakeTxn = {
    label,
    get ended() {
      return ended
    },
    run: async (db, sql, params) => {
      live('run')
      record(`run ${sql}`)
      return store.result({ db, sql, params })
    },
    runMany: async (statements, state) => {
      live('runMany')
      record(`runMany ${statements.map((s) => s.sql).join('; ')}`)
      const results = statements.map((s) => store.result(s))
      if (state) pending = { ...state }
      return results
    },
    read: async (_db, sql) => {
      live('read')
      record(`read ${sql}`)
      return store.rows(sql)
    },
    savepoint: async (name) => {
      live('savepoint')
      record(`savepoint ${name}`)
    },
    rollbackTo: async (name) => {
      live('rollbackTo')
      record(`rollbackTo ${name}`)
    },
    release: async (name) => {
      live('release')
      record(`release ${name}`)
    },
    setState: async (state) => {
      live('setState')
      record(`setState ${state.offset}`)
      pending = { ...state }
    },
    commit: async () => {
      live('commit')
      record('commit')
      if (pending) store.state = guarded(store.state, pending)
      end()
    },
    rollback: async () => {
      if (ended) return
      record('rollback')
      end()
    },
  }
  store.txns.push(txn)
  store.onBegin(txn)
  return txn
}

/** The state a write leaves, checked as a real store's guard does: not at `previous`, it throws StoreBehindError. */
function guarded(current: StoreState, { previous, ...state }: StoreState): StoreState {
  if (previous !== undefined && current.offset !== previous)
    throw new StoreBehindError(`fake state at ${current.offset}, not ${previous}`)
  return state
}

/** A commit held at a gate: `reached` resolves once the commit was called; it goes on after open(). */
export interface HeldCommit {
  reached: Promise<void>
  open(): void
}

/** Holds the commit of the next transaction begun (with `label`: '' for begin(), 'client' for a client transaction's). */
export function holdNextCommit(store: FakeStore, label = ''): HeldCommit {
  const reached = Promise.withResolvers<void>()
  const gate = Promise.withResolvers<void>()
  const onBegin = store.onBegin
  store.onBegin = (txn) => {
    onBegin(txn)
    if (txn.label !== label) return
    store.onBegin = onBegin
    const commit = txn.commit
    txn.commit = async () => {
      reached.resolve()
      await gate.promise
      return commit()
    }
  }
  return { reached: reached.promise, open: () => gate.resolve() }
}
