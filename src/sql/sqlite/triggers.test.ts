import { describe, expect, test } from 'bun:test'
import { translatingSqlite } from '../../../test/support/translating-sqlite.ts'

/** The translating store with tables books and audit. */
function store(sqlMode = 'STRICT_TRANS_TABLES') {
  const s = translatingSqlite({ sqlMode })
  s.rows('CREATE TABLE books (id INT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(20), n INT)')
  s.rows('CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, book_id INT NOT NULL, action VARCHAR(20) NOT NULL)')
  return { ...s, run: s.rows }
}

/** What mariadb-dump writes for a trigger, once the session resolved its executable comments. */
const DUMPED = `CREATE DEFINER=\`root\`@\`127.0.0.1\` TRIGGER books_after_insert AFTER INSERT ON books FOR EACH ROW
  INSERT INTO audit (book_id, action) VALUES (NEW.id, 'insert') `

describe('CREATE TRIGGER', () => {
  test("a dump's trigger: DEFINER goes, the body is translated like any statement, and it fires as in MySQL", () => {
    const s = store()
    const [create] = s.translate(DUMPED)
    expect(create).toStartWith(
      'CREATE TRIGGER `books_after_insert` AFTER INSERT ON `books` FOR EACH ROW BEGIN /*mysql_trigger 494E53',
    )
    expect(create).toEndWith(
      " STRICT_TRANS_TABLES*/ INSERT INTO audit (book_id, action) VALUES (NEW.id, 'insert'); END",
    )
    s.run(DUMPED)
    s.run("INSERT INTO books (title) VALUES ('a'), ('b')")
    expect(s.values('SELECT book_id, action FROM audit ORDER BY id')).toEqual([
      [1, 'insert'],
      [2, 'insert'],
    ])
  })

  test('BEGIN … END with several statements, NEW and OLD, a label, OR REPLACE and IF NOT EXISTS; DROP TRIGGER db.name', () => {
    const s = store()
    s.run(`CREATE TRIGGER books_au AFTER UPDATE ON books FOR EACH ROW body: BEGIN
      INSERT INTO audit SET book_id = OLD.id, action = CONCAT('was ', OLD.title);
      UPDATE audit SET action = CONCAT(action, ' now ', NEW.title) WHERE book_id = NEW.id;
    END body`)
    s.run("INSERT INTO books (title) VALUES ('a')")
    s.run("UPDATE books SET title = 'b'")
    expect(s.values('SELECT action FROM audit')).toEqual([['was a now b']])
    s.run(
      "CREATE OR REPLACE TRIGGER books_au AFTER UPDATE ON books FOR EACH ROW DELETE FROM audit WHERE action LIKE 'was\\\\_%'",
    )
    s.run('CREATE TRIGGER IF NOT EXISTS books_au AFTER UPDATE ON books FOR EACH ROW DELETE FROM audit')
    s.run("UPDATE books SET title = 'c'")
    expect(s.values('SELECT action FROM audit')).toEqual([['was a now b']]) // 'was a' does not match was\_: the escape kept
    s.run('DROP TRIGGER IF EXISTS app.books_au')
    expect(s.values("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'")).toEqual([[0]])
  })

  test('the sql_mode it was created under applies to its body (NO_AUTO_VALUE_ON_ZERO)', () => {
    const s = store('NO_AUTO_VALUE_ON_ZERO')
    s.run('CREATE TRIGGER books_ai AFTER INSERT ON books FOR EACH ROW INSERT INTO audit VALUES (0, NEW.id, NEW.title)')
    s.run("INSERT INTO books (title) VALUES ('a')")
    expect(s.values('SELECT id, book_id, action FROM audit')).toEqual([[0, 1, 'a']])
  })

  test.each([
    [
      'CREATE TRIGGER b BEFORE INSERT ON books FOR EACH ROW SET NEW.n = 1',
      "a trigger's SET (SET NEW.col = … changes the row being written",
    ],
    [
      'CREATE TRIGGER b BEFORE INSERT ON books FOR EACH ROW BEGIN DECLARE x INT; INSERT INTO audit (book_id, action) VALUES (1, x); END',
      "a trigger's DECLARE (SQLite's triggers have no local variables)",
    ],
    [
      "CREATE TRIGGER b BEFORE INSERT ON books FOR EACH ROW BEGIN IF NEW.n < 0 THEN SIGNAL SQLSTATE '45000'; END IF; END",
      "a trigger's IF",
    ],
    [
      'CREATE TRIGGER b AFTER INSERT ON books FOR EACH ROW FOLLOWS other INSERT INTO audit (book_id, action) VALUES (1, 2)',
      'FOLLOWS in a trigger',
    ],
    [
      'CREATE TRIGGER b AFTER INSERT ON books FOR EACH ROW UPDATE books SET n = 1',
      'a trigger on books that writes books (MySQL refuses it when the trigger fires',
    ],
    [
      "CREATE TRIGGER b BEFORE INSERT ON books FOR EACH ROW INSERT INTO audit (book_id, action) VALUES (NEW.id, 'x')",
      'NEW.id in a BEFORE INSERT trigger (the AUTO_INCREMENT id is not generated yet: MySQL has 0 there, SQLite -1',
    ],
    [
      'CREATE TRIGGER b AFTER DELETE ON books FOR EACH ROW INSERT INTO audit () VALUES ()',
      "INSERT … VALUES () in a trigger (SQLite's triggers cannot INSERT … DEFAULT VALUES",
    ],
    [
      'CREATE TRIGGER b AFTER INSERT ON books FOR EACH ROW INSERT INTO audit (book_id, action) VALUES (LAST_INSERT_ID(), 1)',
      'LAST_INSERT_ID()',
    ],
  ])('%s is refused', (sql, message) => {
    expect(() => store().translate(sql)).toThrow(`not supported on a SQLite store: ${message}`)
  })

  test('a second trigger for the same table, time and event is refused: SQLite fires them newest first, MySQL in order', () => {
    const s = store()
    s.run(DUMPED)
    expect(() =>
      s.translate(
        "CREATE TRIGGER two AFTER INSERT ON books FOR EACH ROW INSERT INTO audit (book_id, action) VALUES (1, 'x')",
      ),
    ).toThrow('a second AFTER INSERT trigger on books (books_after_insert is one)')
    s.run("CREATE TRIGGER two BEFORE INSERT ON books FOR EACH ROW INSERT INTO audit (book_id, action) VALUES (1, 'x')")
  })

  test("REPLACE into a table with a DELETE trigger is refused: SQLite's REPLACE does not fire it, MySQL's does", () => {
    const s = store()
    s.run(
      "CREATE TRIGGER books_ad AFTER DELETE ON books FOR EACH ROW INSERT INTO audit (book_id, action) VALUES (OLD.id, 'delete')",
    )
    expect(() => s.translate("REPLACE INTO books (id, title) VALUES (1, 'a')")).toThrow(
      'REPLACE into books, which has a DELETE trigger',
    )
  })
})

