import { describe, expect, test } from 'bun:test'
import { translatingSqlite } from '../../../test/support/translating-sqlite.ts'

/** The translating store with ddb's state table, users, posts and a view. */
function store(database: string | null = 'app') {
  const s = translatingSqlite({ database })
  s.db.run('CREATE TABLE ddb_state (id INTEGER PRIMARY KEY, applied_offset INTEGER NOT NULL)')
  s.rows(
    "CREATE TABLE `users` (`id` int unsigned not null auto_increment primary key, `name` varchar(255) NOT NULL DEFAULT 'anon', `email` varchar(100) COLLATE utf8mb4_bin, `kind` ENUM('a','b') DEFAULT 'a', `score` DECIMAL(8,2), `born` DATETIME(3), UNIQUE KEY `users_email_unique` (`email`), KEY `by_name` (`name`, `score`))",
  )
  s.rows(
    'CREATE TABLE posts (id BIGINT AUTO_INCREMENT PRIMARY KEY, user_id INT UNSIGNED NOT NULL, FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE)',
  )
  s.rows('CREATE VIEW names AS SELECT name FROM users')
  return s
}

describe('information_schema.TABLES', () => {
  test('knex hasTable: select * from information_schema.tables where table_name = ? and table_schema = database()', () => {
    const s = store()
    const found = s.rows(
      'select * from information_schema.tables where table_name = ? and table_schema = database()',
      'users',
    )
    expect(found).toHaveLength(1)
    expect(found[0]).toMatchObject({
      TABLE_SCHEMA: 'app',
      TABLE_NAME: 'users',
      TABLE_TYPE: 'BASE TABLE',
      ENGINE: 'InnoDB',
    })
    expect(
      s.rows('select * from information_schema.tables where table_name = ? and table_schema = database()', 'nope'),
    ).toEqual([])
  })

  test("Sequelize showAllTables: BASE TABLEs of the schema, ddb's and SQLite's own tables left out", () => {
    const s = store()
    const sql =
      "SELECT TABLE_NAME, TABLE_SCHEMA FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA = 'app' ORDER BY TABLE_NAME"
    expect(s.rows(sql)).toEqual([
      { TABLE_NAME: 'posts', TABLE_SCHEMA: 'app' },
      { TABLE_NAME: 'users', TABLE_SCHEMA: 'app' },
    ])
    // MySQL 8 names information_schema's columns in capitals whatever the query writes (MariaDB as written).
    expect(s.rows("SELECT t.table_name FROM `information_schema`.`TABLES` t WHERE t.table_type = 'VIEW'")).toEqual([
      { TABLE_NAME: 'names' },
    ])
  })

  test('SQLAlchemy has_table, and no database selected: DATABASE() is NULL and matches nothing (as in MySQL)', () => {
    const sql = 'SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = ?'
    expect(store().rows(sql, 'app', 'users')).toEqual([{ n: 1 }])
    expect(
      store(null).rows('SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE()'),
    ).toEqual([{ n: 0 }])
  })

  test('SCHEMATA has the selected database', () => {
    expect(
      store('shop').rows('SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.schemata'),
    ).toEqual([{ SCHEMA_NAME: 'shop', DEFAULT_CHARACTER_SET_NAME: 'utf8mb4' }])
  })
})

