import type { Command } from 'commander'
import type { HostPort } from '../config.ts'
import type { MysqlUser } from '../front/mysql/auth.ts'
import { DEFAULT_MYSQL_USER } from '../front/mysql/server.ts'
import { hostPort, lookup, setting } from './settings.ts'

/** The MySQL-protocol flags `ddb master` and `ddb slave` share. */
export interface MysqlFlags {
  mysqlListen?: string
  mysqlUser?: string
  mysqlPassword?: string
}

/** Adds --mysql-listen, --mysql-user and --mysql-password to a node command. */
export function mysqlOptions(command: Command, defaultListen: string): Command {
  return command
    .option(
      '--mysql-listen <host:port>',
      `also serve the MySQL client protocol here, or off (env DDB_MYSQL_LISTEN; default ${defaultListen})`,
    )
    .option('--mysql-user <name>', `user MySQL clients log in as (env DDB_MYSQL_USER; default ${DEFAULT_MYSQL_USER})`)
    .option('--mysql-password <password>', 'password of that user (env DDB_MYSQL_PASSWORD; default empty)')
}

/** The MySQL listener a node's flags ask for: where, and who may log in. */
export interface MysqlSettings {
  listen: HostPort
  user: MysqlUser
}

/** Reads --mysql-listen (or DDB_MYSQL_LISTEN) and the user flags; null for `off`. Throws UsageError on a bad address. */
export function mysqlSettings(flags: MysqlFlags, defaultListen: string): MysqlSettings | null {
  const listen = lookup(flags.mysqlListen, '--mysql-listen', 'DDB_MYSQL_LISTEN', defaultListen)
  if (!listen.text || listen.text === 'off') return null
  return {
    listen: hostPort(listen),
    user: {
      name: setting(flags.mysqlUser, 'DDB_MYSQL_USER', DEFAULT_MYSQL_USER),
      password: setting(flags.mysqlPassword, 'DDB_MYSQL_PASSWORD', ''),
    },
  }
}
