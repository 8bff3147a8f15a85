#!/usr/bin/env bun
import { run } from '../src/cli/program.ts'

// The only place ddb exits: commands return, errors become one line and a status.
process.exit(await run(process.argv.slice(2)))
