/**
 * MySQL triggers as SQLite triggers, where they mean the same:
 *
 *     CREATE [OR REPLACE] [DEFINER = u] TRIGGER [IF NOT EXISTS] name {BEFORE | AFTER}
 *       {INSERT | UPDATE | DELETE} ON t FOR EACH ROW stmt            (or BEGIN stmt; … END)
 *  →  CREATE TRIGGER [IF NOT EXISTS] name {BEFORE | AFTER} {…} ON t FOR EACH ROW
 *       BEGIN /*mysql_trigger <hex> <sql_mode>*\/ stmt'; … END
 *
 * Each statement of the body is translated as any other (an INSERT, REPLACE,
 * UPDATE or DELETE; NEW.c and OLD.c mean the same in SQLite). DEFINER (SQLite
 * has no users) and OR REPLACE (DROP TRIGGER IF EXISTS first) go. The comment
 * keeps MySQL's body as written (UTF-8 hex), and the sql_mode it was created
 * under, for information_schema.TRIGGERS and SHOW CREATE TRIGGER
 * (catalog.ts, show.ts), which a dump of the store then gives back.
 * A trigger's clock and random values are refused by makeDeterministic (it fires
 * later, on each node), and an INSERT that leaves out a written default by
 * defaults.ts.
 *
 * Refused, each with its reason: anything in the body but INSERT, REPLACE,
 * UPDATE and DELETE (SET NEW.c = … in a BEFORE trigger, which changes the row
 * being written, DECLARE, IF, SIGNAL, CALL, SELECT …; SQLite's triggers run
 * plain statements only); FOLLOWS/PRECEDES and a second trigger for the same
 * table, time and event (SQLite fires those in reverse order of creation, MySQL
 * in order); a statement that writes the trigger's own table (MySQL refuses it
 * when the trigger fires); NEW.<AUTO_INCREMENT column> in a BEFORE INSERT
 * trigger (MySQL has 0 there, SQLite -1); INSERT … DEFAULT VALUES (not allowed in
 * a SQLite trigger).
 */
import { classifyTokens } from '../classify.ts'
import { isPunct, isWord, type Token, tokenize } from '../lexer.ts'
import { nameOf, readTableName, refuse, sqlName, type TokenEdits } from './edits.ts'
import type { SqliteContext } from './table-info.ts'

/** What a trigger's body may run: the statements SQLite's triggers run. */
const BODY_STATEMENTS = new Set(['INSERT', 'REPLACE', 'UPDATE', 'DELETE'])

/** Why other statements in a trigger's body are refused, by first word. */
const BODY_REFUSALS: Record<string, string> = {
  SET: "a trigger's SET (SET NEW.col = … changes the row being written, SET @x a variable): SQLite's triggers cannot change the row or hold variables; compute the value in the statement that writes it",
  DECLARE: "a trigger's DECLARE: SQLite's triggers have no local variables",
  IF: "a trigger's IF: SQLite's triggers run plain statements; put the condition in each statement's WHERE",
  CASE: "a trigger's CASE statement: SQLite's triggers run plain statements; put the condition in each statement's WHERE",
  SIGNAL: "a trigger's SIGNAL: SQLite's RAISE() would fail the statement with another error code",
  RESIGNAL: "a trigger's RESIGNAL: SQLite's triggers have no handlers",
  CALL: "a trigger's CALL: SQLite has no stored procedures",
  SELECT: 'a SELECT in a trigger: MySQL refuses a result set from a trigger, and SQLite has no SELECT … INTO',
  BEGIN: "a nested BEGIN … END in a trigger: SQLite's triggers have one list of statements",
}

/** Translates one MySQL-dialect statement of the body to SQLite's (the dialect's toSqlite). */
export type Translate = (sql: string) => string[]

