/**
 * The front door's load generator: mysql2 connections to a MySQL port (ddb's
 * master, or a mariadbd), as an application opens them (text protocol,
 * autocommit, mysql2's defaults), and the operations the bench times on them.
 */
import type mysql from 'mysql2/promise'
import { payload } from './load.ts'
import { connectMysql } from './native.ts'
import type { Table } from './verify.ts'

/** The single-row writes' table: an auto-increment key and a short value. */
export const WRITES: Table = { name: 'front_writes', columns: ['id', 'c'] }
/** The point selects' table, filled before any select. */
export const READS: Table = { name: 'front_reads', columns: ['id', 'c'] }

const CREATE_WRITES = `CREATE TABLE ${WRITES.name} (id INT AUTO_INCREMENT PRIMARY KEY, c VARCHAR(32) NOT NULL)`
const CREATE_READS = `CREATE TABLE ${READS.name} (id INT PRIMARY KEY, c VARCHAR(100) NOT NULL)`
const INSERT_WRITE = `INSERT INTO ${WRITES.name} (c) VALUES (?)`
const POINT_SELECT = `SELECT c FROM ${READS.name} WHERE id = ?`
const RANGE_SELECT = `SELECT c FROM ${READS.name} WHERE id BETWEEN ? AND ?`

/** Rows in the read table (sysbench's default table size). */
export const READ_ROWS = 10_000
/** Rows per INSERT while filling the read table. */
const FILL_ROWS_PER_INSERT = 1_000
/** Point selects per read-only transaction, and the rows of its range select (sysbench oltp_read_only: 10 and a range). */
const TX_POINT_SELECTS = 10
const TX_RANGE_ROWS = 10

/** One mysql2 connection the load runs on. */
export interface MysqlConn {
  readonly conn: mysql.Connection
  close(): void
}

/** Opens a mysql2 connection as root (no password) to database `database` (none: no database) on the MySQL port `port`. */
export async function openMysql(port: number, database: string | undefined): Promise<MysqlConn> {
  const conn = await connectMysql(port, database)
  return { conn, close: () => conn.destroy() }
}

/**
 * Through the MySQL port: creates `database` if asked to, then both tables in
 * it, and fills the read table with READ_ROWS rows (ids 1 … READ_ROWS).
 */
export async function createFrontTables(port: number, database: string, createDatabase: boolean): Promise<void> {
  const { conn, close } = await openMysql(port, createDatabase ? undefined : database)
  try {
    if (createDatabase) {
      await conn.query(`CREATE DATABASE ${database}`)
      await conn.query(`USE ${database}`)
    }
    await conn.query(CREATE_WRITES)
    await conn.query(CREATE_READS)
    for (let first = 1; first <= READ_ROWS; first += FILL_ROWS_PER_INSERT) {
      const ids = Array.from({ length: Math.min(FILL_ROWS_PER_INSERT, READ_ROWS - first + 1) }, (_, i) => first + i)
      await conn.query(`INSERT INTO ${READS.name} (id, c) VALUES ${ids.map(() => '(?, ?)').join(', ')}`, [
        ...ids.flatMap((id) => [id, payload(id)]),
      ])
    }
  } finally {
    close()
  }
}

/** Counts the single-row writes a setup acknowledged, for the final row-for-row check. */
export class WriteCount {
  acknowledged = 0
}

/** Inserts one row (the key from AUTO_INCREMENT, a short value); resolves once acknowledged. */
export async function insertRow(c: MysqlConn, count: WriteCount): Promise<void> {
  await c.conn.query(INSERT_WRITE, [`w${count.acknowledged + 1}-${Date.now() % 100_000}`])
  count.acknowledged++
}

/** One point select of a random row; fails unless it found the row. */
export async function pointSelect(c: MysqlConn): Promise<void> {
  const [rows] = await c.conn.query(POINT_SELECT, [randomId()])
  if ((rows as unknown[]).length !== 1) throw new Error(`point select: ${(rows as unknown[]).length} rows, not 1`)
}

/** BEGIN; 10 point selects; a range select of 10 rows; COMMIT (sysbench oltp_read_only-like). */
export async function readOnlyTransaction(c: MysqlConn): Promise<void> {
  await c.conn.query('BEGIN')
  for (let i = 0; i < TX_POINT_SELECTS; i++) await pointSelect(c)
  const first = Math.min(randomId(), READ_ROWS - TX_RANGE_ROWS + 1)
  const [rows] = await c.conn.query(RANGE_SELECT, [first, first + TX_RANGE_ROWS - 1])
  if ((rows as unknown[]).length !== TX_RANGE_ROWS)
    throw new Error(`range select: ${(rows as unknown[]).length} rows, not ${TX_RANGE_ROWS}`)
  await c.conn.query('COMMIT')
}

/** A uniformly random id of the read table. */
function randomId(): number {
  return 1 + Math.floor(Math.random() * READ_ROWS)
}
