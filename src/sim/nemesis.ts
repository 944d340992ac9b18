/**
 * The simulator's nemesis: two tracks of seeded faults on virtual time. The structural track
 * injects one fault at a time, holds it, heals it: a crash (restarted on its disk, or on a wiped
 * one), a pause, a partition (a pair both ways, one way only, a node from its peers, a node from
 * the bus only, two nodes from the rest and the bus, a bridge), a disk failing its writes, the
 * bus down for everyone. The weather track overlaps it: windows where messages are lost,
 * duplicated or delayed (and so reordered). A wiped node must be refilled by repair before the
 * next crash: the promise is for a minority of failures with time to re-replicate between them.
 */
import type { Clock } from '../clock.js'
import { sleep } from '../clock.js'
import type { SeededRandom } from '../random.js'
import type { Fault, FaultKind } from './history.js'
import type { SimNode, World } from './world.js'

const STRUCTURAL: FaultKind[] = [
  'kill', 'kill', 'kill-wipe', 'pause', 'pause', 'cut-pair', 'cut-oneway', 'isolate-peers', 'isolate-nats', 'split-two', 'bridge',
  'disk-fail', 'nats-down',
]
const WEATHER: FaultKind[] = ['drop', 'duplicate', 'delay']
export const PARTITIONS = new Set<FaultKind>(['cut-pair', 'cut-oneway', 'isolate-peers', 'isolate-nats', 'split-two', 'bridge'])

export interface NemesisOptions {
  /** Faults start and end within [from, until] (virtual ms). */
  from: number
  until: number
  /** Channels, for the channels each fault's nodes owned. */
  channels: string[]
  /** Called when a partition healed (the liveness probes start there). */
  onHeal?: (fault: Fault) => void
  /** Restrict the structural track to these kinds (default: all). */
  kinds?: FaultKind[]
}

export class Nemesis {
  readonly faults: Fault[] = []
  private readonly clock: Clock
  private wiped = false

  constructor(private readonly world: World, private readonly rng: SeededRandom, private readonly options: NemesisOptions) {
    this.clock = world.time.clock('nemesis')
  }

  /** Runs both tracks; resolves with everything healed. */
  async run(): Promise<void> {
    await sleep(this.clock, Math.max(0, this.options.from - this.clock.now()))
    await Promise.all([this.structural(), this.weather()])
    this.healAll()
  }

  private async structural(): Promise<void> {
    const kinds = this.options.kinds ?? STRUCTURAL
    for (;;) {
      await sleep(this.clock, this.rng.int(300, 2500))
      const hold = this.rng.int(500, 6000)
      if (this.clock.now() + hold > this.options.until) return
      let kind = this.rng.pick(kinds)
      if (kind === 'kill-wipe' && this.wiped) kind = 'kill'
      await this.inject(kind, hold)
    }
  }

  private async weather(): Promise<void> {
    for (;;) {
      await sleep(this.clock, this.rng.int(500, 4000))
      const hold = this.rng.int(500, 4000)
      if (this.clock.now() + hold > this.options.until) return
      const kind = this.rng.pick(WEATHER)
      const { links } = this.world
      const fault = this.begin(kind, [])
      if (kind === 'drop') links.drop = this.rng.int(5, 40) / 100
      if (kind === 'duplicate') links.duplicate = this.rng.int(10, 60) / 100
      if (kind === 'delay') links.extraDelayMs = this.rng.int(20, 1500)
      await sleep(this.clock, hold)
      links.calm()
      this.end(fault)
    }
  }

  private async inject(kind: FaultKind, hold: number): Promise<void> {
    const { world, rng } = this
    const nodes = world.nodes
    const [a, b, c, d, e] = shuffle(rng, nodes)
    switch (kind) {
      case 'kill':
      case 'kill-wipe': {
        const fault = this.begin(kind, [a!])
        world.crash(a!)
        await sleep(this.clock, hold)
        if (kind === 'kill-wipe') {
          world.wipe(a!)
          this.wiped = true
        }
        world.launch(a!)
        this.end(fault)
        // Replaced disks are refilled by repair before anything else fails.
        if (kind === 'kill-wipe') await this.refilled(a!)
        return
      }
      case 'pause': {
        const fault = this.begin(kind, [a!])
        world.pause(a!)
        await sleep(this.clock, hold)
        world.resume(a!)
        this.end(fault)
        return
      }
      case 'disk-fail': {
        const fault = this.begin(kind, [a!])
        a!.diskFailRate = rng.int(20, 100) / 100
        await sleep(this.clock, hold)
        a!.diskFailRate = 0
        this.end(fault)
        return
      }
      case 'nats-down': {
        const fault = this.begin(kind, [])
        world.bus.setConnected(false)
        await sleep(this.clock, hold)
        world.bus.setConnected(true)
        this.end(fault)
        return
      }
      default:
        return this.partition(kind, hold, [a!, b!, c!, d!, e!])
    }
  }

