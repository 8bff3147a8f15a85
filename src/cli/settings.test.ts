import { describe, expect, test } from 'bun:test'
import { duration, type Setting, size } from './settings.ts'

const flag = (text: string): Setting => ({ text, name: '--retain-time', where: '' })

describe('durations and sizes', () => {
  test.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['12h', 43_200_000],
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
    ['0s', 0],
  ])('duration %s', (text, ms) => {
    expect(duration(flag(text))).toBe(ms)
  })

  test.each(['7', '7 days', '-1d', '1.5h', 'd', ''])('duration %j is refused with what is expected', (text) => {
    expect(() => duration(flag(text))).toThrow(
      `invalid --retain-time "${text}": expected a duration such as 90s, 30m, 12h or 7d`,
    )
  })

  test.each([
    ['1024', 1024],
    ['100B', 100],
    ['64K', 65_536],
    ['512MB', 536_870_912],
    ['10GB', 10_737_418_240],
    ['1TiB', 1_099_511_627_776],
    ['2gb', 2_147_483_648],
  ])('size %s', (text, bytes) => {
    expect(size(flag(text))).toBe(bytes)
  })

  test.each(['10 G B', 'MB', '1.5GB', '-1', '10PB'])('size %j is refused with what is expected', (text) => {
    expect(() => size(flag(text))).toThrow('expected a size such as 512MB or 10GB')
  })
})