/** CREATE TRIGGER. */
export function translateCreateTrigger(edits: TokenEdits, ctx: SqliteContext, translate: Translate): string[] {
  const { tokens } = edits
  const at = tokens.findIndex((t) => isWord(t, 'TRIGGER'))
  const orReplace = tokens.slice(0, at).some((t) => isWord(t, 'REPLACE'))
  let k = at + 1
  const ifNotExists = isWord(tokens[k], 'IF')
  if (ifNotExists) k += 3
  const { name, end } = readTableName(tokens, k)
  k = end
  const timing = tokens[k]?.value
  const event = tokens[k + 1]?.value
  if ((timing !== 'BEFORE' && timing !== 'AFTER') || !['INSERT', 'UPDATE', 'DELETE'].includes(event ?? ''))
    throw refuse(`CREATE TRIGGER … ${edits.source(k, k + 2)}`, 'cannot read when the trigger fires')
  if (!isWord(tokens[k + 2], 'ON')) throw refuse('this CREATE TRIGGER', 'cannot read the table it is on')
  const { name: table, end: afterTable } = readTableName(tokens, k + 3)
  k = afterTable
  if (!isWord(tokens[k], 'FOR') || !isWord(tokens[k + 1], 'EACH') || !isWord(tokens[k + 2], 'ROW'))
    throw refuse('this CREATE TRIGGER', 'cannot read FOR EACH ROW')
  k += 3
  if (isWord(tokens[k], 'FOLLOWS') || isWord(tokens[k], 'PRECEDES'))
    throw refuse(
      `${tokens[k]!.value} in a trigger`,
      'SQLite fires the triggers of one table, time and event in an order of its own (the newest first)',
    )
  const info = ctx.table?.(table)
  const twin = info?.triggers.find(
    (t) => t.timing === timing && t.event === event && t.name.toLowerCase() !== name.toLowerCase(),
  )
  if (twin)
    throw refuse(
      `a second ${timing} ${event} trigger on ${table} (${twin.name} is one)`,
      'SQLite fires the triggers of one table, time and event newest first, MySQL in the order they were created; make one trigger of them',
    )
  const last = isPunct(tokens.at(-1), ';') ? tokens.length - 1 : tokens.length
  const body = bodyStatements(tokens, k, last)
  const translated = body.flatMap((s) => {
    const source = edits.source(s.from, s.to)
    checkStatement(tokens, s, { table, timing, event: event!, rowid: info?.autoIncrement ? info.rowid : undefined })
    return translate(source).map((text) => checkTranslated(text))
  })
  const marker = `/*mysql_trigger ${hex(edits.source(k, last))} ${ctx.sqlMode ?? ''}*/`
  const statements = translated.length === 0 ? ['SELECT 0 WHERE 0'] : translated
  const create = `CREATE TRIGGER ${ifNotExists ? 'IF NOT EXISTS ' : ''}${sqlName(name)} ${timing} ${event} ON ${sqlName(table)} FOR EACH ROW BEGIN ${marker} ${statements.join('; ')}; END`
  return orReplace ? [`DROP TRIGGER IF EXISTS ${sqlName(name)}`, create] : [create]
}

/** DROP TRIGGER [IF EXISTS] [db.]name → DROP TRIGGER [IF EXISTS] name. */
export function translateDropTrigger(edits: TokenEdits): string[] {
  const { tokens } = edits
  let k = tokens.findIndex((t) => isWord(t, 'TRIGGER')) + 1
  const ifExists = isWord(tokens[k], 'IF')
  if (ifExists) k += 2
  return [`DROP TRIGGER ${ifExists ? 'IF EXISTS ' : ''}${sqlName(readTableName(tokens, k).name)}`]
}

