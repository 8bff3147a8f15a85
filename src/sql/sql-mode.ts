/** Whether a sql_mode value (MySQL's comma-separated list of modes, in any case) has `mode`. */
export function hasSqlMode(sqlMode: string | undefined, mode: string): boolean {
  return (sqlMode ?? '').split(',').some((m) => m.trim().toUpperCase() === mode)
}
