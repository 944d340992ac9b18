/**
 * Liveness figures of simulated runs: after a partition heals, how long until every channel
 * acknowledges a write again (the probes, in virtual time), and what a client hears meanwhile
 * from a node on the minority side of a cut (a node cut from its peers, two nodes cut from the
 * rest): acknowledgements, refusals (UNAVAILABLE: nothing stored, retry), or silence until its
 * own timeout.
 */
import type { Attempt } from './client.js'
import type { Fault, FaultKind } from './history.js'

/** Samples, so that runs can be pooled before taking percentiles. */
export interface LivenessFigures {
  /** Per partition kind: ms from the heal until a channel acknowledged a write again, one sample per (cut, channel). */
  healToWrite: Record<string, number[]>
  /** Per partition kind with a minority side: how the attempts sent to that side during the cut ended. */
  minority: Record<string, Record<string, number>>
}

const MINORITY: ReadonlySet<FaultKind> = new Set(['isolate-peers', 'split-two'])

export function livenessFigures(faults: Fault[], attempts: Attempt[], probes: Array<{ kind: FaultKind; ms: number }>, partitions: ReadonlySet<FaultKind>): LivenessFigures {
  const healToWrite: Record<string, number[]> = {}
  for (const p of probes) (healToWrite[p.kind] ??= []).push(p.ms)
  const minority: Record<string, Record<string, number>> = {}
  for (const f of faults) {
    if (!partitions.has(f.kind) || !MINORITY.has(f.kind) || f.healedAt === undefined) continue
    const side = new Set(f.nodes ?? [])
    const counts = (minority[f.kind] ??= {})
    for (const a of attempts) {
      if (!side.has(a.node) || a.at < f.at || a.at >= f.healedAt) continue
      counts[a.outcome] = (counts[a.outcome] ?? 0) + 1
    }
  }
  return { healToWrite, minority }
}

/** Pools figures of many runs. */
export function pool(all: LivenessFigures[]): LivenessFigures {
  const out: LivenessFigures = { healToWrite: {}, minority: {} }
  for (const f of all) {
    for (const [k, v] of Object.entries(f.healToWrite)) (out.healToWrite[k] ??= []).push(...v)
    for (const [k, counts] of Object.entries(f.minority)) {
      const into = (out.minority[k] ??= {})
      for (const [o, n] of Object.entries(counts)) into[o] = (into[o] ?? 0) + n
    }
  }
  return out
}

export function percentile(values: number[], q: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}
