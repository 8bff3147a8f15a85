import { describe, expect, test } from 'bun:test'
import { translatingSqlite } from '../../../test/support/translating-sqlite.ts'

const DDL =
  "CREATE TABLE t (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL DEFAULT 'x', k INT DEFAULT '0', c CHAR(5) COLLATE utf8mb4_bin, e ENUM('b','a'), u INT, UNIQUE KEY uq (name), KEY idx_k (k, u))"

/** The translating store with ddb's state table and the tables of DDL. */
function store(database: string | null = 'app') {
  const s = translatingSqlite({ database })
  s.db.run('CREATE TABLE ddb_state (id INTEGER PRIMARY KEY)')
  s.rows(DDL)
  return s
}

describe('SHOW TABLES and SHOW DATABASES', () => {
  test('SHOW TABLES, SHOW FULL TABLES FROM db, LIKE and WHERE (SQLAlchemy: SHOW FULL TABLES FROM `app`)', () => {
    const s = store()
    s.rows('CREATE TABLE other (a INT)')
    s.rows('CREATE VIEW v AS SELECT 1 AS one')
    expect(s.rows('SHOW TABLES')).toEqual([{ Tables_in_app: 'other' }, { Tables_in_app: 't' }, { Tables_in_app: 'v' }])
    expect(s.rows('SHOW FULL TABLES FROM `app`')).toEqual([
      { Tables_in_app: 'other', Table_type: 'BASE TABLE' },
      { Tables_in_app: 't', Table_type: 'BASE TABLE' },
      { Tables_in_app: 'v', Table_type: 'VIEW' },
    ])
    expect(s.rows("SHOW TABLES LIKE 'o%'")).toEqual([{ 'Tables_in_app (o%)': 'other' }])
    expect(s.rows("SHOW FULL TABLES WHERE Table_type = 'VIEW'")).toEqual([{ Tables_in_app: 'v', Table_type: 'VIEW' }])
    expect(() => store(null).translate('SHOW TABLES')).toThrow('no database selected')
  })

  test('SHOW DATABASES lists the selected database', () => {
    expect(store('shop').rows('SHOW DATABASES')).toEqual([{ Database: 'shop' }])
    expect(store('shop').rows("SHOW DATABASES LIKE 'x%'")).toEqual([])
  })
})

describe('SHOW COLUMNS and DESCRIBE', () => {
  // MySQL 8 for the same table (MariaDB writes int(10) unsigned and int(11)).
  const described = [
    { Field: 'id', Type: 'int unsigned', Null: 'NO', Key: 'PRI', Default: null, Extra: 'auto_increment' },
    { Field: 'name', Type: 'varchar(20)', Null: 'NO', Key: 'UNI', Default: 'x', Extra: '' },
    { Field: 'k', Type: 'int', Null: 'YES', Key: 'MUL', Default: '0', Extra: '' },
    { Field: 'c', Type: 'char(5)', Null: 'YES', Key: '', Default: null, Extra: '' },
    { Field: 'e', Type: "enum('b','a')", Null: 'YES', Key: '', Default: null, Extra: '' },
    { Field: 'u', Type: 'int', Null: 'YES', Key: '', Default: null, Extra: '' },
  ]

  test.each(['SHOW COLUMNS FROM t', 'SHOW FIELDS IN `t` FROM app', 'DESCRIBE t', 'DESC app.t', 'EXPLAIN t'])(
    '%s (knex hasColumn sends show columns from `t`)',
    (sql) => {
      expect(store().rows(sql)).toEqual(described)
    },
  )

  test('SHOW FULL COLUMNS (Sequelize describeTable) adds Collation, Privileges and Comment', () => {
    const [id, , , c] = store().rows('SHOW FULL COLUMNS FROM `t`;')
    expect(Object.keys(id!)).toEqual([
      'Field',
      'Type',
      'Collation',
      'Null',
      'Key',
      'Default',
      'Extra',
      'Privileges',
      'Comment',
    ])
    expect(id).toMatchObject({ Collation: null, Privileges: 'select,insert,update,references', Comment: '' })
    expect(c).toMatchObject({ Field: 'c', Collation: 'utf8mb4_bin' })
  })

  test('DESCRIBE t col, SHOW COLUMNS … LIKE and WHERE', () => {
    const s = store()
    expect(s.rows('DESCRIBE t name')).toEqual([described[1]!])
    expect(s.rows("SHOW COLUMNS FROM t LIKE 'n%'")).toEqual([described[1]!])
    expect(s.rows("SHOW COLUMNS FROM t WHERE `Key` = 'PRI'")).toEqual([described[0]!])
  })

  test("a table that does not exist fails, as in MySQL (ERROR 1146: Table 'app.nope' doesn't exist)", () => {
    const s = store()
    expect(() => s.rows('SHOW COLUMNS FROM nope')).toThrow('no such table: nope')
    expect(() => s.rows('SHOW INDEX FROM nope')).toThrow('no such table: nope')
  })
})

