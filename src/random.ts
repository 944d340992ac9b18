/**
 * Randomness as a node sees it: ids, salts, secrets and jitter all come from a Random handed to
 * the code that needs them, so the simulator can replay a whole cluster from one seed. A real node
 * uses the operating system's randomness (node:crypto); `SeededRandom` is for tests and the
 * simulator only: it is predictable by design and must never make secrets.
 */
import { randomBytes, randomUUID } from 'node:crypto'

export interface Random {
  /** A number in [0, 1). */
  next(): number
  bytes(n: number): Buffer
  /** An RFC 4122 version 4 UUID. */
  uuid(): string
}

export const systemRandom: Random = {
  next: () => Math.random(),
  bytes: (n) => randomBytes(n),
  uuid: () => randomUUID(),
}

/** Jitter: `ms` scaled by a random factor in [1 - spread, 1 + spread). */
export function jitter(random: Random, ms: number, spread = 0.25): number {
  return ms * (1 - spread + random.next() * 2 * spread)
}

/**
 * A small, fast generator with a 32-bit seed (mulberry32): the same seed gives the same numbers on
 * every machine and Node version, so a simulated run replays exactly.
 */
export class SeededRandom implements Random {
  private state: number

  constructor(readonly seed: number) {
    this.state = seed >>> 0
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list')
    return items[Math.floor(this.next() * items.length)]!
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n)
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256)
    return out
  }

  uuid(): string {
    const b = this.bytes(16)
    b[6] = (b[6]! & 0x0f) | 0x40
    b[8] = (b[8]! & 0x3f) | 0x80
    const h = b.toString('hex')
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
  }

  /** A generator of its own, seeded from this one: a stream that other draws do not disturb. */
  fork(): SeededRandom {
    return new SeededRandom(Math.floor(this.next() * 4294967296))
  }
}
