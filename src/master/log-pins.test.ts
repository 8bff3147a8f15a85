import { describe, expect, test } from 'bun:test'
import { LogPins } from './log-pins.ts'

describe('LogPins', () => {
  test('the floor is the lowest pin held; releasing a pin lifts it, once', () => {
    const pins = new LogPins()
    expect(pins.floor()).toBeNull()
    const a = pins.pin(40, 'snapshot for s1')
    const b = pins.pin(25, 'snapshot for s2')
    const c = pins.pin(25, 'snapshot for s3')
    expect(pins.floor()).toEqual({ offset: 25, by: 'snapshot for s2' })
    b()
    expect(pins.floor()).toEqual({ offset: 25, by: 'snapshot for s3' })
    c()
    c()
    expect(pins.floor()).toEqual({ offset: 40, by: 'snapshot for s1' })
    a()
    expect(pins.floor()).toBeNull()
  })
})
