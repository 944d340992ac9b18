/**
 * Catches nondeterminism leaking into a simulated run: while installed, calls to the process's own
 * timers, clock and randomness (`setTimeout`, `setInterval`, `setImmediate`, `Date.now`,
 * `Math.random`, `crypto.randomBytes`, `crypto.randomUUID`) made from this project's code are
 * recorded with the caller's stack. They still work as usual (the run goes on), but each one is a
 * place that does not take the injected Clock or Random, and the run reports it as a violation.
 * Calls from elsewhere (the test runner, Node itself) are not this project's and are ignored.
 */
import crypto from 'node:crypto'
import { syncBuiltinESMExports } from 'node:module'

const WATCHED = ['setTimeout', 'setInterval', 'setImmediate'] as const

export class LeakGuard {
  readonly leaks = new Map<string, number>()
  private readonly restore: Array<() => void> = []

  install(): this {
    const g = globalThis as unknown as Record<string, unknown>
    for (const name of WATCHED) this.wrap(g, name, name)
    this.wrap(Date as unknown as Record<string, unknown>, 'now', 'Date.now')
    this.wrap(Math as unknown as Record<string, unknown>, 'random', 'Math.random')
    this.wrap(crypto as unknown as Record<string, unknown>, 'randomBytes', 'crypto.randomBytes')
    this.wrap(crypto as unknown as Record<string, unknown>, 'randomUUID', 'crypto.randomUUID')
    syncBuiltinESMExports()
    return this
  }

  uninstall(): void {
    for (const r of this.restore.splice(0)) r()
    syncBuiltinESMExports()
  }

  /** One line per leaking call site: what was called, from where, how often. */
  report(): string[] {
    return [...this.leaks].map(([where, n]) => `nondeterminism: ${where} (${n} calls)`)
  }

  private wrap(target: Record<string, unknown>, name: string, label: string): void {
    const original = target[name] as (...args: unknown[]) => unknown
    const leaks = this.leaks
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      const site = projectCaller(new Error().stack ?? '')
      if (site) leaks.set(`${label} from ${site}`, (leaks.get(`${label} from ${site}`) ?? 0) + 1)
      return original.apply(this, args)
    }
    target[name] = wrapped
    this.restore.push(() => { target[name] = original })
  }
}

/** The first stack frame in this project's code (src/ or dist/, not node_modules), other than this file and the simulator's driver. */
function projectCaller(stack: string): string | null {
  for (const line of stack.split('\n').slice(2)) {
    if (line.includes('node_modules') || line.includes('node:')) continue
    if (!/\/(src|dist)\//.test(line) || /\/sim\/(guard|cli)\.|clock-virtual\./.test(line)) continue
    return line.trim().replace(/^at /, '').replace(/^.*\((.*)\)$/, '$1').replace(/^.*?\/(src|dist)\//, '$1/')
  }
  return null
}
