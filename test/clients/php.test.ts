/**
 * PHP through ddb's MySQL port (php/scenario.php): mysqli prepared statements
 * (bind_param, send_long_data, get_result), mysqli's protocol corners (multi_query, a
 * read-only cursor fetched by COM_STMT_FETCH, stmt reset, change_user), and PDO prepared statements both with
 * PDO's default emulated prepares and with ATTR_EMULATE_PREPARES => false, writing
 * and reading ints, decimals, dates, quoted strings, NULL and a BLOB. On ddb each
 * mode's transcript must equal the one a plain mariadbd gives, and the slave must
 * equal the master.
 *
 * Needs the Debian packages php-cli and php-mysql (mysqli, pdo_mysql).
 */
import { expect, test } from 'bun:test'
import { join } from 'node:path'
import {
  DDB_TARGETS,
  describeTarget,
  expectSuccess,
  once,
  requireProgram,
  runCommand,
  START_TIMEOUT_MS,
  startTarget,
  type Target,
  TEST_TIMEOUT_MS,
} from './support.ts'

const SCRIPT = join(import.meta.dir, 'php', 'scenario.php')
const MODES = ['mysqli', 'mysqli-protocol', 'pdo-emulated', 'pdo-native'] as const
type Mode = (typeof MODES)[number]

const TITLES: Record<Mode, string> = {
  mysqli: 'mysqli prepared statements',
  'mysqli-protocol': 'mysqli multi_query, a cursor (COM_STMT_FETCH), stmt reset, change_user',
  'pdo-emulated': 'PDO prepared statements, emulated (the default)',
  'pdo-native': 'PDO prepared statements, ATTR_EMULATE_PREPARES => false',
}

/** Fails with the package to install unless php has mysqli and pdo_mysql. */
async function requirePhp(): Promise<string> {
  const php = requireProgram('php', 'apt-get install -y php-cli php-mysql')
  const modules = await runCommand([php, '-m'])
  for (const m of ['mysqli', 'pdo_mysql']) {
    if (!modules.stdout.split('\n').includes(m)) throw new Error(`php lacks ${m}: apt-get install -y php-mysql`)
  }
  return php
}

/** Runs one mode of the script against a target; returns its transcript. */
async function php(target: Target, mode: Mode): Promise<unknown> {
  const bin = await requirePhp()
  const result = await runCommand([bin, SCRIPT, target.host, String(target.port), target.database, mode], {
    timeoutMs: 60_000,
  })
  expectSuccess(result, `PHP ${mode}`, target)
  return JSON.parse(result.stdout)
}

const reference = once(async () => {
  await using plain = await startTarget('mariadb')
  const transcripts: Partial<Record<Mode, unknown>> = {}
  for (const mode of MODES) transcripts[mode] = await php(plain, mode)
  return transcripts
})

test(
  'reference: every PHP mode runs to the end on a plain mariadbd',
  async () => {
    const transcripts = await reference()
    for (const mode of MODES) expect(transcripts[mode]).toBeArray()
  },
  START_TIMEOUT_MS,
)

for (const kind of DDB_TARGETS) {
  describeTarget(kind, 'PHP', (target) => {
    for (const mode of MODES) {
      test(
        `${TITLES[mode]}: what a plain mariadbd gives; the slave equals the master`,
        async () => {
          const t = target()
          const want = (await reference())[mode]
          expect(await php(t, mode), `PHP ${mode} on ${t.name}`).toEqual(want)
          await t.expectReplicated()
        },
        TEST_TIMEOUT_MS,
      )
    }
  })
}
