import type { DdbNode } from './ddb.ts'
import { waitFor } from './util.ts'

/** Runs the real `mariadb` command-line client against a node's MySQL port. */
export async function mariadbCli(
  port: number,
  sql: string,
  extra: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(['mariadb', '-h127.0.0.1', `-P${port}`, '-uroot', '--batch', ...extra, '-e', sql], {
    stdout: 'pipe',
    stderr: 'pipe',
    stdin: 'ignore',
  })
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  return { code, stdout, stderr }
}

/** The MySQL port a node started with `--mysql-listen 127.0.0.1:0` bound, from its log. */
export async function mysqlPortOf(node: DdbNode): Promise<number> {
  return waitFor(() => Number(/mysql protocol listening .*address=127\.0\.0\.1:(\d+)/.exec(node.log())?.[1] ?? 0), {
    timeoutMs: 30_000,
    what: `the MySQL port of ${node.address}`,
  })
}
