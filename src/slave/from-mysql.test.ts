import { Database } from 'bun:sqlite'
import { describe, expect, test } from 'bun:test'
import type { Entry, Statement } from '../entry.ts'
import type { SnapshotSchema } from '../snapshot.ts'
import { ApplyError } from '../store/apply.ts'
import { MysqlReplay, sqliteLiterals, sqliteSchemaOf } from './from-mysql.ts'

const TS = Date.UTC(2024, 1, 29, 13, 14, 15)

/** A SQLite database holding MySQL's `app`, with the replay of its master's entries into it. */
function replica() {
  const db = new Database(':memory:')
  const replay = new MysqlReplay('app', (sql, params) => db.query(sql).all(...params) as Record<string, unknown>[])
  /** Translates one entry of MySQL statements, and applies what comes out; returns it. */
  const apply = (statements: Array<Partial<Statement> & { sql: string }>, affected: number[] = [1]): Entry => {
    const entry: Entry = {
      offset: 7,
      ts: TS,
      db: 'app',
      timeZone: '+00:00',
      statements: statements.map((s) => ({ params: [], ...s })),
      affected,
      epoch: 1,
      hash: '',
      checksum: 0,
    }
    const translated = replay.entry(entry)
    for (const s of translated.statements) db.run(s.sql)
    return translated
  }
  return { db, apply }
}

const refusal = (run: () => unknown): string => {
  try {
    run()
  } catch (err) {
    expect(err).toBeInstanceOf(ApplyError)
    return (err as Error).message
  }
  throw new Error('not refused')
}

describe('MysqlReplay', () => {
  test('runs the translation, with the clock pinned to the entry and MySQL’s id for the next row', () => {
    const { db, apply } = replica()
    apply([
      { sql: 'CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, made DATETIME DEFAULT CURRENT_TIMESTAMP, n INT)' },
    ])
    // InnoDB's counter was past the rows it had (a deleted row): the id is the master's.
    const e = apply([{ sql: 'INSERT INTO app.t (n) VALUES (1), (2)', insertId: 41 }], [2])
    expect(e.db).toBeNull()
    expect(e.affected).toEqual([-1, -1, 2]) // the counter's statements are not compared
    expect(db.query('SELECT id, made, n FROM t').all()).toEqual([
      { id: 41, made: '2024-02-29 13:14:15', n: 1 },
      { id: 42, made: '2024-02-29 13:14:15', n: 2 },
    ])
  })

  test('does not compare the rows REPLACE and ON DUPLICATE KEY UPDATE count, as MySQL counts a replaced row twice', () => {
    const { apply } = replica()
    apply([{ sql: 'CREATE TABLE t (id INT PRIMARY KEY, v INT)' }])
    expect(apply([{ sql: 'INSERT INTO t VALUES (1, 1)' }]).affected).toEqual([1])
    expect(apply([{ sql: 'REPLACE INTO t VALUES (1, 2)' }], [2]).affected).toEqual([-1])
    expect(apply([{ sql: 'INSERT INTO t VALUES (1, 3) ON DUPLICATE KEY UPDATE v = 4' }], [2]).affected).toEqual([-1])
    expect(apply([{ sql: 'UPDATE t SET v = 5 WHERE id = 1' }]).affected).toEqual([1])
  })

  test('CREATE DATABASE of the held one, and statements about other databases, are nothing to run', () => {
    const { apply } = replica()
    expect(apply([{ sql: 'CREATE DATABASE IF NOT EXISTS app' }, { sql: 'CREATE DATABASE other' }]).statements).toEqual(
      [],
    )
  })

  test('refuses what SQLite would not replay the same, with the reason', () => {
    const { apply } = replica()
    apply([{ sql: 'CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(9) UNIQUE, at DATETIME)' }])
    expect(refusal(() => apply([{ sql: 'DROP DATABASE app' }]))).toContain('the master dropped database app')
    expect(refusal(() => apply([{ sql: 'INSERT INTO other.t (id) VALUES (1)' }]))).toContain(
      'this store holds database app only',
    )
    expect(
      refusal(() => apply([{ sql: 'INSERT INTO t (at) VALUES (NOW())', settings: { time_zone: '+02:00' } }])),
    ).toContain('time zone +02:00')
    expect(
      refusal(() => apply([{ sql: "INSERT IGNORE INTO t (name) VALUES ('a'), ('b')", insertId: 1 }], [1])),
    ).toContain('MySQL leaves gaps among them')
    expect(
      refusal(() => apply([{ sql: 'INSERT INTO t (name) VALUES (1)', settings: { auto_increment_increment: 2 } }])),
    ).toContain('auto_increment_increment = 2')
    // …and takes what is whole: an INSERT IGNORE that skipped no row, a single-row one.
    apply([{ sql: "INSERT IGNORE INTO t (name) VALUES ('a'), ('b')", insertId: 1 }], [2])
    apply([{ sql: "INSERT IGNORE INTO t (name) VALUES ('c') ON DUPLICATE KEY UPDATE name = 'd'", insertId: 5 }])
  })
})