/** The statements of a trigger's body, tokens [from, to): one statement, or those of [label:] BEGIN … END [label]. */
function bodyStatements(tokens: Token[], from: number, to: number): { from: number; to: number }[] {
  let k = from
  if (isPunct(tokens[k + 1], ':') && isWord(tokens[k + 2], 'BEGIN')) k += 2 // label: BEGIN
  if (!isWord(tokens[k], 'BEGIN')) return [{ from, to }]
  let end = to - 1
  if (!isWord(tokens[end], 'END')) end-- // END label
  if (!isWord(tokens[end], 'END')) throw refuse("this trigger's body", 'cannot find the END of its BEGIN')
  k++
  if (isWord(tokens[k], 'NOT') && isWord(tokens[k + 1], 'ATOMIC')) k += 2
  const out: { from: number; to: number }[] = []
  let start = k
  for (let j = k; j <= end; j++) {
    if (j < end && !isPunct(tokens[j], ';')) continue
    if (j > start) out.push({ from: start, to: j })
    start = j + 1
  }
  return out
}

/** Refuses a body statement SQLite's trigger cannot run the way MySQL's would. */
function checkStatement(
  tokens: Token[],
  s: { from: number; to: number },
  trigger: { table: string; timing: string; event: string; rowid: string | undefined },
): void {
  const first = tokens[s.from]
  const word = first?.type === 'word' ? first.value : (first?.text ?? '')
  if (!BODY_STATEMENTS.has(word)) {
    const why = BODY_REFUSALS[word]
    throw why
      ? refuse(why.slice(0, why.indexOf(':')), why.slice(why.indexOf(':') + 2))
      : refuse(`${word} in a trigger`, "SQLite's triggers run INSERT, UPDATE and DELETE statements only")
  }
  const target = writtenTable(tokens, s)
  if (target !== undefined && target.toLowerCase() === trigger.table.toLowerCase())
    throw refuse(
      `a trigger on ${trigger.table} that writes ${trigger.table}`,
      'MySQL refuses it when the trigger fires (the statement that fired it is using the table)',
    )
  if (trigger.timing === 'BEFORE' && trigger.event === 'INSERT' && trigger.rowid !== undefined) {
    for (let k = s.from; k + 2 < s.to; k++) {
      if (
        isWord(tokens[k], 'NEW') &&
        isPunct(tokens[k + 1], '.') &&
        nameOf(tokens[k + 2])?.toLowerCase() === trigger.rowid.toLowerCase()
      )
        throw refuse(
          `NEW.${trigger.rowid} in a BEFORE INSERT trigger`,
          'the AUTO_INCREMENT id is not generated yet: MySQL has 0 there, SQLite -1; use it in an AFTER INSERT trigger',
        )
    }
  }
}

/** The table an INSERT, REPLACE, UPDATE or DELETE in tokens [from, to) writes. */
function writtenTable(tokens: Token[], s: { from: number; to: number }): string | undefined {
  let k = s.from + 1
  while (
    tokens[k]?.type === 'word' &&
    ['LOW_PRIORITY', 'DELAYED', 'HIGH_PRIORITY', 'QUICK', 'IGNORE', 'INTO', 'FROM'].includes(tokens[k]!.value)
  )
    k++
  return k < s.to ? readTableName(tokens, k).name : undefined
}

/** Refuses a translated body statement SQLite does not take in a trigger. */
function checkTranslated(text: string): string {
  const tokens = tokenize(text)
  if (tokens.some((t, i) => isWord(t, 'DEFAULT') && isWord(tokens[i + 1], 'VALUES')))
    throw refuse(
      'INSERT … VALUES () in a trigger',
      "SQLite's triggers cannot INSERT … DEFAULT VALUES; give a column its value",
    )
  const { kind } = classifyTokens(tokens)
  if (kind !== 'write')
    throw refuse(`${text} in a trigger`, "SQLite's triggers run INSERT, UPDATE and DELETE statements only")
  return text
}

/** `text` as UTF-8 hex, which holds no `*\/` to end the comment it is kept in. */
function hex(text: string): string {
  return Buffer.from(text, 'utf8').toString('hex').toUpperCase()
}
