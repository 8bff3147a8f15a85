/**
 * Python: SQLAlchemy's ORM over PyMySQL (`mysql+pymysql://`) through ddb's MySQL
 * port, run by /usr/bin/python3 (python/sqlalchemy_scenario.py): metadata.create_all,
 * ORM inserts, updates and deletes, a rolled-back transaction, a unique violation, a
 * query. On ddb its transcript must equal the one a plain mariadbd gives, and the
 * slave must equal the master.
 *
 * Needs the Debian packages python3-sqlalchemy and python3-pymysql (for /usr/bin/python3).
 */
import { expect, test } from 'bun:test'
import { join } from 'node:path'
import {
  DDB_TARGETS,
  describeTarget,
  expectSuccess,
  once,
  runCommand,
  START_TIMEOUT_MS,
  startTarget,
  type Target,
  TEST_TIMEOUT_MS,
} from './support.ts'

/** Debian's interpreter, which has Debian's python3-* packages (a python3 earlier on PATH may not). */
const PYTHON = '/usr/bin/python3'
const SCRIPT = join(import.meta.dir, 'python', 'sqlalchemy_scenario.py')

/** Fails with the packages to install unless /usr/bin/python3 can import SQLAlchemy and PyMySQL. */
async function requirePython(): Promise<void> {
  const check = await runCommand([PYTHON, '-c', 'import sqlalchemy, pymysql'])
  if (check.code !== 0) {
    throw new Error(
      `${PYTHON} cannot import sqlalchemy and pymysql: install them (apt-get install -y python3-sqlalchemy python3-pymysql)\n${check.stderr}`,
    )
  }
}

/** Runs the script against a target; returns its transcript. */
async function sqlalchemy(target: Target): Promise<unknown> {
  await requirePython()
  const url = `mysql+pymysql://root@${target.host}:${target.port}/${target.database}?charset=utf8mb4`
  const result = await runCommand([PYTHON, SCRIPT, url], { timeoutMs: 60_000 })
  expectSuccess(result, 'SQLAlchemy + PyMySQL', target)
  return JSON.parse(result.stdout)
}

const reference = once(async () => {
  await using plain = await startTarget('mariadb')
  return await sqlalchemy(plain)
})

test(
  'reference: the SQLAlchemy scenario runs to the end on a plain mariadbd',
  async () => {
    expect(await reference()).toBeArray()
  },
  START_TIMEOUT_MS,
)

for (const kind of DDB_TARGETS) {
  describeTarget(kind, 'Python', (target) => {
    test(
      'SQLAlchemy over PyMySQL: create_all, ORM writes, rollback, unique violation, query, as on MySQL; the slave equals the master',
      async () => {
        const t = target()
        const want = await reference()
        expect(await sqlalchemy(t), `SQLAlchemy on ${t.name}`).toEqual(want)
        await t.expectReplicated()
      },
      TEST_TIMEOUT_MS,
    )
  })
}
