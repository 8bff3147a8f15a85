import { expect, test } from 'bun:test'
import { join } from 'node:path'
import type { Entry } from '../src/entry.ts'
import { COMPILED_DDB, runDdb } from './support/ddb.ts'
import { freePort, tempDir } from './support/util.ts'

// The master's prompt runs only on a terminal, so the master runs under `script`, which gives it one.
test("the master's prompt keeps one session: BEGIN … COMMIT typed line by line is one entry", async () => {
  await using dir = await tempDir('ddb-prompt-')
  const log = join(dir.path, 'log.sqlite')
  const master = `${COMPILED_DDB} master --db sqlite:${join(dir.path, 'store.sqlite')} --log ${log} --listen 127.0.0.1:${await freePort()} --mysql-listen off`
  const proc = Bun.spawn(['script', '-qfec', master, '/dev/null'], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' })
  const lines = [
    'CREATE TABLE t (id INTEGER PRIMARY KEY);',
    'BEGIN;',
    'INSERT INTO t VALUES (1);',
    'INSERT INTO t VALUES (2);',
    'COMMIT;',
  ]
  let output = ''
  const reader = (async () => {
    for await (const chunk of proc.stdout) output += new TextDecoder().decode(chunk)
  })()
  // One line at a time, each after the previous answer, as a person types them.
  for (const [i, line] of lines.entries()) {
    proc.stdin.write(`${line}\n`)
    const answered = Date.now() + 10_000
    while ((output.match(/^OK/gm) ?? []).length <= i && Date.now() < answered) await Bun.sleep(20)
  }
  proc.stdin.end() // end of input (Ctrl-D) ends the prompt
  await proc.exited
  await reader
  expect(output).toContain('OK, offset 2 (2 rows affected)')
  const tail = await runDdb(['log', 'tail', '--log', log, '--json'])
  const entries = tail.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Entry)
  expect(entries.map((e) => e.statements.map((s) => s.sql))).toEqual([
    ['CREATE TABLE t (id INTEGER PRIMARY KEY)'],
    ['INSERT INTO t VALUES (1)', 'INSERT INTO t VALUES (2)'],
  ])
}, 30_000)
