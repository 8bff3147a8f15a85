import { appendFileSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { clearScreenDown, createInterface, cursorTo } from 'node:readline'
import { setLogOutput } from '../logger.ts'

const HISTORY_FILE = join(homedir(), '.ddb_history')
const HISTORY_SIZE = 1_000

/**
 * An interactive SQL prompt with line editing and history (~/.ddb_history).
 * A statement may span lines; it runs when a line ends with ';'. Ctrl-C drops
 * the line (and a statement begun on earlier lines); `exit`, `quit` or end of
 * input (Ctrl-D) leaves. While it waits for input, log lines are printed above
 * it, and it is drawn again below them. Resolves when the shell ends, or when
 * `stop` is aborted (the terminal is given back either way).
 */
export async function runShell(
  prompt: string,
  execute: (sql: string) => Promise<void>,
  stop?: AbortSignal,
): Promise<void> {
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt,
    history: loadHistory(),
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
  })
  let pending = ''
  let showing = false // the prompt is on the screen, waiting for a line
  let running = false // a statement is running: it cannot be called back, so Ctrl-C waits for the prompt
  const ask = (text: string) => {
    rl.setPrompt(text)
    rl.prompt()
    showing = true
    setLogOutput((line) => {
      cursorTo(process.stdout, 0)
      clearScreenDown(process.stdout)
      process.stderr.write(line)
      rl.prompt(true) // the prompt and what was typed so far, the cursor where it was
    })
  }
  rl.on('SIGINT', () => {
    if (running) return
    process.stdout.write('^C\n')
    pending = ''
    rl.write(null, { ctrl: true, name: 'e' })
    rl.write(null, { ctrl: true, name: 'u' }) // readline keeps the line it was editing; empty it
    ask(prompt)
  })
  const close = () => rl.close()
  stop?.addEventListener('abort', close)
  try {
    ask(prompt)
    for await (const line of rl) {
      showing = false
      setLogOutput(null) // a statement's output and log lines go out as they come
      const text = (pending ? `${pending}\n` : '') + line
      const word = text.trim().replace(/;$/, '').toLowerCase()
      if (!pending && (word === 'exit' || word === 'quit' || word === '\\q')) break
      if (text.trim() !== '' && !text.trimEnd().endsWith(';')) {
        pending = text
        ask(`${' '.repeat(Math.max(0, prompt.length - 3))}-> `)
        continue
      }
      if (text.trim() !== '') {
        pending = ''
        saveHistory(text.replace(/\n/g, ' '))
        running = true
        await execute(text).finally(() => {
          running = false
        })
      }
      ask(prompt)
    }
  } finally {
    if (showing) process.stdout.write('\n') // Ctrl-D or a stop left the cursor after the prompt
    setLogOutput(null)
    stop?.removeEventListener('abort', close)
    rl.close()
  }
}

/**
 * True when this process may use its terminal: stdin is one and the process is
 * in its foreground process group. A process started with `&` is not; reading
 * or setting raw mode would stop it (SIGTTIN, SIGTTOU). Linux says so in
 * /proc/self/stat (pgrp and tpgid); elsewhere a terminal on stdin is taken as ours.
 */
export function ownsTerminal(): boolean {
  if (!process.stdin.isTTY) return false
  let stat: string
  try {
    stat = readFileSync('/proc/self/stat', 'utf8')
  } catch {
    return true
  }
  // After "pid (comm)": state ppid pgrp session tty_nr tpgid …
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return fields[2] === fields[5]
}

function loadHistory(): string[] {
  try {
    return readFileSync(HISTORY_FILE, 'utf8').split('\n').filter(Boolean).reverse().slice(0, HISTORY_SIZE)
  } catch {
    return []
  }
}

function saveHistory(line: string): void {
  try {
    appendFileSync(HISTORY_FILE, `${line}\n`)
  } catch {
    // History is a convenience; an unwritable home directory must not stop the shell.
  }
}
