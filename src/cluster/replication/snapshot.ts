/**
 * Moving an actor's state between replicas in bounded chunks, for a replica whose missing log
 * entries were compacted away (far behind, new to the replica set, or wiped). Pushed by the node
 * that notices (an owner's follower sync, repair, a leaving node's handoff) or pulled by a new
 * owner that must catch up before it serves. Either way the chunks come from one point-in-time
 * read of the source's applied state and are installed by replica-state.ts.
 */
import { errors } from '../../errors.js'
import { type ReplicationContext, replicationCall } from './context.js'
import {
  type Epoch, PEER_KINDS, type SnapshotChunk, type SnapshotPoint, type SnapshotReadReply, type SnapshotReadRequest,
  type SnapshotReply,
} from './types.js'

/** State bytes per chunk: well under the transport's message limit, small enough to write as one batch. */
export const SNAPSHOT_CHUNK_BYTES = 1 << 20

export type PushResult = { reply: SnapshotReply; at: SnapshotPoint }

/**
 * Sends this node's applied state of `key` to `node`. `epoch` is the owner's (the receiver then
 * checks it against its promise), or null for repair and handoff. `spend` paces the bytes sent.
 * Resolves with the receiver's answer to the last chunk sent; transport failures reject.
 */
export async function pushSnapshot(
  ctx: ReplicationContext, node: string, key: string, epoch: Epoch | null, spend?: (bytes: number) => Promise<void>,
): Promise<PushResult> {
  const reader = await ctx.replica.state.open(key)
  const id = ctx.random.bytes(8).toString('hex')
  try {
    for (let seq = 0; ; seq++) {
      const { after, rows, done } = await reader.next(SNAPSHOT_CHUNK_BYTES)
      if (spend) await spend(rows.reduce((n, [k, v]) => n + k.length + JSON.stringify(v).length, 0))
      const chunk: SnapshotChunk = { key, id, seq, at: reader.at, epoch, after, rows, done }
      const reply = await replicationCall<SnapshotReply>(ctx, node, PEER_KINDS.snapshot, chunk, () => ctx.replica.state.install(chunk))
      if (!reply.ok || done) {
        if (reply.ok) ctx.metrics?.snapshots.inc({ direction: 'sent' })
        return { reply, at: reader.at }
      }
    }
  } finally {
    await reader.close()
  }
}

/**
 * Fetches `source`'s applied state of `key` and installs it here. Resolves with the snapshot
 * point once it is installed (or with null when this replica already held that point or later).
 */
export async function pullSnapshot(ctx: ReplicationContext, source: string, key: string): Promise<SnapshotPoint | null> {
  let session: string | null = null
  for (;;) {
    const req: SnapshotReadRequest = { key, session, maxBytes: SNAPSHOT_CHUNK_BYTES }
    const reply = await replicationCall<SnapshotReadReply>(ctx, source, PEER_KINDS.snapshotRead, req, () => ctx.replica.state.read(req))
    if (!reply.ok) throw errors.unavailable(`${source} could not serve a snapshot of ${key}: ${reply.reason}`)
    session = reply.session
    const installed = await ctx.replica.state.install(reply.chunk, true)
    if (!installed.ok) {
      if (installed.reason === 'skip') return null
      throw errors.unavailable(`could not install ${source}'s snapshot of ${key}: ${installed.reason}`)
    }
    if (reply.chunk.done) return reply.chunk.at
  }
}