describe('SHOW INDEX and SHOW CREATE TABLE', () => {
  test('SHOW INDEX FROM t (Sequelize showIndex): PRIMARY, then unique keys, then the others', () => {
    const rows = store().rows('SHOW INDEX FROM `t`')
    expect(rows.map((r) => [r.Key_name, r.Non_unique, r.Seq_in_index, r.Column_name, r.Null, r.Index_type])).toEqual([
      ['PRIMARY', 0, 1, 'id', '', 'BTREE'],
      ['uq', 0, 1, 'name', '', 'BTREE'],
      ['idx_k', 1, 1, 'k', 'YES', 'BTREE'],
      ['idx_k', 1, 2, 'u', 'YES', 'BTREE'],
    ])
    expect(Object.keys(rows[0]!)).toEqual([
      'Table',
      'Non_unique',
      'Key_name',
      'Seq_in_index',
      'Column_name',
      'Collation',
      'Cardinality',
      'Sub_part',
      'Packed',
      'Null',
      'Index_type',
      'Comment',
      'Index_comment',
      'Visible',
      'Expression',
    ])
  })

  test('SHOW CREATE TABLE rebuilds MySQL DDL from the catalog (as MySQL 8 writes it)', () => {
    expect(store().rows('SHOW CREATE TABLE `app`.`t`')).toEqual([
      {
        Table: 't',
        'Create Table': `CREATE TABLE \`t\` (
  \`id\` int unsigned NOT NULL AUTO_INCREMENT,
  \`name\` varchar(20) NOT NULL DEFAULT 'x',
  \`k\` int DEFAULT '0',
  \`c\` char(5) COLLATE utf8mb4_bin DEFAULT NULL,
  \`e\` enum('b','a') DEFAULT NULL,
  \`u\` int DEFAULT NULL,
  PRIMARY KEY (\`id\`),
  UNIQUE KEY \`uq\` (\`name\`),
  KEY \`idx_k\` (\`k\`,\`u\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci`,
      },
    ])
  })

  test("SHOW CREATE TABLE's DDL translates back to the same columns and keys", () => {
    const s = store()
    const [{ 'Create Table': ddl }] = s.rows('SHOW CREATE TABLE t') as [{ 'Create Table': string }]
    const copy = store()
    copy.rows('DROP TABLE t')
    copy.rows(ddl)
    expect(copy.rows('SHOW CREATE TABLE t')).toEqual(s.rows('SHOW CREATE TABLE t'))
    expect(copy.rows('SHOW INDEX FROM t')).toEqual(s.rows('SHOW INDEX FROM t'))
  })

  test('foreign keys, and views', () => {
    const s = store()
    s.rows(
      'CREATE TABLE c (id INT PRIMARY KEY, tid INT UNSIGNED, CONSTRAINT fk FOREIGN KEY (tid) REFERENCES t (id) ON DELETE SET NULL)',
    )
    const [{ 'Create Table': ddl }] = s.rows('SHOW CREATE TABLE c') as [{ 'Create Table': string }]
    expect(ddl).toContain(
      '  KEY `fk` (`tid`),\n  CONSTRAINT `c_ibfk_1` FOREIGN KEY (`tid`) REFERENCES `t` (`id`) ON DELETE SET NULL\n)',
    )
    s.rows(
      "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW v AS SELECT id FROM t WHERE 'a\\_b' LIKE 'a\\_%'",
    )
    // MySQL's query as written (a dump of the store gives it back); SHOW CREATE TABLE of a view answers as MySQL does, in View and Create View.
    const view = {
      View: 'v',
      'Create View': "CREATE VIEW `v` AS SELECT id FROM t WHERE 'a\\_b' LIKE 'a\\_%'",
      character_set_client: 'utf8mb4',
      collation_connection: 'utf8mb4_general_ci',
    }
    expect(s.rows('SHOW CREATE VIEW v')).toEqual([view])
    expect(s.rows('SHOW CREATE TABLE v')).toEqual([view])
    expect(
      s.rows("SELECT VIEW_DEFINITION, SECURITY_TYPE FROM information_schema.VIEWS WHERE TABLE_NAME = 'v'"),
    ).toEqual([{ VIEW_DEFINITION: "SELECT id FROM t WHERE 'a\\_b' LIKE 'a\\_%'", SECURITY_TYPE: 'INVOKER' }])
  })

  test('SHOW TABLE STATUS and SHOW CREATE DATABASE', () => {
    expect(store().rows("SHOW TABLE STATUS LIKE 't'")).toMatchObject([
      { Name: 't', Engine: 'InnoDB', Collation: 'utf8mb4_general_ci' },
    ])
    expect(store().rows('SHOW CREATE DATABASE app')).toEqual([
      {
        Database: 'app',
        'Create Database': 'CREATE DATABASE `app` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci */',
      },
    ])
  })

  test('other SHOW statements and EXPLAIN of a statement are refused', () => {
    expect(() => store().translate("SHOW VARIABLES LIKE 'sql_mode'")).toThrow(
      'not supported on a SQLite store: SHOW VARIABLES',
    )
    expect(() => store().translate('EXPLAIN SELECT * FROM t')).toThrow('EXPLAIN of a statement')
    expect(store().translate('EXPLAIN QUERY PLAN SELECT * FROM t')).toEqual(['EXPLAIN QUERY PLAN SELECT * FROM t'])
  })
})