describe('triggers in the catalog, as a dump of the store reads them', () => {
  test('information_schema.TRIGGERS, SHOW TRIGGERS and SHOW CREATE TRIGGER give the MySQL body as written', () => {
    const s = store()
    s.run(DUMPED)
    expect(
      s.run(
        "SELECT TRIGGER_NAME, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, ACTION_TIMING, ACTION_STATEMENT, SQL_MODE FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = 'books'",
      ),
    ).toEqual([
      {
        TRIGGER_NAME: 'books_after_insert',
        EVENT_MANIPULATION: 'INSERT',
        EVENT_OBJECT_TABLE: 'books',
        ACTION_TIMING: 'AFTER',
        ACTION_STATEMENT: "INSERT INTO audit (book_id, action) VALUES (NEW.id, 'insert')",
        SQL_MODE: 'STRICT_TRANS_TABLES',
      },
    ])
    expect(s.run('SHOW CREATE TRIGGER `books_after_insert`')).toMatchObject([
      {
        Trigger: 'books_after_insert',
        sql_mode: 'STRICT_TRANS_TABLES',
        'SQL Original Statement':
          "CREATE TRIGGER `books_after_insert` AFTER INSERT ON `books` FOR EACH ROW INSERT INTO audit (book_id, action) VALUES (NEW.id, 'insert')",
      },
    ])
    expect(s.run("SHOW TRIGGERS LIKE 'books'")).toMatchObject([
      { Trigger: 'books_after_insert', Event: 'INSERT', Table: 'books', Timing: 'AFTER' },
    ])
    expect(s.run("SHOW TRIGGERS LIKE 'audit'")).toEqual([])
  })

  test("SQLite's own triggers are shown too, with SQLite's body", () => {
    const s = store()
    s.db.run("CREATE TRIGGER own BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'kept'); END")
    expect(
      s.run(
        'SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT FROM information_schema.TRIGGERS',
      ),
    ).toEqual([
      {
        TRIGGER_NAME: 'own',
        ACTION_TIMING: 'BEFORE',
        EVENT_MANIPULATION: 'DELETE',
        ACTION_STATEMENT: "BEGIN SELECT RAISE(ABORT, 'kept'); END",
      },
    ])
  })
})
