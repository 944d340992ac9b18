/**
 * The partition nemesis: network cuts between the nodes of a cluster whose nodes and nats-server
 * each run in a namespace of their own (test/helpers/netns.ts). Packets are dropped silently, so a
 * peer hangs rather than fails fast; clients (in the test's namespace) still reach every node, as
 * users on the internet would while the datacenter's own links break. One cut at a time, held for
 * a few seconds, then the network heals.
 */
import type { TestCluster } from '../helpers/cluster.js'
import type { Network } from '../helpers/netns.js'
import type { Fault } from '../../src/sim/history.js'
import { PARTITION_FAULTS } from '../../src/sim/history.js'
import type { Rng } from './rng.js'
import { sleep } from './writer.js'

export interface CutPlan {
  kind: (typeof PARTITION_FAULTS)[number]
  /** The nodes cut off (for a bridge: the two sides' first nodes, then the bridge node). */
  nodes: string[]
  apply(): void
}

/** Picks a cut among the running nodes. */
export function planCut(cluster: TestCluster, net: Network, rng: Rng): CutPlan {
  const kind = rng.pick(PARTITION_FAULTS)
  const ids = shuffle(cluster.running().map((n) => n.id), rng)
  const ip = (id: string) => net.host(id).ip
  const nats = net.host('nats').ip
  const [a, b, c] = ids as [string, string, string]
  switch (kind) {
    case 'cut-pair':
      return { kind, nodes: [a, b], apply: () => net.cutBetween(a, b) }
    case 'cut-oneway': {
      // a's requests to b's node ports (gRPC and peer link) are lost; b still calls a, and both still hear NATS.
      const portOf = (address: string | null | undefined) => Number(address?.split(':').pop())
      const ports = [portOf(cluster.node(b).ready!.grpc), portOf(cluster.node(b).ready!.link)].filter((p) => p > 0)
      return { kind, nodes: [a, b], apply: () => net.drop(a, { to: [ip(b)], ports }) }
    }
    case 'isolate-peers': {
      const others = ids.filter((id) => id !== a)
      return { kind, nodes: [a], apply: () => net.drop(a, { to: others.map(ip), from: others.map(ip) }) }
    }
    case 'isolate-nats':
      return { kind, nodes: [a], apply: () => net.drop(a, { to: [nats], from: [nats] }) }
    case 'split-two': {
      const rest = ids.slice(2).map(ip)
      const cut = [...rest, nats]
      return {
        kind, nodes: [a, b], apply: () => {
          net.drop(a, { to: cut, from: cut })
          net.drop(b, { to: cut, from: cut })
        },
      }
    }
    case 'bridge': {
      // {a, b} and the rest cannot talk; c is in the rest, reaches everyone, and so does NATS.
      const left = [a, b]
      const right = ids.slice(2).filter((id) => id !== c)
      return {
        kind, nodes: [a, b, c], apply: () => {
          for (const l of left) for (const r of right) net.cutBetween(l, r)
        },
      }
    }
  }
}

/** Applies a cut for `holdMs`, then heals the whole network; returns the fault's record. */
export async function partition(cluster: TestCluster, net: Network, rng: Rng, holdMs: number, ownedBy: (nodes: string[]) => Promise<string[]>): Promise<Fault> {
  const plan = planCut(cluster, net, rng)
  const ownedChannels = await ownedBy(plan.nodes)
  const at = Date.now()
  plan.apply()
  try {
    await sleep(holdMs)
  } finally {
    net.heal()
  }
  return { kind: plan.kind, node: plan.nodes[0]!, nodes: plan.nodes, at, healedAt: Date.now(), ownedChannels }
}

function shuffle<T>(items: T[], rng: Rng): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}