describe('information_schema.COLUMNS', () => {
  test('knex columnInfo: MySQL 8 types, defaults, nullability, keys, auto_increment', () => {
    const s = store()
    const columns = s.rows(
      'select COLUMN_NAME, COLUMN_DEFAULT, IS_NULLABLE, DATA_TYPE, COLUMN_TYPE, COLUMN_KEY, EXTRA, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, COLLATION_NAME from information_schema.columns where table_name = ? and table_schema = database() order by ORDINAL_POSITION',
      'users',
    )
    // What MySQL 8 reports for the same CREATE TABLE.
    expect(columns).toEqual([
      {
        COLUMN_NAME: 'id',
        COLUMN_DEFAULT: null,
        IS_NULLABLE: 'NO',
        DATA_TYPE: 'int',
        COLUMN_TYPE: 'int unsigned',
        COLUMN_KEY: 'PRI',
        EXTRA: 'auto_increment',
        CHARACTER_MAXIMUM_LENGTH: null,
        NUMERIC_PRECISION: 10,
        NUMERIC_SCALE: 0,
        DATETIME_PRECISION: null,
        COLLATION_NAME: null,
      },
      {
        COLUMN_NAME: 'name',
        COLUMN_DEFAULT: 'anon',
        IS_NULLABLE: 'NO',
        DATA_TYPE: 'varchar',
        COLUMN_TYPE: 'varchar(255)',
        COLUMN_KEY: 'MUL',
        EXTRA: '',
        CHARACTER_MAXIMUM_LENGTH: 255,
        NUMERIC_PRECISION: null,
        NUMERIC_SCALE: null,
        DATETIME_PRECISION: null,
        COLLATION_NAME: 'utf8mb4_general_ci',
      },
      {
        COLUMN_NAME: 'email',
        COLUMN_DEFAULT: null,
        IS_NULLABLE: 'YES',
        DATA_TYPE: 'varchar',
        COLUMN_TYPE: 'varchar(100)',
        COLUMN_KEY: 'UNI',
        EXTRA: '',
        CHARACTER_MAXIMUM_LENGTH: 100,
        NUMERIC_PRECISION: null,
        NUMERIC_SCALE: null,
        DATETIME_PRECISION: null,
        COLLATION_NAME: 'utf8mb4_bin',
      },
      {
        COLUMN_NAME: 'kind',
        COLUMN_DEFAULT: 'a',
        IS_NULLABLE: 'YES',
        DATA_TYPE: 'enum',
        COLUMN_TYPE: "enum('a','b')",
        COLUMN_KEY: '',
        EXTRA: '',
        CHARACTER_MAXIMUM_LENGTH: null,
        NUMERIC_PRECISION: null,
        NUMERIC_SCALE: null,
        DATETIME_PRECISION: null,
        COLLATION_NAME: 'utf8mb4_general_ci',
      },
      {
        COLUMN_NAME: 'score',
        COLUMN_DEFAULT: null,
        IS_NULLABLE: 'YES',
        DATA_TYPE: 'decimal',
        COLUMN_TYPE: 'decimal(8,2)',
        COLUMN_KEY: '',
        EXTRA: '',
        CHARACTER_MAXIMUM_LENGTH: null,
        NUMERIC_PRECISION: 8,
        NUMERIC_SCALE: 2,
        DATETIME_PRECISION: null,
        COLLATION_NAME: null,
      },
      {
        COLUMN_NAME: 'born',
        COLUMN_DEFAULT: null,
        IS_NULLABLE: 'YES',
        DATA_TYPE: 'datetime',
        COLUMN_TYPE: 'datetime(3)',
        COLUMN_KEY: '',
        EXTRA: '',
        CHARACTER_MAXIMUM_LENGTH: null,
        NUMERIC_PRECISION: null,
        NUMERIC_SCALE: null,
        DATETIME_PRECISION: 3,
        COLLATION_NAME: null,
      },
    ])
  })

  test('a view reports its columns; the catalog can be joined like any table', () => {
    const s = store()
    expect(
      s.rows(
        "SELECT c.COLUMN_NAME FROM information_schema.TABLES AS t JOIN information_schema.COLUMNS c ON c.TABLE_NAME = t.TABLE_NAME WHERE t.TABLE_TYPE = 'VIEW'",
      ),
    ).toEqual([{ COLUMN_NAME: 'name' }])
  })
})

