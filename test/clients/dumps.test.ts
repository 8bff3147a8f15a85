/**
 * mariadb-dump and the mariadb CLI through ddb's MySQL port.
 *
 * (a) A database on a plain mariadbd (foreign keys, a BLOB of all 256 byte values,
 *     a trigger, a view, utf8 text, AUTO_INCREMENT with a gap) is dumped with
 *     `mariadb-dump` (default options, and `--databases`), and the file is loaded
 *     through ddb with `mariadb -h127.0.0.1 -P<port> -uroot app < file`. The tables
 *     and rows must equal the source's (bytes compared as hex), the trigger, the
 *     foreign keys, the view and the next AUTO_INCREMENT ids must work as on the
 *     source, and the slave must equal the master.
 * (b) `mariadb-dump --single-transaction` runs against ddb's MySQL port; its file,
 *     loaded into a fresh plain mariadbd, must give the same tables and rows.
 *
 * Each is also run with a plain mariadbd in ddb's place, which proves the harness.
 * Needs the Debian package `mariadb-client` (mariadb, mariadb-dump).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import type { Mariadb } from '../support/mariadb.ts'
import { type TempDir, tempDir } from '../support/util.ts'
import {
  ALL_BYTES,
  cell,
  connect,
  DATABASE,
  expectSameData,
  expectSuccess,
  mariadbClient,
  requireProgram,
  runCommand,
  START_TIMEOUT_MS,
  startPlainMariadb,
  startTarget,
  TARGET_TITLES,
  type TargetKind,
  TEST_TIMEOUT_MS,
} from './support.ts'

const TARGETS: readonly TargetKind[] = ['mariadb', 'ddb-mysql', 'ddb-sqlite']

/** The source database of (a): what a MySQL application's schema looks like. */
const SOURCE_SQL = `
CREATE TABLE authors (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  bio TEXT,
  UNIQUE KEY uq_authors_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE books (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  author_id INT NOT NULL,
  title VARCHAR(200) NOT NULL,
  price DECIMAL(10,2),
  published DATE,
  cover BLOB,
  KEY idx_books_author (author_id),
  CONSTRAINT fk_books_author FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE audit (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  book_id INT NOT NULL,
  action VARCHAR(20) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TRIGGER books_after_insert AFTER INSERT ON books FOR EACH ROW
  INSERT INTO audit (book_id, action) VALUES (NEW.id, 'insert');
CREATE VIEW book_titles AS
  SELECT b.id, a.name AS author, b.title FROM books b JOIN authors a ON a.id = b.author_id;
INSERT INTO authors (name, bio) VALUES
  ('Zoë Ångström', 'Écrivaine — 東京 🚀'),
  ('O''Brien', 'line1\\nline2 "quoted" back\\\\slash\\ttab'),
  ('Gone Author', NULL);
INSERT INTO books (author_id, title, price, published, cover) VALUES
  (1, 'Ünïcödé ✓', 12.50, '2020-02-29', X'${ALL_BYTES.toString('hex')}'),
  (2, 'It''s "quoted"', 0.99, '1999-12-31', X''),
  (3, 'Cascaded away', NULL, NULL, NULL);
-- A gap in both AUTO_INCREMENT sequences, and the cascade at work: the next ids are 4.
DELETE FROM authors WHERE name = 'Gone Author';
`

/** What a loaded copy must do as the source would: the outcome of each statement. */
const AFTER_LOAD: Array<{ sql: string; want: unknown }> = [
  { sql: "INSERT INTO authors (name) VALUES ('After Load')", want: { insertId: 4 } },
  { sql: "INSERT INTO books (author_id, title) VALUES (4, 'After Load')", want: { insertId: 4 } },
  { sql: 'SELECT book_id, action FROM audit ORDER BY id', want: [1, 2, 3, 4].map((id) => [id, 'insert']) },
  { sql: "INSERT INTO books (author_id, title) VALUES (999, 'orphan')", want: { errno: 1452 } },
  { sql: "INSERT INTO authors (name) VALUES ('O''Brien')", want: { errno: 1062 } },
  {
    sql: 'SELECT id, author, title FROM book_titles ORDER BY id',
    want: [
      [1, 'Zoë Ångström', 'Ünïcödé ✓'],
      [2, "O'Brien", 'It\'s "quoted"'],
      [4, 'After Load', 'After Load'],
    ],
  },
  { sql: 'DELETE FROM authors WHERE id = 4', want: { affectedRows: 1 } },
  { sql: 'SELECT COUNT(*) AS n FROM books WHERE author_id = 4', want: [[0]] },
]

/** Runs AFTER_LOAD on a MySQL port; returns each statement's outcome, in the shape of `want`. */
async function afterLoad(port: number): Promise<Array<{ sql: string; got: unknown }>> {
  const c = await connect(port)
  try {
    const outcomes: Array<{ sql: string; got: unknown }> = []
    for (const { sql } of AFTER_LOAD) {
      try {
        const [result] = (await c.query({ sql, rowsAsArray: true })) as any
        if (Array.isArray(result)) outcomes.push({ sql, got: result.map((r: unknown[]) => r.map(cell)) })
        else if (sql.startsWith('INSERT')) outcomes.push({ sql, got: { insertId: result.insertId } })
        else outcomes.push({ sql, got: { affectedRows: result.affectedRows } })
      } catch (err: any) {
        outcomes.push({ sql, got: err.errno ? { errno: err.errno } : { error: String(err.message) } })
      }
    }
    return outcomes
  } finally {
    await c.end()
  }
}

