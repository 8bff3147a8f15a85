import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { Entry } from '../src/entry.ts'
import { withCluster } from './support/cluster.ts'
import { COMPILED_DDB, runDdb } from './support/ddb.ts'
import { freePort, type TempDir, tempDir, waitFor } from './support/util.ts'

/**
 * A command on a terminal of its own: `script` gives it a pseudo-terminal, and
 * what we type goes through the terminal's line discipline as keys do (Ctrl-C
 * is a byte the prompt reads in raw mode, and SIGINT once the terminal is back
 * in cooked mode). Everything the command writes, stdout and stderr, is `output()`.
 * `command` is a line for /bin/sh (script runs `$SHELL -c`, so SHELL is pinned):
 * it `exec`s the program, or Ctrl-C's SIGINT would end the shell around it
 * (dash dies of it; bash happens to exec a lone command itself).
 */
function onTerminal(command: string, env: Record<string, string> = {}) {
  const proc = Bun.spawn(['script', '-qfec', command, '/dev/null'], {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    env: { ...process.env, SHELL: '/bin/sh', ...env },
  })
  let output = ''
  const read = (async () => {
    for await (const chunk of proc.stdout) output += new TextDecoder().decode(chunk)
  })()
  return {
    proc,
    output: () => output,
    /** The exit status, once everything the command wrote has been read too. */
    exited: async () => {
      const code = await proc.exited
      await read
      return code
    },
    type: (keys: string) => {
      proc.stdin.write(keys)
      proc.stdin.flush()
    },
    /** Waits until the output (from `from` on) matches. */
    until: (pattern: RegExp, what: string, from = 0) =>
      waitFor(() => pattern.test(output.slice(from)), {
        timeoutMs: 15_000,
        what: `${what} in ${JSON.stringify(output)}`,
      }),
    [Symbol.asyncDispose]: async () => {
      if (proc.exitCode === null) proc.kill(9)
      await proc.exited
    },
  }
}

const CTRL_C = '\x03'
const CTRL_D = '\x04'

/** A master command line on `dir`, on a free port. */
async function masterCommand(dir: TempDir, extra = ''): Promise<{ command: string; address: string; log: string }> {
  const address = `127.0.0.1:${await freePort()}`
  const log = join(dir.path, 'log.sqlite')
  const command = `${COMPILED_DDB} master --db sqlite:${join(dir.path, 'store.sqlite')} --log ${log} --listen ${address} --mysql-listen off ${extra}`
  return { command, address, log }
}

/** True when a ddb port answers the handshake at `address`. */
async function answers(address: string): Promise<boolean> {
  const r = await runDdb(['sql', 'SELECT 1', '--to', address, '--json'])
  return r.code === 0
}

test("the master's prompt keeps one session: BEGIN … COMMIT typed line by line is one entry", async () => {
  await using dir = await tempDir('ddb-prompt-')
  const { command, log } = await masterCommand(dir)
  await using term = onTerminal(`exec ${command}`)
  await term.until(/ddb> /, 'the prompt')
  const lines = [
    'CREATE TABLE t (id INTEGER PRIMARY KEY);',
    'BEGIN;',
    'INSERT INTO t VALUES (1);',
    'INSERT INTO t VALUES (2);',
    'COMMIT;',
  ]
  // One line at a time, each after the previous answer, as a person types them.
  for (const [i, line] of lines.entries()) {
    term.type(`${line}\n`)
    await term.until(new RegExp(`(^OK[^]*){${i + 1}}`, 'm'), `answer ${i + 1}`)
  }
  expect(term.output()).toContain('OK, offset 2 (2 rows affected)')
  const tail = await runDdb(['log', 'tail', '--log', log, '--json'])
  const entries = tail.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Entry)
  expect(entries.map((e) => e.statements.map((s) => s.sql))).toEqual([
    ['CREATE TABLE t (id INTEGER PRIMARY KEY)'],
    ['INSERT INTO t VALUES (1)', 'INSERT INTO t VALUES (2)'],
  ])
}, 60_000)

