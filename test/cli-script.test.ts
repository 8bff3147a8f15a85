import { describe, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Entry } from '../src/entry.ts'
import { withCluster } from './support/cluster.ts'
import { ddbCommand, rowsOf, runDdb, waitApplied } from './support/ddb.ts'

/** A shell word for `text`. */
const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`

/** Runs a bash command line in which `ddb` runs ddb from source; returns its status and output. */
async function sh(line: string, env: Record<string, string> = {}) {
  const ddb = `ddb() { ${ddbCommand().map(quote).join(' ')} "$@"; }`
  const proc = Bun.spawn(['bash', '-c', `${ddb}\n${line}`], {
    stdout: 'pipe',
    stderr: 'pipe',
    stdin: 'ignore',
    env: { ...process.env, ...env },
    timeout: 60_000,
  })
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  return { code, stdout, stderr }
}

/** Writes a script file into `dir`; returns its path. */
function scriptFile(dir: string, name: string, text: string): string {
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}

/** The SQL of every entry of a log, one array per entry. */
async function entries(log: string): Promise<string[][]> {
  const tail = await runDdb(['log', 'tail', '--log', log, '--from', '1', '--json'])
  return tail.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as Entry).statements.map((s) => s.sql))
}

describe('ddb sql reads a script from stdin or --file', () => {
  const script = [
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);',
    '-- a comment; with a semicolon',
    'BEGIN;',
    "INSERT INTO t (id, v) VALUES (1, 'a;b'),",
    "  (2, 'two');",
    "INSERT INTO t (id, v) VALUES (3, 'it''s');  /* a comment",
    '   over two lines; */ COMMIT;',
    'SELECT COUNT(*) AS n FROM t;',
  ].join('\n')

  for (const [how, line] of [
    ['ddb sql < file', 'ddb sql --to "$TO" < "$FILE"'],
    ['cat file | ddb sql', 'cat "$FILE" | ddb sql --to "$TO"'],
    ['ddb sql --file file', 'ddb sql --to "$TO" --file "$FILE"'],
  ] as const) {
    test(`${how}: every statement runs, in order, on one session (BEGIN … COMMIT is one entry)`, async () => {
      await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
      const file = scriptFile(cluster.dir, 'script.sql', script)
      const r = await sh(line, { TO: cluster.master.address, FILE: file })
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/\| n +\|\n\+-+\+\n\| 3 +\|/)
      expect(await entries(cluster.log)).toEqual([
        ['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)'],
        ["INSERT INTO t (id, v) VALUES (1, 'a;b'),\n  (2, 'two')", "INSERT INTO t (id, v) VALUES (3, 'it''s')"],
      ])
    })
  }

  test('USE carries over from statement to statement (MySQL store)', async () => {
    await using cluster = await withCluster({ store: 'mysql', slaves: 0 })
    const file = scriptFile(
      cluster.dir,
      'use.sql',
      'CREATE DATABASE other;\nUSE other;\nCREATE TABLE u (id INT PRIMARY KEY);\nINSERT INTO u VALUES (1);\n',
    )
    const r = await sh('ddb sql --to "$TO" --json < "$FILE"', { TO: cluster.master.address, FILE: file })
    expect(r.stderr).toBe('')
    expect(rowsOf(await (await cluster.master.client()).query('SELECT id FROM other.u'))).toEqual([{ id: 1 }])
  })

  const failing = [
    'CREATE TABLE e (id INTEGER PRIMARY KEY);',
    'INSERT INTO e VALUES (1);',
    '',
    'INSERT INTO e VALUES',
    '  (1);',
    'INSERT INTO e VALUES (2);',
    'SELECT * FROM nowhere;',
    'INSERT INTO e VALUES (3);',
  ].join('\n')

  test('stops at the first error, named with its line, and exits 1', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
    const file = scriptFile(cluster.dir, 'failing.sql', failing)
    const r = await sh('ddb sql --to "$TO" < "$FILE"', { TO: cluster.master.address, FILE: file })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^ddb: ERROR at line 4: .*UNIQUE constraint failed: e\.id\n$/)
    expect(rowsOf(await (await cluster.master.client()).query('SELECT id FROM e'))).toEqual([{ id: 1 }])
  })

  test('--force goes on after each error, reports each, and still exits 1', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
    const file = scriptFile(cluster.dir, 'failing.sql', failing)
    const r = await sh('cat "$FILE" | ddb sql --to "$TO" --force --json', { TO: cluster.master.address, FILE: file })
    expect(r.code).toBe(1)
    const errors = r.stderr.trim().split('\n')
    expect(errors).toHaveLength(2)
    expect(errors[0]).toMatch(/^ddb: ERROR at line 4: .*UNIQUE/)
    expect(errors[1]).toMatch(/^ddb: ERROR at line 7: no such table: nowhere$/)
    expect(rowsOf(await (await cluster.master.client()).query('SELECT id FROM e'))).toEqual([
      { id: 1 },
      { id: 2 },
      { id: 3 },
    ])
  })

  test('--mysql: errors as the mysql client prints them, with the line', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0, mysql: true })
    const file = scriptFile(cluster.dir, 'mysql.sql', 'SELECT 1;\n\nSELECT * FROM nowhere;\nSELECT 2;\n')
    const to = `127.0.0.1:${await cluster.mysqlPort(cluster.master)}`
    const r = await sh('ddb sql --mysql --to "$TO" --file "$FILE"', { TO: to, FILE: file })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^ddb: ERROR 1146 \(42S02\) at line 3: .*nowhere.*\n$/)
    expect(r.stdout).toMatch(/^\+---\+\n\| 1 \|\n\+---\+\n\| 1 \|\n\+---\+\n1 row in set/)
  })

  test('DELIMITER, as mysqldump writes triggers', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
    const file = scriptFile(
      cluster.dir,
      'delimiter.sql',
      [
        'CREATE TABLE a (id INTEGER PRIMARY KEY);',
        'CREATE TABLE b (id INTEGER);',
        'DELIMITER ;;',
        'CREATE TRIGGER ab AFTER INSERT ON a BEGIN',
        '  INSERT INTO b VALUES (NEW.id);',
        'END ;;',
        'DELIMITER ;',
        'INSERT INTO a VALUES (5);',
      ].join('\n'),
    )
    const r = await sh('ddb sql --to "$TO" < "$FILE"', { TO: cluster.master.address, FILE: file })
    expect(r.stderr).toBe('')
    expect(rowsOf(await (await cluster.master.client()).query('SELECT id FROM b'))).toEqual([{ id: 5 }])
  })

  test('a script of 20,000 statements runs through in order', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
    const inserts = Array.from({ length: 20_000 }, (_, i) => `INSERT INTO big VALUES (${i + 1});`)
    const lines = ['CREATE TABLE big (id INTEGER PRIMARY KEY);', 'BEGIN;', ...inserts, 'COMMIT;']
    const file = scriptFile(cluster.dir, 'big.sql', lines.join('\n'))
    const r = await sh('ddb sql --to "$TO" --json < "$FILE" | tail -1', { TO: cluster.master.address, FILE: file })
    expect(r.stderr).toBe('')
    expect(JSON.parse(r.stdout)).toMatchObject({ offset: 2 })
    const [row] = rowsOf(await (await cluster.master.client()).query('SELECT COUNT(*) AS n, MAX(id) AS m FROM big'))
    expect(row).toEqual({ n: 20_000, m: 20_000 })
  })

  test('a statement argument with a script, or --param with a script, is a usage error', async () => {
    const both = await runDdb(['sql', 'SELECT 1', '--file', '/dev/null', '--to', '127.0.0.1:1'])
    expect(both.code).toBe(2)
    expect(both.stderr).toBe('ddb: give a statement or --file, not both\n')
    const params = await runDdb(['sql', '--file', '/dev/null', '--param', '1', '--to', '127.0.0.1:1'])
    expect(params.code).toBe(2)
    const missing = await runDdb(['sql', '--file', '/nonexistent/x.sql', '--to', '127.0.0.1:1'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toBe('ddb: cannot read /nonexistent/x.sql: no such file\n')
  })
})

describe('a reader that goes away (EPIPE) ends ddb quietly, as SIGPIPE ends a Unix tool', () => {
  test('ddb log tail | head -1, and ddb sql | head -1: status 141, nothing on stderr, no statement after', async () => {
    await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
    const pad = 'x'.repeat(200)
    const selects = Array.from({ length: 3_000 }, (_, i) => `SELECT ${i} AS n, '${pad}' AS pad;`)
    const lines = ['CREATE TABLE before_pipe (id INTEGER);', ...selects, 'CREATE TABLE after_pipe (id INTEGER);']
    const file = scriptFile(cluster.dir, 'many.sql', lines.join('\n'))
    const env = { TO: cluster.master.address, FILE: file, LOG: cluster.log }
    const sql = await sh('ddb sql --to "$TO" < "$FILE" | head -1; echo "status=$PIPESTATUS"', env)
    expect(sql.stderr).toBe('')
    expect(sql.stdout).toBe('OK, offset 1 (0 rows affected)\nstatus=141\n')
    // It stopped when the pipe closed: the script's last statement never ran.
    expect(await entries(cluster.log)).toEqual([['CREATE TABLE before_pipe (id INTEGER)']])

    await (await cluster.master.client()).query(selects.map(() => 'INSERT INTO before_pipe VALUES (1)').join(';'))
    const tail = await sh('ddb log tail --log "$LOG" --from 1 | head -1; echo "status=$PIPESTATUS"', env)
    expect(tail.stderr).toBe('')
    expect(tail.stdout).toMatch(/^#1 .* CREATE TABLE before_pipe \(id INTEGER\)\nstatus=141\n$/)
    const follow = await sh('ddb log tail --log "$LOG" --follow -n 3000 | head -1; echo "status=$PIPESTATUS"', env)
    expect(follow.stderr).toBe('')
    expect(follow.stdout).toMatch(/status=141\n$/)
  })
})

describe('ddb sql --params: typed parameters', () => {
  test('null, numbers, booleans and text, bound as JSON gives them; --param stays text', async () => {
    await using cluster = await withCluster({ store: 'sqlite' })
    const { master, slave, log } = cluster
    await runDdb(['sql', 'CREATE TABLE p (id INTEGER PRIMARY KEY, n REAL, v TEXT, b INTEGER)', '--to', master.address])
    const insert = await runDdb([
      'sql',
      'INSERT INTO p (id, n, v, b) VALUES (?, ?, ?, ?)',
      '--params',
      '[7, 1.5, null, true]',
      '--to',
      master.address,
      '--json',
    ])
    expect(insert.stderr).toBe('')
    const text = await runDdb([
      'sql',
      'INSERT INTO p (id, v) VALUES (?, ?)',
      '--param',
      '8',
      '--param',
      'NULL',
      '--to',
      master.address,
    ])
    expect(text.code).toBe(0)
    const tail = await runDdb(['log', 'tail', '--log', log, '-n', '2', '--json'])
    const [typed, texts] = tail.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as Entry).statements[0]!.params)
    expect(typed).toEqual([7, 1.5, null, true])
    expect(texts).toEqual(['8', 'NULL'])
    // The slave replays the entry with the same typed values.
    await waitApplied(slave, 3)
    const read = await runDdb([
      'sql',
      'SELECT id, n, v IS NULL AS v_null, b FROM p WHERE id = ?',
      '--params',
      '[7]',
      '--to',
      slave.address,
      '--json',
    ])
    expect(read.stderr).toBe('')
    expect(JSON.parse(read.stdout)).toEqual({ rows: [{ id: 7, n: 1.5, v_null: 1, b: 1 }] })
  })

  test('bad --params, or --param with --params, is a usage error', async () => {
    for (const bad of ['{"a":1}', '[1, [2]]', 'nope', '[{"$bytes":"AA=="}]']) {
      const r = await runDdb(['sql', 'SELECT ?', '--params', bad, '--to', '127.0.0.1:1'])
      expect(r.code).toBe(2)
      expect(r.stderr).toBe(
        `ddb: invalid --params ${bad}: expected a JSON array of strings, numbers, true, false and null\n`,
      )
    }
    const both = await runDdb(['sql', 'SELECT ?', '--params', '[1]', '--param', '1', '--to', '127.0.0.1:1'])
    expect(both.code).toBe(2)
    expect(both.stderr).toBe('ddb: give --param or --params, not both\n')
  })
})
