/** What both sides of replication need from the node: the local replica, the view, and peers. */
import type { Logger } from 'pino'
import type { Clock } from '../../clock.js'
import { errors } from '../../errors.js'
import type { Random } from '../../random.js'
import { PEER_KINDS } from './types.js'
import type { PeerClient } from '../transport.js'
import type { ClusterView } from '../view.js'
import type { ReplicationBatcher } from './batcher.js'
import type { ReplicaStore } from './replica.js'

export interface ReplicationContext {
  self: string
  replica: ReplicaStore
  view: ClusterView
  /** A client for a peer by node id; undefined when its address is unknown. */
  peer(node: string): PeerClient | undefined
  log: Logger
  /** Commit and takeover timeouts, retries. */
  clock: Clock
  /** Snapshot transfer ids. */
  random: Random
  /** Deadline of one replication request. */
  rpcTimeoutMs: number
  /** How long a commit waits for a majority before the owner steps down. */
  commitTimeoutMs: number
  /** Gathers appends to one node per tick; without it each goes alone. */
  batcher?: ReplicationBatcher
  /** Counters for the node's metrics; absent in tests that build replication by hand. */
  metrics?: ReplicationMetrics
}

/** What replication counts (prom-client counters fit). */
export interface ReplicationMetrics {
  takeovers: { inc(labels: { outcome: 'ok' | 'failed' }): void }
  /** Takeovers and commits refused or failed for want of a majority. */
  quorumFailures: { inc(labels: { op: 'takeover' | 'commit' }): void }
  snapshots: { inc(labels: { direction: 'sent' | 'received' }): void }
  compactedEntries: { inc(value: number): void }
  repairedEntries: { inc(value: number): void }
}

/**
 * One replication request to `node`: in-process for this node's own replica, over the transport
 * otherwise. Transport failures and refusals reject; the caller decides what they mean.
 */
export async function replicationCall<T>(ctx: ReplicationContext, node: string, kind: string, body: unknown, local: () => Promise<T>): Promise<T> {
  if (node === ctx.self) return local()
  if (ctx.batcher && kind === PEER_KINDS.append) return ctx.batcher.call<T>(node, kind, body)
  const client = ctx.peer(node)
  if (!client) throw errors.unavailable(`no address for node ${node}`)
  let reply
  try {
    reply = await client.peer({ kind, body, ringVersion: ctx.view.version, from: ctx.self }, ctx.rpcTimeoutMs)
  } catch (err) {
    throw errors.unavailable(`${kind} to ${node} failed: ${(err as Error).message}`, err)
  }
  if (!reply.ok) throw Object.assign(errors.unavailable(`${kind} refused by ${node}: ${reply.error.code} ${reply.error.message}`), { remote: reply.error })
  return reply.body as T
}
