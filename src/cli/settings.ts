import { UsageError } from '../errors.ts'

/**
 * A setting's value: the flag if given, else the environment variable (Bun also
 * loads a `.env` file from the working directory into the environment), else the default.
 */
export function setting(flag: string | undefined, envName: string, fallback: string): string {
  return flag ?? process.env[envName] ?? fallback
}

/** Like setting(), but there is no default: a missing value is a usage error naming the flag. */
export function requiredSetting(flag: string | undefined, envName: string, flagName: string): string {
  const value = flag ?? process.env[envName]
  if (!value) throw new UsageError(`missing ${flagName}`, `pass ${flagName} HOST:PORT or set ${envName}`)
  return value
}

/** Parses a non-negative integer flag. */
export function parseCount(text: string, flagName: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n))
    throw new UsageError(`invalid ${flagName} "${text}": expected a whole number`)
  return n
}

/** Parses one of a fixed set of words. */
export function parseChoice<T extends string>(text: string, choices: readonly T[], flagName: string): T {
  if (!(choices as readonly string[]).includes(text))
    throw new UsageError(`invalid ${flagName} "${text}": expected ${choices.join(' or ')}`)
  return text as T
}
