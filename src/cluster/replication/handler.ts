/**
 * The replica's answers to replication requests from peers, by kind: the one dispatch both the
 * node's peer service and in-process test clusters use.
 */
import type { ReplicaStore } from './replica.js'
import { PEER_KINDS } from './types.js'

/** The reply body for a replication request; rejects on an unknown kind. */
export async function answerReplication(replica: ReplicaStore, kind: string, body: unknown): Promise<unknown> {
  const b = body as never
  switch (kind) {
    case PEER_KINDS.prepare: return replica.prepare(b)
    case PEER_KINDS.append: return replica.append(b)
    case PEER_KINDS.fetch: return replica.fetch(b)
    case PEER_KINDS.status: return replica.status((body as { keys: string[] }).keys)
    case PEER_KINDS.install: return replica.install(b)
    case PEER_KINDS.snapshot: return replica.state.install(b)
    case PEER_KINDS.snapshotRead: return replica.state.read(b)
    default: throw new UnknownKindError(kind)
  }
}

export class UnknownKindError extends Error {
  override readonly name = 'UnknownKindError'
  constructor(readonly kind: string) {
    super(`unknown peer request ${kind}`)
  }
}
