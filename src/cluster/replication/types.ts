/**
 * The replication protocol's data, shared by the replica side (replica.ts) and the owner side
 * (owner.ts). Close to Raft's log replication and Kafka's leader epochs: an actor key's owner
 * writes numbered log entries under a unique epoch; replicas refuse epochs below their promise.
 * See docs/REPLICATION.md.
 */
import type { KvOp } from '../../storage/kv.js'

/** Unique and totally ordered: a counter, then the node that chose it. Never reused. */
export interface Epoch { n: number; node: string }

export function compareEpochs(a: Epoch | null, b: Epoch | null): number {
  if (a === b) return 0
  if (!a) return -1
  if (!b) return 1
  if (a.n !== b.n) return a.n - b.n
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0
}

export function sameEpoch(a: Epoch | null, b: Epoch | null): boolean {
  return compareEpochs(a, b) === 0
}

/**
 * One log entry: the actor's change (ops on its own sub-keys) at position `p`. A takeover's marker
 * entry has no ops and carries `cfg`, the ring version it took ownership under.
 */
export interface Entry { p: number; e: Epoch; ops: KvOp[]; cfg?: number }

/** A replica's durable bookkeeping for one key. */
export interface ReplicaMeta {
  promised: Epoch | null
  last: number
  lastEpoch: Epoch | null
  /** Highest position known committed (on a majority). */
  commit: number
  /** Highest position whose ops are in the actor's state; never above `commit`. */
  applied: number
  /** The ring version of the newest applied takeover marker: ownership was established under it. */
  cfg?: number
}

export const EMPTY_META: ReplicaMeta = { promised: null, last: 0, lastEpoch: null, commit: 0, applied: 0 }

export interface PrepareRequest { key: string; epoch: Epoch }
export type PrepareReply =
  | { ok: true; node: string; incarnation: string; last: number; lastEpoch: Epoch | null; commit: number; applied: number; cfg: number }
  | { ok: false; node: string; incarnation: string; promised: Epoch | null }

export interface AppendRequest {
  key: string
  epoch: Epoch
  /** Position before the first entry, and its epoch; positions at or below the replica's applied always match. */
  prevP: number
  prevE: Epoch | null
  entries: Entry[]
  /** The owner's commit position: the replica applies up to min(commit, what it verified). */
  commit: number
  /** Drop any entries after this position first (the owner adopting another replica's log). */
  truncateAfter?: number
}
export type AppendReply =
  | { ok: true; last: number }
  | { ok: false; reason: 'stale'; promised: Epoch | null }
  | { ok: false; reason: 'mismatch'; last: number; applied: number }

export interface FetchRequest { key: string; after: number; upTo: number; maxBytes: number }
export interface StatusReply { key: string; last: number; commit: number; applied: number; promised?: Epoch | null }
export interface InstallRequest { key: string; entries: Entry[]; commit: number }

/** Node-level request kinds carried by the transport's `peer` rpc. */
export const PEER_KINDS = {
  prepare: 'repl.prepare',
  append: 'repl.append',
  fetch: 'repl.fetch',
  status: 'repl.status',
  install: 'repl.install',
  /** Several of the above for one node, gathered within a tick. */
  batch: 'repl.batch',
} as const

export function majority(n: number): number {
  return Math.floor(n / 2) + 1
}
