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
  /** The log's end and the epoch of its last entry; kept when the entries themselves are compacted. */
  last: number
  lastEpoch: Epoch | null
  /** Highest position known committed (on a majority). */
  commit: number
  /** Highest position whose ops are in the actor's state; never above `commit`. */
  applied: number
  /** The ring version of the newest applied takeover marker: ownership was established under it. */
  cfg?: number
  /**
   * Compaction: entries up to `base` were applied and removed; `baseEpoch` is the epoch of entry
   * `base`. Never above `applied`. Absent (0) on a log nothing was ever removed from.
   */
  base?: number
  baseEpoch?: Epoch | null
  /**
   * A snapshot of the actor's state is being written over the old one: until it is complete the
   * state is a mix of both, so nothing is applied and nothing is read from it.
   */
  installing?: { id: string; p: number; cursor: string | null }
  /**
   * Set by a restore from a backup: this copy may differ from its peers' in ways the log cannot
   * tell (backups of different nodes are taken at different moments: one may hold applied entries
   * another lacks), so the next takeover of the key must hear from every replica the key had when
   * the backup was taken (the ids listed; `true` when the backup did not record them: every member
   * of the current replica set). Cleared by the first append accepted from an owner after that.
   */
  restored?: true | string[]
}

export const EMPTY_META: ReplicaMeta = { promised: null, last: 0, lastEpoch: null, commit: 0, applied: 0 }

export interface PrepareRequest { key: string; epoch: Epoch }
export type PrepareReply =
  | {
    ok: true; node: string; incarnation: string; last: number; lastEpoch: Epoch | null; commit: number; applied: number; cfg: number
    /** Compaction base; whether the state is mid-install; whether (and with which replicas) the copy came from a backup. */
    base: number; installing: boolean; restored: boolean | string[]
  }
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
/**
 * Entries (after, upTo], starting at after + 1, unless `after` is below the replica's compaction
 * `base`: then `entries` is empty and the reader needs a snapshot. `prevE` is the epoch of entry
 * `after` when the replica knows it (null for position 0).
 */
export interface FetchReply { base: number; prevE: Epoch | null; entries: Entry[] }
export interface StatusReply {
  key: string; last: number; commit: number; applied: number; promised?: Epoch | null
  base?: number; installing?: boolean
}
export interface InstallRequest { key: string; entries: Entry[]; commit: number }

/** Where a state snapshot was taken: after applying entry `p` (of epoch `e`). */
export interface SnapshotPoint { p: number; e: Epoch | null; cfg: number }

/**
 * One chunk of an actor's state, in key order. Chunks of one transfer share `id` and arrive in
 * order (`seq` 0, 1, ...); `after` is the last sub-key of the previous chunk (null for the first),
 * so each chunk covers the sub-keys in (after, last row], and the final one (`done`) everything
 * after it too. `epoch` is the owner's when an owner sends it (checked against the promise like
 * an append); repair and handoff send committed state without one.
 */
export interface SnapshotChunk {
  key: string; id: string; seq: number; at: SnapshotPoint; epoch: Epoch | null
  after: string | null; rows: Array<[string, unknown]>; done: boolean
}
export type SnapshotReply =
  | { ok: true; applied: number; last: number }
  | { ok: false; reason: 'stale'; promised: Epoch | null }
  /** The receiver lost track of the transfer (restarted, or another one began): start over. */
  | { ok: false; reason: 'restart' }
  /** The receiver already holds this point or later, or cannot use a point this old. */
  | { ok: false; reason: 'skip'; applied: number; base: number }
/** Pull (a new owner reads a peer's snapshot): the first request has no session. */
export interface SnapshotReadRequest { key: string; session: string | null; maxBytes: number }
export type SnapshotReadReply = { ok: true; session: string; chunk: SnapshotChunk } | { ok: false; reason: string }

/** Node-level request kinds carried by the transport's `peer` rpc. */
export const PEER_KINDS = {
  prepare: 'repl.prepare',
  append: 'repl.append',
  fetch: 'repl.fetch',
  status: 'repl.status',
  install: 'repl.install',
  /** A chunk of an actor's state pushed to a replica that is far behind (owner, repair, handoff). */
  snapshot: 'repl.snapshot',
  /** The next chunk of a peer's state, pulled by a new owner that is far behind. */
  snapshotRead: 'repl.snapshot.read',
  /** Several of the above for one node, gathered within a tick. */
  batch: 'repl.batch',
} as const

export function majority(n: number): number {
  return Math.floor(n / 2) + 1
}
