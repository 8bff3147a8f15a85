import { appendFileSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const HISTORY_FILE = join(homedir(), '.ddb_history')
const HISTORY_SIZE = 1_000

/**
 * An interactive SQL prompt with line editing and history (~/.ddb_history).
 * A statement may span lines; it runs when a line ends with ';'. `exit`,
 * `quit` or end of input (Ctrl-D) leaves. Resolves when the shell ends.
 */
export async function runShell(prompt: string, execute: (sql: string) => Promise<void>): Promise<void> {
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt,
    history: loadHistory(),
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
  })
  let pending = ''
  rl.prompt()
  for await (const line of rl) {
    const text = (pending ? `${pending}\n` : '') + line
    const word = text.trim().replace(/;$/, '').toLowerCase()
    if (!pending && (word === 'exit' || word === 'quit' || word === '\\q')) break
    if (text.trim() === '') {
      rl.prompt()
      continue
    }
    if (!text.trimEnd().endsWith(';')) {
      pending = text
      rl.setPrompt(`${' '.repeat(Math.max(0, prompt.length - 3))}-> `)
      rl.prompt()
      continue
    }
    pending = ''
    rl.setPrompt(prompt)
    saveHistory(text.replace(/\n/g, ' '))
    await execute(text)
    rl.prompt()
  }
  rl.close()
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
