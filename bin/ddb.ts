#!/usr/bin/env bun
import { run } from '../src/cli/program.ts'

/** What a shell reports for a process that SIGPIPE ended: 128 + 13. */
const BROKEN_PIPE_STATUS = 141

// A reader that went away (`ddb log tail | head -1`) ends ddb as SIGPIPE ends a Unix tool: at once, quietly.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    process.exit(BROKEN_PIPE_STATUS)
  })

// The only other place ddb exits: commands return, errors become one line and a status.
process.exit(await run(process.argv.slice(2)))
