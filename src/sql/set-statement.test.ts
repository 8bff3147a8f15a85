import { describe, expect, test } from 'bun:test'
import { DdbError } from '../errors.ts'
import { tokenize } from './lexer.ts'
import { parseSet } from './set-statement.ts'

const parse = (sql: string) => parseSet(tokenize(sql))
const names = (sql: string) => {
  const set = parse(sql)
  return set.kind === 'assignments'
    ? set.assignments.map((a) => [a.kind, a.name, a.value.map((t) => t.text).join(' ')])
    : set
}

describe('parseSet', () => {
  test('assignments with their scopes, values split at top-level commas', () => {
    expect(
      names("SET @a = CONCAT('x', 'y'), SESSION sql_mode = '', @@session.time_zone := '+00:00', LOCAL b = 1, @@c = 2"),
    ).toEqual([
      ['user', 'a', "CONCAT ( 'x' , 'y' )"],
      ['system', 'sql_mode', "''"],
      ['system', 'time_zone', "'+00:00'"],
      ['system', 'b', '1'],
      ['system', 'c', '2'],
    ])
  })

  test('quoted user variable names, case-insensitive', () => {
    expect(names("SET @'My Var' = 1, @`x` = 2")).toEqual([
      ['user', 'my var', '1'],
      ['user', 'x', '2'],
    ])
  })

  test('SET NAMES and SET CHARACTER SET', () => {
    expect(parse("SET NAMES 'utf8mb4' COLLATE 'utf8mb4_bin'")).toEqual({
      kind: 'names',
      charset: 'utf8mb4',
      collation: 'utf8mb4_bin',
      characterSet: false,
    })
    expect(parse('SET CHARACTER SET latin1')).toEqual({
      kind: 'names',
      charset: 'latin1',
      collation: null,
      characterSet: true,
    })
  })

  test('SET TRANSACTION', () => {
    expect(parse('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED')).toMatchObject({ kind: 'transaction' })
  })

  test('a SET that is not one is a syntax error', () => {
    expect(() => parse('SET x')).toThrow(DdbError)
    expect(() => parse('SET x =')).toThrow('x has no value')
  })
})