  private async partition(kind: FaultKind, hold: number, [a, b, c, d, e]: SimNode[]): Promise<void> {
    const { links, bus, nodes } = this.world
    const ids = (list: Array<SimNode | undefined>) => list.filter((n): n is SimNode => n !== undefined).map((n) => n.id)
    const others = (cut: string[]) => nodes.map((n) => n.id).filter((id) => !cut.includes(id))
    let hit: string[]
    switch (kind) {
      case 'cut-pair': hit = ids([a, b]); links.cut(hit[0]!, hit[1]!); break
      case 'cut-oneway': hit = ids([a, b]); links.cut(hit[0]!, hit[1]!, true); break
      case 'isolate-peers': hit = ids([a]); links.split(hit, others(hit)); break
      case 'isolate-nats': hit = ids([a]); bus.setCut(hit[0]!, true); break
      case 'split-two':
        hit = ids([a, b])
        links.split(hit, others(hit))
        for (const id of hit) bus.setCut(id, true)
        break
      case 'bridge': {
        hit = ids([a, b])
        const far = ids([d, e])
        links.split(hit, far)
        void c
        break
      }
      default: throw new Error(`not a partition: ${kind}`)
    }
    const fault = this.begin(kind, hit)
    await sleep(this.clock, hold)
    links.healCuts()
    for (const n of nodes) bus.setCut(n.id, false)
    this.end(fault)
    this.options.onHeal?.(fault)
  }

  /** Waits (bounded) until every key `node` holds a replica of is applied there as far as its peers committed it. */
  private async refilled(node: SimNode): Promise<void> {
    const deadline = this.clock.now() + 60_000
    while (this.clock.now() < deadline) {
      await sleep(this.clock, 500)
      if (await this.caughtUp(node)) return
    }
  }

  private async caughtUp(node: SimNode): Promise<boolean> {
    const mine = node.process?.core?.cluster
    if (!mine || !node.up) return false
    for (const other of this.world.nodes) {
      const cluster = other.process?.core?.cluster
      if (!cluster || other === node) continue
      for (const [key, meta] of await cluster.replica.keys('', 100_000)) {
        if (meta.commit === 0 || !mine.view.replicaSet(key).includes(node.id)) continue
        if ((await mine.replica.meta(key)).applied < meta.commit) return false
      }
    }
    return true
  }

  /** Heals whatever is still broken (the end of the run). */
  healAll(): void {
    const { world } = this
    world.links.healCuts()
    world.links.calm()
    world.bus.setConnected(true)
    for (const n of world.nodes) {
      world.bus.setCut(n.id, false)
      n.diskFailRate = 0
      if (world.isPaused(n)) world.resume(n)
      if (!n.process) world.launch(n)
    }
  }

  private begin(kind: FaultKind, nodes: SimNode[] | string[]): Fault {
    const names = nodes.map((n) => (typeof n === 'string' ? n : n.id))
    const fault: Fault = { kind, node: names[0] ?? null, nodes: names, at: this.clock.now(), ownedChannels: this.owned(names) }
    this.faults.push(fault)
    return fault
  }

  private end(fault: Fault): void {
    fault.healedAt = this.clock.now()
  }

  /** The channels whose owner is one of `nodes` now, as a live node sees it. */
  private owned(nodes: string[]): string[] {
    const view = this.world.up()[0]?.process?.core?.cluster?.view
    if (!view || nodes.length === 0) return []
    return this.options.channels.filter((c) => nodes.includes(view.owner(`channel:${c}`) ?? ''))
  }
}

function shuffle<T>(rng: SeededRandom, items: readonly T[]): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}
