import { describe, expect, test } from 'bun:test'
import { translatingSqlite } from '../../../test/support/translating-sqlite.ts'
import { DdbError } from '../../errors.ts'
import { classifyTokens } from '../classify.ts'
import { tokenize } from '../lexer.ts'
import { splitLexed } from '../split.ts'
import { toSqlite } from './dialect.ts'

/** An in-memory SQLite database that runs MySQL-dialect input (several statements allowed) through the translator. */
function store(database: string | null = 'app') {
  const { db, ctx } = translatingSqlite({ database })
  /** Runs every statement of `input` with `params` for its last; returns that one's rows. The session's own (SET, LOCK TABLES) are skipped, as the session answers them. */
  const rows = (input: string, ...params: (string | number)[]): Record<string, unknown>[] => {
    let out: Record<string, unknown>[] = []
    for (const { sql, tokens } of splitLexed(input)) {
      if (['session', 'transaction', 'unsupported'].includes(classifyTokens(tokens).kind)) continue
      for (const s of toSqlite(sql, tokens, ctx)) out = db.query(s).all(...params) as Record<string, unknown>[]
    }
    return out
  }
  return { db, rows, ctx }
}

describe('toSqlite', () => {
  test('returns the same text when nothing needs translating', () => {
    for (const sql of [
      'SELECT a, b FROM t WHERE id = ? ORDER BY a LIMIT 10',
      "UPDATE t SET a = 'x' WHERE id = 1",
      'DELETE FROM t WHERE id IN (1, 2)',
    ])
      expect(toSqlite(sql, tokenize(sql), { database: null })[0]).toBe(sql)
  })

  test("leaves the session's statements to the session: USE, SET, BEGIN, COMMIT", () => {
    for (const sql of ['USE app', 'SET NAMES utf8mb4', 'SET @a = "x"', 'BEGIN', 'COMMIT', 'SET autocommit = 0'])
      expect(toSqlite(sql, tokenize(sql), { database: null })).toEqual([sql])
  })

  test('refuses with DdbError UNSUPPORTED and a one-line reason', () => {
    const sql = 'CREATE TABLE t (a TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)'
    let error: unknown
    try {
      toSqlite(sql, tokenize(sql), { database: null })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(DdbError)
    expect((error as DdbError).code).toBe('UNSUPPORTED')
    expect((error as DdbError).message).toBe(
      'not supported on a SQLite store: ON UPDATE CURRENT_TIMESTAMP (SQLite has no per-update default; set the column in each UPDATE, or use a MySQL store)',
    )
  })
})

describe('what ORMs and tools send, end to end', () => {
  test('knex: create the migrations table, check it, insert, read (MySQL: id 1, the name back)', () => {
    const s = store()
    s.rows(
      'create table `knex_migrations` (`id` int unsigned not null auto_increment primary key, `name` varchar(255), `batch` int, `migration_time` timestamp)',
    )
    expect(
      s.rows(
        'select * from information_schema.tables where table_name = ? and table_schema = database()',
        'knex_migrations',
      ),
    ).toHaveLength(1)
    s.rows(
      'insert into `knex_migrations` (`batch`, `migration_time`, `name`) values (?, ?, ?)',
      1,
      '2024-01-02 03:04:05',
      '001_init.js',
    )
    expect(s.rows('select `name` from `knex_migrations` order by `id` asc')).toEqual([{ name: '001_init.js' }])
    expect(s.rows('show columns from `knex_migrations`').map((c) => c.Field)).toEqual([
      'id',
      'name',
      'batch',
      'migration_time',
    ])
  })

  test('sysbench oltp: prepare, then the read-write transaction', () => {
    const s = store('sbtest')
    s.rows(
      "CREATE TABLE sbtest1(id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER DEFAULT '0' NOT NULL, c CHAR(120) DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id)) /*! ENGINE = innodb */",
    )
    s.rows("INSERT INTO sbtest1(k, c, pad) VALUES(5, 'c1', 'p1'),(6, 'c2', 'p2'),(7, 'c3', 'p3')")
    s.rows('CREATE INDEX k_1 ON sbtest1(k)')
    expect(s.rows('SELECT c FROM sbtest1 WHERE id=?', 2)).toEqual([{ c: 'c2' }])
    expect(s.rows('SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN ? AND ?', 1, 3)).toEqual([{ 'SUM(k)': 18 }])
    expect(s.rows('SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN ? AND ? ORDER BY c', 1, 2)).toEqual([
      { c: 'c1' },
      { c: 'c2' },
    ])
    s.rows('UPDATE sbtest1 SET k=k+1 WHERE id=?', 1)
    s.rows("UPDATE sbtest1 SET c='x' WHERE id=?", 2)
    s.rows('DELETE FROM sbtest1 WHERE id=?', 3)
    s.rows("INSERT INTO sbtest1 (id, k, c, pad) VALUES (?, ?, 'c', 'p')", 3, 9)
    expect(s.rows('SELECT id, k, c FROM sbtest1 ORDER BY id')).toEqual([
      { id: 1, k: 6, c: 'c1' },
      { id: 2, k: 6, c: 'x' },
      { id: 3, k: 9, c: 'c' },
    ])
  })

  test('a mysqldump file', () => {
    const s = store()
    s.rows(`
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;
DROP TABLE IF EXISTS \`people\`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
CREATE TABLE \`people\` (
  \`id\` int(11) NOT NULL AUTO_INCREMENT,
  \`name\` varchar(50) NOT NULL,
  \`photo\` blob,
  PRIMARY KEY (\`id\`),
  KEY \`name\` (\`name\`)
) ENGINE=InnoDB AUTO_INCREMENT=3 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
LOCK TABLES \`people\` WRITE;
/*!40000 ALTER TABLE \`people\` DISABLE KEYS */;
INSERT INTO \`people\` VALUES (1,'O\\'Neil',0x89504E47),(2,'Ann\\\\Lee',NULL);
/*!40000 ALTER TABLE \`people\` ENABLE KEYS */;
UNLOCK TABLES;`)
    expect(s.rows('SELECT id, name, hex(photo) AS photo FROM people ORDER BY id')).toEqual([
      { id: 1, name: "O'Neil", photo: '89504E47' },
      { id: 2, name: 'Ann\\Lee', photo: '' },
    ])
    s.rows("INSERT INTO people (name) VALUES ('next')")
    expect(s.rows("SELECT id FROM people WHERE name = 'NEXT'")).toEqual([{ id: 3 }])
  })
})
