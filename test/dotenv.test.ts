import { describe, expect, test } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { withCluster } from './support/cluster.ts'
import { runDdb, statusOf } from './support/ddb.ts'
import { freePort, tempDir, waitFor } from './support/util.ts'

// Every case runs the source (`bun bin/ddb.ts`) and the compiled binary: both read `.env` the same way.
for (const compiled of [false, true]) {
  const which = compiled ? 'compiled' : 'source'
  const ddb = (args: string[], cwd: string, env: Record<string, string> = {}) => runDdb(args, { cwd, compiled, env })

  describe(`.env (${which})`, () => {
    test('a bad line stops ddb before it starts: one line naming the file, the line and the variable, exit 2', async () => {
      await using dir = await tempDir('ddb-dotenv-')
      const to = `127.0.0.1:${await freePort()}`
      const cases: Array<[string, string]> = [
        [
          '# fine\n\nthis is not an assignment\n',
          `${dir.path}/.env line 3: "this is not an assignment" is not NAME=value`,
        ],
        [
          'A=1\nDDB_SECRET="never closed\n',
          `${dir.path}/.env line 2: DDB_SECRET: a quote is not closed, or text follows it`,
        ],
        ["DDB_TO='x' y\n", `${dir.path}/.env line 1: DDB_TO: a quote is not closed, or text follows it`],
        ['1DDB=x\n', `${dir.path}/.env line 1: "1DDB=x" is not NAME=value`],
      ]
      for (const [text, message] of cases) {
        writeFileSync(join(dir.path, '.env'), text)
        const r = await ddb(['sql', 'SELECT 1', '--to', to], dir.path)
        expect(r.stderr).toBe(`ddb: ${message}\n`)
        expect(r.code).toBe(2)
      }
    })

    test('a bad value names the variable and its .env line; the environment beats .env, a flag beats both', async () => {
      await using dir = await tempDir('ddb-dotenv-')
      writeFileSync(join(dir.path, '.env'), '# the master\n\nDDB_LISTEN=nowhere\nDDB_LOG_SYNC=sometimes\n')
      const master = ['master', '--mysql-listen', 'off', '--log', join(dir.path, 'never.log')]
      const fromFile = await ddb(master, dir.path)
      expect(fromFile.stderr).toBe(
        'ddb: invalid DDB_LISTEN "nowhere" (from .env line 3): expected HOST:PORT, e.g. 127.0.0.1:8080\n',
      )
      expect(fromFile.code).toBe(2)
      const fromEnv = await ddb(master, dir.path, { DDB_LISTEN: 'elsewhere' })
      expect(fromEnv.stderr).toBe('ddb: invalid DDB_LISTEN "elsewhere": expected HOST:PORT, e.g. 127.0.0.1:8080\n')
      const fromFlag = await ddb([...master, '--listen', 'here'], dir.path)
      expect(fromFlag.stderr).toBe('ddb: invalid --listen "here": expected HOST:PORT, e.g. 127.0.0.1:8080\n')
      const next = await ddb([...master, '--listen', `127.0.0.1:${await freePort()}`], dir.path)
      expect(next.stderr).toBe('ddb: invalid DDB_LOG_SYNC "sometimes" (from .env line 4): expected full or normal\n')

      writeFileSync(join(dir.path, '.env'), 'DDB_DB=mysql://root:pa/ss@db1/app\n')
      const db = await ddb([...master, '--listen', `127.0.0.1:${await freePort()}`], dir.path)
      expect(db.stderr).toBe(
        'ddb: invalid DDB_DB URL "mysql://root:***@db1/app" (from .env line 1): expected sqlite:<file> or mysql://user:pass@host:port/db[?socket=<path>]\n',
      )
      expect(db.code).toBe(2)
    })

    test('the values of a good .env are used: quotes, export, comments', async () => {
      await using cluster = await withCluster({ store: 'sqlite', slaves: 0, secret: 's3 cret', compiled })
      await using dir = await tempDir('ddb-dotenv-')
      const env = [
        '# where the master is',
        `export DDB_TO="${cluster.master.address}" # a comment`,
        "DDB_SECRET='s3 cret'",
        'DDB_WAIT_TIMEOUT=250',
      ]
      writeFileSync(join(dir.path, '.env'), `${env.join('\n')}\n`)
      const r = await ddb(['sql', 'SELECT 1 AS one', '--json'], dir.path)
      expect(r.stderr).toBe('')
      expect(r.stdout).toBe('{"rows":[{"one":1}]}\n')
    })
  })
}

describe('environment variables', () => {
  test('--help names the variable of every flag, and the README lists the flags that have none', async () => {
    const readme = readFileSync(join(import.meta.dir, '..', 'README.md'), 'utf8')
    const paragraph = /The flags that say what one run does have\s+no environment variable:([\s\S]*?)\n\n/.exec(readme)
    const without = new Set([...(paragraph?.[1] ?? '').matchAll(/`(-[\w-]+)`/g)].map((m) => m[1]!))
    expect(without.size).toBeGreaterThan(0)
    for (const command of [
      ['master'],
      ['slave'],
      ['sql'],
      ['status'],
      ['log', 'tail'],
      ['log', 'prune'],
      ['replica', 'forget'],
      ['checksum'],
      ['snapshot'],
    ]) {
      const help = (await runDdb([...command, '--help'])).stdout
      // One block per option: its line and the lines its description wraps onto.
      const blocks = help
        .slice(help.indexOf('Options:'))
        .split(/\n(?= {2}-)/)
        .slice(1)
      for (const block of blocks) {
        const flag = /^ {2}(?:-\w, )?(-[\w-]+)/.exec(block)![1]!
        if (['--help', '--version'].includes(flag)) continue
        const text = block.replace(/\s+/g, ' ')
        if (!without.has(flag))
          expect({ command, flag, text }).toMatchObject({ text: expect.stringMatching(/env DDB_\w+/) })
      }
    }
  })

  test('DDB_ID names a slave; DDB_WAIT_TIMEOUT limits a read-your-writes wait', async () => {
    await using cluster = await withCluster({ store: 'sqlite', env: { DDB_ID: 'replica-one' } })
    await waitFor(
      async () => {
        const s = await statusOf(cluster.master)
        return s.role === 'master' && s.replicas[0]?.id === 'replica-one'
      },
      { timeoutMs: 15_000, what: 'the master to name its slave replica-one' },
    )
    const stale = await runDdb(['sql', 'SELECT 1', '--to', cluster.slave.address, '--min-offset', '1000'], {
      env: { DDB_WAIT_TIMEOUT: '200' },
    })
    expect(stale.code).toBe(1)
    expect(stale.stderr).toMatch(/below the requested 1000, after waiting 200 ms/)
  })
})