const mariadbDump = (args: string[]) =>
  runCommand([requireProgram('mariadb-dump', 'apt-get install -y mariadb-client'), ...args], { timeoutMs: 60_000 })

/** Loads a dump file into a target as the brief's users do: `mariadb -h127.0.0.1 -P<port> -uroot app < file`. */
async function load(target: { port: number; name: string }, file: string, what: string) {
  expectSuccess(await mariadbClient(target.port, { file }), what, target)
}

describe('(a) a mariadb-dump of a plain mariadbd, loaded with the mariadb CLI', () => {
  let source: Mariadb
  let dir: TempDir
  const files = { default: '', '--databases': '' }

  beforeAll(async () => {
    requireProgram('mariadb-dump', 'apt-get install -y mariadb-client')
    dir = await tempDir('ddb-dumps-')
    source = await startPlainMariadb()
    const sourceTarget = { port: source.port, name: 'the source mariadbd' }
    expectSuccess(
      await mariadbClient(source.port, { sql: SOURCE_SQL }, ['--default-character-set=utf8mb4']),
      'creating the source database',
      sourceTarget,
    )
    files.default = join(dir.path, 'default.sql')
    files['--databases'] = join(dir.path, 'databases.sql')
    const base = ['-h127.0.0.1', `-P${source.port}`, '-uroot']
    expectSuccess(
      await mariadbDump([...base, `--result-file=${files.default}`, DATABASE]),
      'mariadb-dump',
      sourceTarget,
    )
    expectSuccess(
      await mariadbDump([...base, `--result-file=${files['--databases']}`, '--databases', DATABASE]),
      'mariadb-dump --databases',
      sourceTarget,
    )
  }, START_TIMEOUT_MS)

  afterAll(async () => {
    await source?.stop()
    await dir?.remove()
  }, START_TIMEOUT_MS)

  for (const variant of ['default', '--databases'] as const) {
    for (const kind of TARGETS) {
      test(
        `mariadb-dump ${variant === 'default' ? '(default options)' : variant} loaded into ${TARGET_TITLES[kind]}: the same tables and rows, a working trigger, foreign keys, view and AUTO_INCREMENT; the slave equals the master`,
        async () => {
          await using target = await startTarget(kind)
          await load(target, files[variant], `mariadb … ${DATABASE} < the ${variant} dump`)
          await expectSameData(target, { port: source.port, name: 'the source mariadbd' })
          expect(await afterLoad(target.port), `after the load, on ${target.name}`).toEqual(
            AFTER_LOAD.map(({ sql, want }) => ({ sql, got: want })),
          )
          await target.expectReplicated()
          if (target.slavePort !== undefined) {
            await expectSameData({ port: target.slavePort, name: `${target.name}'s slave` }, target)
          }
        },
        TEST_TIMEOUT_MS,
      )
    }
  }
})

/** The database of (b): types every store kind takes, written through the target itself. */
const PORTABLE_SQL = `
CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, price DECIMAL(10,2), added DATE, data BLOB);
CREATE TABLE tags (item_id INTEGER NOT NULL, tag VARCHAR(30) NOT NULL, PRIMARY KEY (item_id, tag));
INSERT INTO items VALUES
  (1, 'Zoë Ångström 東京 🚀', 12.50, '2020-02-29', X'${ALL_BYTES.toString('hex')}'),
  (2, 'It''s "quoted" back\\\\slash', 0.99, '1999-12-31', X''),
  (3, 'nulls', NULL, NULL, NULL);
INSERT INTO tags VALUES (1, 'utf8'), (1, 'blob'), (2, 'quotes');
UPDATE items SET price = price * 2 WHERE id = 2;
`

describe('(b) mariadb-dump --single-transaction against the server, loaded into a fresh plain mariadbd', () => {
  for (const kind of TARGETS) {
    test(
      `dumping ${TARGET_TITLES[kind]}: the fresh mariadbd gets the same tables and rows`,
      async () => {
        await using dir = await tempDir('ddb-dumps-')
        await using target = await startTarget(kind)
        expectSuccess(
          await mariadbClient(target.port, { sql: PORTABLE_SQL }, ['--default-character-set=utf8mb4']),
          'writing the database with the mariadb CLI',
          target,
        )
        const file = join(dir.path, 'single-transaction.sql')
        const dump = await mariadbDump([
          '-h127.0.0.1',
          `-P${target.port}`,
          '-uroot',
          '--single-transaction',
          `--result-file=${file}`,
          DATABASE,
        ])
        expectSuccess(dump, 'mariadb-dump --single-transaction', target)
        await using fresh = await startPlainMariadb()
        await load({ port: fresh.port, name: 'a fresh plain mariadbd' }, file, `loading ${target.name}'s dump`)
        await expectSameData({ port: fresh.port, name: 'the fresh mariadbd' }, target)
        await target.expectReplicated()
      },
      TEST_TIMEOUT_MS,
    )
  }
})