describe('a MySQL snapshot for a SQLite store', () => {
  const schema: SnapshotSchema = {
    databases: [
      { name: 'app', create: 'CREATE DATABASE IF NOT EXISTS `app`' },
      { name: 'other', create: 'CREATE DATABASE IF NOT EXISTS `other`' },
    ],
    tables: [
      {
        db: 'app',
        name: 'p',
        create:
          'CREATE TABLE `p` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `name` varchar(50) NOT NULL,\n  PRIMARY KEY (`id`),\n  KEY `by_name` (`name`)\n) ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4',
        columns: ['id', 'name'],
        keyColumns: 1,
        rowsEstimate: 2,
      },
      {
        db: 'other',
        name: 'q',
        create: 'CREATE TABLE `q` (`id` int)',
        columns: ['id'],
        keyColumns: 0,
        rowsEstimate: 0,
      },
    ],
    after: [
      {
        db: 'app',
        sql: 'CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `app`.`v` AS select `app`.`p`.`name` AS `name` from (`app`.`p` join `app`.`p` `x` on(`x`.`id` = `app`.`p`.`id`))',
      },
      { db: 'other', sql: 'CREATE VIEW `other`.`w` AS SELECT 1' },
    ],
  }

  test('translates the held database’s tables, indexes after the rows, views; skips the rest, numbering kept', () => {
    const out = sqliteSchemaOf(schema, 'app')
    expect(out.databases).toEqual([])
    expect(out.tables.map((t) => [t.db, t.name, t.skip ?? false])).toEqual([
      [null, 'p', false],
      ['other', 'q', true],
    ])
    expect(out.tables[0]!.create).toMatch(/`id` INTEGER .*PRIMARY KEY AUTOINCREMENT/)
    expect(out.after.map((o) => o.sql.split(' ').slice(0, 3).join(' '))).toEqual([
      'CREATE INDEX `p.by_name`',
      'INSERT INTO sqlite_sequence', // AUTO_INCREMENT=5
      'CREATE VIEW `v`',
    ])
    // What it made runs, and the rows go in as SQLite literals MySQL's text becomes.
    const db = new Database(':memory:')
    db.run(out.tables[0]!.create)
    for (const o of out.after) db.run(o.sql)
    db.run(`INSERT INTO p (id, name) VALUES (${sqliteLiterals(['7', "it's"]).join(', ')})`)
    expect(db.query('SELECT id, typeof(id) AS t, name FROM v JOIN p USING (name)').all()).toEqual([
      { id: 7, t: 'integer', name: "it's" },
    ])
  })

  test('a table SQLite cannot hold is refused, naming it', () => {
    const bad = structuredClone(schema)
    bad.tables[0]!.create = "CREATE TABLE `p` (`id` int PRIMARY KEY, `s` set('a','b'))"
    expect(() => sqliteSchemaOf(bad, 'app')).toThrow(/table p of database app: /)
  })

  test('MySQL’s values as literals: text, NULL, bytes', () => {
    expect(sqliteLiterals(['1.50', null, { $bytes: Buffer.from([0, 255]).toString('base64') }, "a'b"])).toEqual([
      "'1.50'",
      'NULL',
      "X'00ff'",
      "'a''b'",
    ])
  })
})
