/**
 * Resources holds how to undo what a run started (processes, servers, temp
 * dirs); closeAll() undoes them newest first, once, carrying on past a failing
 * one, so a failed or interrupted run leaves nothing behind. Closers must be
 * safe to call after the thing was already stopped.
 */
export class Resources {
  #closers: Array<{ what: string; close: () => unknown }> = []
  #closing: Promise<void> | null = null

  /** Registers `close` to run at closeAll(); `what` names it if it fails. */
  defer(what: string, close: () => unknown): void {
    this.#closers.push({ what, close })
  }

  /** Undoes everything registered, newest first; safe to call twice. */
  closeAll(): Promise<void> {
    this.#closing ??= (async () => {
      for (const { what, close } of this.#closers.reverse()) {
        try {
          await close()
        } catch (err) {
          process.stderr.write(`cleanup: ${what}: ${(err as Error).message}\n`)
        }
      }
      this.#closers = []
    })()
    return this.#closing
  }
}

/**
 * Once this process is gone, however it ended (SIGKILL included, when no
 * cleanup code runs), kills every process still running the executable
 * `binary` and removes `dir`: a shell loop that outlives the bench.
 */
export function guardTempDir(dir: string, binary: string): void {
  const script = [
    'while kill -0 "$0" 2>/dev/null; do sleep 1; done',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax, not a template
    'for p in /proc/[0-9]*; do case "$(readlink "$p/exe" 2>/dev/null)" in "$1"|"$1 (deleted)") kill -9 "${p#/proc/}" 2>/dev/null;; esac; done',
    'rm -rf "$2"',
  ].join('; ')
  Bun.spawn(['sh', '-c', script, String(process.pid), binary, dir], {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'ignore',
  }).unref()
}
