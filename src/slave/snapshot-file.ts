/**
 * A snapshot in a file (`ddb snapshot --out`, `ddb slave --from-snapshot`): a header line,
 * then the master's snapshot messages as it sent them, one JSON object per line
 * (snapshot-begin, snapshot-rows… each with its checksum, snapshot-end). The file holds a
 * snapshot whole or is refused: one that ends before snapshot-end was cut short.
 */
import { DdbError } from '../errors.ts'
import { decodeMessage } from '../wire/decode.ts'
import { isSnapshotMessage, type Message, type SnapshotMessage } from '../wire/messages.ts'

/** The file format this ddb writes and reads; a newer one is refused. */
export const SNAPSHOT_FILE_FORMAT = 1

/** The file's first line. */
export interface SnapshotFileHeader {
  ddbSnapshot: number
  master: string
  createdAt: string
}

/** The header line of a snapshot file taken from `master`. */
export function snapshotFileHeader(master: string): string {
  const header: SnapshotFileHeader = { ddbSnapshot: SNAPSHOT_FILE_FORMAT, master, createdAt: new Date().toISOString() }
  return `${JSON.stringify(header)}\n`
}

/** The messages of snapshot file `path`, in order, read a line at a time (memory stays flat); throws on a damaged file. */
export async function* readSnapshotFile(path: string): AsyncGenerator<SnapshotMessage> {
  const file = Bun.file(path)
  if (!(await file.exists()))
    throw new DdbError('SNAPSHOT_FILE', `snapshot file ${path}: no such file`, {
      hint: 'write one with ddb snapshot --out',
    })
  let lineNo = 0
  let ended = false
  const bad = (why: string) =>
    new DdbError('SNAPSHOT_FILE', `snapshot file ${path}, line ${lineNo}: ${why}`, {
      hint: 'the file is damaged or not a ddb snapshot; take it again with ddb snapshot --out',
    })
  for await (const line of lines(file.stream())) {
    lineNo++
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      throw bad('not JSON')
    }
    if (lineNo === 1) {
      const format = (value as Partial<SnapshotFileHeader>).ddbSnapshot
      if (typeof format !== 'number') throw bad('not a ddb snapshot file')
      if (format > SNAPSHOT_FILE_FORMAT)
        throw bad(`format ${format} is newer than this ddb reads (${SNAPSHOT_FILE_FORMAT})`)
      continue
    }
    let m: Message
    try {
      m = decodeMessage(value)
    } catch (err) {
      throw bad((err as Error).message)
    }
    if (!isSnapshotMessage(m)) throw bad(`unexpected ${m.type} message`)
    if (lineNo === 2 && m.type !== 'snapshot-begin') throw bad('the snapshot does not begin')
    yield m
    if (m.type === 'snapshot-end') ended = true
  }
  if (lineNo === 0) throw bad('empty')
  if (!ended) throw bad('the snapshot ends before snapshot-end: the file was cut short')
}

/** The lines of a byte stream, without their newlines. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let pending = ''
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true })
    let nl = pending.indexOf('\n')
    while (nl >= 0) {
      const line = pending.slice(0, nl)
      pending = pending.slice(nl + 1)
      if (line.length > 0) yield line
      nl = pending.indexOf('\n')
    }
  }
  pending += decoder.decode()
  if (pending.length > 0) yield pending
}
