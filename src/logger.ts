/** Structured log lines on stderr: `time level event key=value …`. Command output goes to stdout, never here. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFields = Record<string, unknown>

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export interface Logger {
  debug(event: string, fields?: LogFields): void
  info(event: string, fields?: LogFields): void
  warn(event: string, fields?: LogFields): void
  error(event: string, fields?: LogFields): void
  /** A logger whose lines all carry these fields too. */
  child(fields: LogFields): Logger
}

const toStderr = (line: string) => {
  process.stderr.write(line)
}
/** Where log lines go unless a logger has its own `write`: stderr, or the prompt while it shows (setLogOutput). */
let output = toStderr

/** Sends log lines to `write` (the prompt, which prints them above itself), or back to stderr with null. */
export function setLogOutput(write: ((line: string) => void) | null): void {
  output = write ?? toStderr
}

export interface LoggerOptions {
  level?: LogLevel
  write?: (line: string) => void
}

/** Creates a logger; fields given here appear on every line. */
export function createLogger(fields: LogFields = {}, options: LoggerOptions = {}): Logger {
  const min = LEVELS[options.level ?? 'info']
  const write = options.write ?? ((line: string) => output(line))
  const log = (level: LogLevel, event: string, extra?: LogFields) => {
    if (LEVELS[level] < min) return
    const all = { ...fields, ...extra }
    let line = `${new Date().toISOString()} ${level.toUpperCase()} ${event}`
    for (const [k, v] of Object.entries(all)) if (v !== undefined) line += ` ${k}=${formatValue(v)}`
    write(`${line}\n`)
  }
  return {
    debug: (e, f) => log('debug', e, f),
    info: (e, f) => log('info', e, f),
    warn: (e, f) => log('warn', e, f),
    error: (e, f) => log('error', e, f),
    child: (more) => createLogger({ ...fields, ...more }, options),
  }
}

function formatValue(v: unknown): string {
  const s = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v)
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s)
}
