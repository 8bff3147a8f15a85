import { describe, expect, test } from 'bun:test'
import { parseServerVersion, resolveVersionedComments } from './versioned-comments.ts'

const mariadb = parseServerVersion('10.11.19-MariaDB-0+deb12u1')
const mysql = parseServerVersion('8.0.40-ddb')

describe('parseServerVersion', () => {
  test('reads the number and the flavour', () => {
    expect(mariadb).toEqual({ id: 101119, mariadb: true })
    expect(mysql).toEqual({ id: 80040, mariadb: false })
  })
})

describe('resolveVersionedComments', () => {
  test.each([
    ['/*!40101 SET NAMES utf8mb4 */', 'SET NAMES utf8mb4', 'SET NAMES utf8mb4'],
    ['/*! SET x = 1 */', 'SET x = 1', 'SET x = 1'],
    ['/*!80041 SET x = 1 */', '', 'SET x = 1'],
    ['/*!110000 SET x = 1 */', '', ''],
    ['/*M!999999\\- enable the sandbox mode */', '', ''],
    [
      '/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */',
      '',
      'SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0',
    ],
  ])('%s on MySQL 8.0.40 and on MariaDB 10.11', (sql, onMysql, onMariadb) => {
    expect(resolveVersionedComments(sql, mysql).trim()).toBe(onMysql)
    expect(resolveVersionedComments(sql, mariadb).trim()).toBe(onMariadb)
  })

  test('several in one statement, as mysqldump writes a trigger, and plain comments kept', () => {
    const sql =
      '/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER t AFTER INSERT ON a FOR EACH ROW SET @n = 1 */ /* note */'
    expect(resolveVersionedComments(sql, mysql).replace(/\s+/g, ' ').trim()).toBe(
      'CREATE DEFINER=`root`@`localhost` TRIGGER t AFTER INSERT ON a FOR EACH ROW SET @n = 1 /* note */',
    )
  })

  test("a comment's markers inside a string are text", () => {
    expect(resolveVersionedComments("SELECT '/*!40101 x */'", mysql)).toBe("SELECT '/*!40101 x */'")
  })
})
