import { join } from 'node:path'
import { now } from './measure.ts'
import { startNode } from './nodes.ts'
import { progress } from './progress.ts'

/**
 * Failover (issue 14): a synchronous SQLite master and its slave; the master is killed -9,
 * and the time is taken from spawning `ddb promote --to SLAVE` until the slave, now the
 * master, first accepts a write (a client retrying every millisecond). One figure per run.
 */
export async function measurePromote(binary: string, dir: string, runs: number): Promise<number[]> {
  const times: number[] = []
  for (let run = 0; run < runs; run++) {
    const file = (name: string) => join(dir, `promote-${run}-${name}`)
    const master = await startNode(binary, `promote ${run} master`, [
      'master',
      '--db',
      `sqlite:${file('master.sqlite')}`,
      '--log',
      file('master-log.sqlite'),
      '--sync-replicas',
      '1',
    ])
    const slave = await startNode(binary, `promote ${run} slave`, [
      'slave',
      '--master',
      master.address,
      '--db',
      `sqlite:${file('slave.sqlite')}`,
    ])
    try {
      const c = await master.connect()
      await c.query('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
      for (let i = 0; i < 100; i++) await c.query(`INSERT INTO t (v) VALUES ('before')`)
      c.close()
      process.kill(master.pid, 'SIGKILL')
      const started = now()
      const promote = Bun.spawn([binary, 'promote', '--to', slave.address], { stdout: 'pipe', stderr: 'pipe' })
      const writer = await slave.connect()
      for (;;) {
        try {
          await writer.query(`INSERT INTO t (v) VALUES ('after')`)
          break
        } catch {
          await Bun.sleep(1)
        }
      }
      times.push(now() - started)
      writer.close()
      const code = await promote.exited
      if (code !== 0) throw new Error(`ddb promote exited ${code}: ${await new Response(promote.stderr).text()}`)
      progress(
        'promote',
        `run ${run + 1}/${runs}: first write accepted ${times.at(-1)!.toFixed(0)} ms after ddb promote`,
      )
    } finally {
      await slave.stop()
      await master.stop()
    }
  }
  return times
}
