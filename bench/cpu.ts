import { readFileSync } from 'node:fs'

/** Kernel clock ticks per second, the unit of /proc CPU times. */
const TICKS_PER_SECOND = Number(Bun.spawnSync(['getconf', 'CLK_TCK']).stdout.toString().trim()) || 100

/** Processes whose CPU time is counted together, by what they are: "ddb master", "master's mysqld" … */
export type ProcessGroups = Record<string, number[]>

/** CPU used while a meter ran: seconds per group, and the busy share of the whole machine (0…1). */
export interface CpuUse {
  seconds: Record<string, number>
  busy: number
}

/** Starts measuring the CPU time of each group (user + system) and of the machine; the returned function stops and reports. */
export function meterCpu(groups: ProcessGroups): () => CpuUse {
  const before = Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, groupTicks(pids)]))
  const machineBefore = machineTicks()
  return () => {
    const seconds = Object.fromEntries(
      Object.entries(groups).map(([name, pids]) => [name, (groupTicks(pids) - before[name]!) / TICKS_PER_SECOND]),
    )
    const machine = machineTicks()
    const total = machine.total - machineBefore.total
    return { seconds, busy: total > 0 ? 1 - (machine.idle - machineBefore.idle) / total : 0 }
  }
}

/** utime + stime of processes, all their threads included (0 for one that is gone). */
function groupTicks(pids: number[]): number {
  let ticks = 0
  for (const pid of pids) {
    try {
      // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // exited: it no longer counts
    }
  }
  return ticks
}

/** The machine's CPU ticks since boot: all of them, and the idle ones (iowait counts as idle: nothing ran). */
function machineTicks(): { total: number; idle: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number) // user … steal (guest time is inside user)
  return { total: cpu.reduce((a, b) => a + b, 0), idle: cpu[3]! + cpu[4]! }
}