describe('indexes and keys', () => {
  test('STATISTICS: one row per indexed column, the primary key as PRIMARY, index names as MySQL has them', () => {
    const s = store()
    expect(
      s.rows(
        "SELECT INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, NULLABLE FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'users' ORDER BY INDEX_NAME, SEQ_IN_INDEX",
      ),
    ).toEqual([
      { INDEX_NAME: 'PRIMARY', NON_UNIQUE: 0, SEQ_IN_INDEX: 1, COLUMN_NAME: 'id', NULLABLE: '' },
      { INDEX_NAME: 'by_name', NON_UNIQUE: 1, SEQ_IN_INDEX: 1, COLUMN_NAME: 'name', NULLABLE: '' },
      { INDEX_NAME: 'by_name', NON_UNIQUE: 1, SEQ_IN_INDEX: 2, COLUMN_NAME: 'score', NULLABLE: 'YES' },
      { INDEX_NAME: 'users_email_unique', NON_UNIQUE: 0, SEQ_IN_INDEX: 1, COLUMN_NAME: 'email', NULLABLE: 'YES' },
    ])
  })

  test('Sequelize getForeignKeysQuery on KEY_COLUMN_USAGE (MySQL names an unnamed key posts_ibfk_1)', () => {
    const s = store()
    const sql =
      "SELECT CONSTRAINT_NAME as constraint_name, CONSTRAINT_NAME as constraintName, TABLE_NAME as tableName, COLUMN_NAME as columnName, REFERENCED_TABLE_SCHEMA as referencedTableSchema, REFERENCED_TABLE_NAME as referencedTableName, REFERENCED_COLUMN_NAME as referencedColumnName FROM INFORMATION_SCHEMA.KEY_COLUMN_USAGE where TABLE_NAME = 'posts' AND CONSTRAINT_NAME!='PRIMARY' AND CONSTRAINT_SCHEMA='app' AND REFERENCED_TABLE_NAME IS NOT NULL;"
    expect(s.rows(sql)).toEqual([
      {
        constraint_name: 'posts_ibfk_1',
        constraintName: 'posts_ibfk_1',
        tableName: 'posts',
        columnName: 'user_id',
        referencedTableSchema: 'app',
        referencedTableName: 'users',
        referencedColumnName: 'id',
      },
    ])
    expect(
      s.rows(
        "SELECT CONSTRAINT_NAME, CONSTRAINT_TYPE FROM information_schema.table_constraints WHERE TABLE_NAME = 'posts' ORDER BY 1",
      ),
    ).toEqual([
      { CONSTRAINT_NAME: 'PRIMARY', CONSTRAINT_TYPE: 'PRIMARY KEY' },
      { CONSTRAINT_NAME: 'posts_ibfk_1', CONSTRAINT_TYPE: 'FOREIGN KEY' },
    ])
    expect(s.rows('SELECT DELETE_RULE, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS')).toEqual(
      [{ DELETE_RULE: 'CASCADE', REFERENCED_TABLE_NAME: 'users' }],
    )
  })

  test("mariadb-dump's tablespace queries: FILES has no rows (no tablespaces, as MariaDB's), PARTITIONS one per table", () => {
    const s = store()
    expect(
      s.rows(
        "SELECT LOGFILE_GROUP_NAME, FILE_NAME, TOTAL_EXTENTS, INITIAL_SIZE, ENGINE, EXTRA FROM INFORMATION_SCHEMA.FILES WHERE FILE_TYPE = 'UNDO LOG' AND FILE_NAME IS NOT NULL AND LOGFILE_GROUP_NAME IS NOT NULL AND LOGFILE_GROUP_NAME IN (SELECT DISTINCT LOGFILE_GROUP_NAME FROM INFORMATION_SCHEMA.FILES WHERE FILE_TYPE = 'DATAFILE' AND TABLESPACE_NAME IN (SELECT DISTINCT TABLESPACE_NAME FROM INFORMATION_SCHEMA.PARTITIONS WHERE TABLE_SCHEMA IN ('app'))) GROUP BY LOGFILE_GROUP_NAME, FILE_NAME, ENGINE, TOTAL_EXTENTS, INITIAL_SIZE ORDER BY LOGFILE_GROUP_NAME",
      ),
    ).toEqual([])
    expect(
      s.rows(
        'SELECT TABLE_NAME, PARTITION_NAME, TABLESPACE_NAME FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1',
      ),
    ).toEqual([
      { TABLE_NAME: 'posts', PARTITION_NAME: null, TABLESPACE_NAME: null },
      { TABLE_NAME: 'users', PARTITION_NAME: null, TABLESPACE_NAME: null },
    ])
    expect(s.rows('SELECT ROUTINE_NAME FROM information_schema.ROUTINES')).toEqual([])
  })

  test('other information_schema tables are refused', () => {
    expect(() => store().translate('SELECT * FROM information_schema.processlist')).toThrow(
      'not supported on a SQLite store: information_schema.processlist (a SQLite store has only TABLES, COLUMNS',
    )
  })
})
