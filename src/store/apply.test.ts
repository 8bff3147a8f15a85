import { expect, test } from 'bun:test'
import { hasDdl } from './apply.ts'

const entry = (...sql: string[]) => ({ statements: sql.map((s) => ({ sql: s })) })

test.each<[string, boolean]>([
  ['INSERT INTO t VALUES (1)', false],
  ["  update t SET v = 'CREATE TABLE x (a INT)'", false],
  ['DELETE FROM t', false],
  ['REPLACE INTO t VALUES (1)', false],
  ['CREATE TABLE t (a INT)', true],
  ['  drop table t', true],
  ['/*!40101 CREATE TABLE t (a INT) */', true],
  ['/* made by a tool */ ALTER TABLE t ADD COLUMN b INT', true],
  ['WITH x AS (SELECT 1) UPDATE t SET v = 1', false],
])('hasDdl: %s → %p', (sql, ddl) => {
  expect(hasDdl(entry(sql))).toBe(ddl)
})

test('hasDdl: one DDL statement among DML makes the entry DDL', () => {
  expect(hasDdl(entry('INSERT INTO t VALUES (1)', 'TRUNCATE TABLE t'))).toBe(true)
})
