/**
 * The simulated node-to-node network's weather and cuts: for every message, whether it is lost,
 * how long it takes (random latency, so messages overtake each other), and whether it arrives
 * twice. Cuts are per direction, so a one-way partition is a cut in one direction only. All draws
 * come from the run's seeded generator, in the order the messages are sent, so a seed replays.
 */
import type { LinkFaults } from '../cluster/transport-memory.js'
import type { SeededRandom } from '../random.js'

export class SimLinks implements LinkFaults {
  /** Probability that a message is lost. */
  drop = 0
  /** Probability that a request arrives twice (replies are never duplicated: the first one wins anyway). */
  duplicate = 0
  /** Extra latency, drawn uniformly from [0, extraDelayMs) per message: slow links, and reordering. */
  extraDelayMs = 0
  /** Messages routed, lost, duplicated (figures). */
  readonly stats = { routed: 0, lost: 0, duplicated: 0 }
  private readonly cuts = new Set<string>()

  constructor(private readonly rng: SeededRandom, private readonly latencyMs: readonly [number, number] = [1, 4]) {}

  /** No message from `from` to `to` (node ids) gets through; both ways unless `oneWay`. */
  cut(from: string, to: string, oneWay = false): void {
    this.cuts.add(`${from}>${to}`)
    if (!oneWay) this.cuts.add(`${to}>${from}`)
  }

  /** Cuts every link between the two groups, both ways. */
  split(a: readonly string[], b: readonly string[]): void {
    for (const x of a) for (const y of b) this.cut(x, y)
  }

  isCut(from: string, to: string): boolean {
    return this.cuts.has(`${from}>${to}`)
  }

  healCuts(): void {
    this.cuts.clear()
  }

  calm(): void {
    this.drop = 0
    this.duplicate = 0
    this.extraDelayMs = 0
  }

  route(fromAddress: string, toAddress: string, kind: 'request' | 'reply'): number[] {
    this.stats.routed++
    const from = nodeOf(fromAddress)
    const to = nodeOf(toAddress)
    if (from !== to && this.cuts.has(`${from}>${to}`)) {
      this.stats.lost++
      return []
    }
    if (this.drop > 0 && this.rng.next() < this.drop) {
      this.stats.lost++
      return []
    }
    const delays = [this.delay()]
    if (kind === 'request' && this.duplicate > 0 && this.rng.next() < this.duplicate) {
      this.stats.duplicated++
      delays.push(this.delay())
    }
    return delays
  }

  /** Latency of one delivery on the membership bus (no cuts here: the bus has its own). */
  busDelay(): number {
    return this.delay()
  }

  private delay(): number {
    const [lo, hi] = this.latencyMs
    const base = lo + this.rng.next() * (hi - lo)
    return Math.round(base + (this.extraDelayMs > 0 ? this.rng.next() * this.extraDelayMs : 0))
  }
}

/** Addresses are `<node id>:<port>`. */
export function nodeOf(address: string): string {
  const colon = address.lastIndexOf(':')
  return colon < 0 ? address : address.slice(0, colon)
}