test("the master's prompt: Ctrl-C drops the line, log lines print above it, Ctrl-D leaves it and the master runs on until Ctrl-C", async () => {
  await using dir = await tempDir('ddb-prompt-')
  const { command, address } = await masterCommand(dir)
  await using term = onTerminal(`exec ${command}`)
  await term.until(/ddb> /, 'the prompt')

  // Ctrl-C drops what was typed (a statement begun on an earlier line too) and the master goes on.
  term.type('SELECT 1 AS dropped,\n  2 AS too')
  await term.until(/too/, 'the typed text')
  term.type(CTRL_C)
  await term.until(/\^C\r?\n/, 'Ctrl-C')
  term.type('SELECT 3 AS kept;\n')
  await term.until(/\| kept \|/, 'the next statement')
  expect(term.output()).not.toContain('dropped |')
  expect(await answers(address)).toBe(true)

  // A log line while the prompt waits: the line is cleared, the log line printed, the prompt and the typed text drawn again.
  const typed = term.output().length
  term.type('SEL')
  await term.until(/SEL/, 'the typed text', typed) // its echo, not the SELECT typed before
  const before = term.output().length
  const socket = connect(Number(address.split(':')[1]), '127.0.0.1')
  socket.on('error', () => {})
  socket.end('not a frame at all\n') // the master logs why it closed this connection
  await term.until(/WARN connection closed[^\n]*\n[^\n]*ddb> [^\n]*SEL/, 'the log line above the prompt', before)
  const clearLine = '\x1b[1G\x1b[0J' // to column 1, erase to the end of the screen
  const redrawn = term.output().slice(before)
  expect(redrawn.startsWith(clearLine)).toBe(true)
  expect(redrawn.slice(clearLine.length)).toMatch(/^\d{4}-\S+ WARN connection closed/)
  term.type('\x15') // Ctrl-U: the line is empty again

  // Ctrl-D leaves the prompt; the master says so, keeps serving, and Ctrl-C (now a signal) stops it.
  term.type(CTRL_D)
  await term.until(/prompt closed; the master keeps running .*stop="Ctrl-C or kill \d+"/, 'the prompt to close')
  expect(term.proc.exitCode).toBe(null)
  expect(await answers(address)).toBe(true)
  term.type(CTRL_C)
  expect(await term.exited()).toBe(0)
  expect(term.output()).toMatch(/INFO master stopping node=master signal=SIGINT/)
}, 60_000)

test('SIGTERM stops a master whose prompt is open, with a stopping line and status 0', async () => {
  await using dir = await tempDir('ddb-prompt-')
  const { command } = await masterCommand(dir)
  await using term = onTerminal(`echo "pid=$$"; exec ${command}`)
  await term.until(/ddb> /, 'the prompt')
  const pid = Number(/pid=(\d+)/.exec(term.output())?.[1])
  process.kill(pid, 'SIGTERM')
  expect(await term.exited()).toBe(0)
  expect(term.output()).toMatch(/INFO master stopping node=master signal=SIGTERM/)
}, 60_000)

for (const [how, extra, env] of [
  ['--no-prompt', '--no-prompt', {}],
  ['DDB_NO_PROMPT=1', '', { DDB_NO_PROMPT: '1' }],
] as const) {
  test(`${how}: a master on a terminal gives no prompt, and Ctrl-C stops it`, async () => {
    await using dir = await tempDir('ddb-prompt-')
    const { command, address } = await masterCommand(dir, extra)
    await using term = onTerminal(`exec ${command}`, env)
    await term.until(/master started/, 'the master')
    await waitFor(() => answers(address), { timeoutMs: 15_000, what: 'the master to answer' })
    expect(term.output()).not.toContain('ddb> ')
    term.type(CTRL_C)
    expect(await term.exited()).toBe(0)
    expect(term.output()).toContain('master stopping')
  }, 60_000)
}

test('a master started in the background (`ddb master &`) never touches the terminal, so it is not stopped', async () => {
  await using dir = await tempDir('ddb-prompt-')
  const { command, address } = await masterCommand(dir)
  // An interactive shell's `&`: job control on, the job in a process group of its own, stdin still the terminal.
  await using term = onTerminal(`exec bash -c 'set -m; ${command} & echo "pid=$!"; wait'`)
  await term.until(/pid=\d+/, 'the job')
  const pid = Number(/pid=(\d+)/.exec(term.output())?.[1])
  try {
    await waitFor(() => answers(address), { timeoutMs: 15_000, what: 'the background master to answer' })
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0]
    expect(state).not.toBe('T') // T: stopped, as by SIGTTOU
    expect(term.output()).not.toContain('ddb> ')
  } finally {
    process.kill(pid, 'SIGKILL')
  }
}, 60_000)

test("`ddb sql`'s shell: Ctrl-C drops the line and the shell goes on; Ctrl-D leaves it", async () => {
  await using cluster = await withCluster({ store: 'sqlite', slaves: 0 })
  await using term = onTerminal(`exec ${COMPILED_DDB} sql --to ${cluster.master.address}`)
  await term.until(/master@[^>]*> /, 'the prompt')
  term.type('SELECT 1 AS dropped')
  await term.until(/dropped/, 'the typed text')
  term.type(CTRL_C)
  await term.until(/\^C/, 'Ctrl-C')
  term.type('SELECT 2 AS kept;\n')
  await term.until(/\| kept \|/, 'the next statement')
  expect(term.output()).not.toContain('dropped |')
  expect(term.proc.exitCode).toBe(null)
  term.type(CTRL_D)
  expect(await term.exited()).toBe(0)
}, 60_000)
