/**
 * The node-to-node protocol version. Every gRPC call carries the range of versions its caller
 * speaks (metadata `chat-protocol` = its version, `chat-protocol-min` = the oldest it still
 * speaks); a node answers only callers whose range overlaps its own, and refuses the others with
 * FAILED_PRECONDITION, a log line and a metric, rather than misread their requests.
 *
 * Rules for changing it (docs/OPERATIONS.md, "Upgrades"): a release that changes what travels
 * between nodes raises PROTOCOL_VERSION; while it can still talk to the previous release it keeps
 * MIN_PEER_PROTOCOL at that version (and sends nothing the previous release would misread), so a
 * rolling upgrade, one node at a time, works between neighbouring releases. Raising
 * MIN_PEER_PROTOCOL ends that: every node must run the previous release before any runs this one.
 *
 * History: 2 = the first versioned protocol: state snapshots, compacted logs (fetch replies carry
 * the compaction base). Nodes before it sent no version (read as 0) and are refused: moving from
 * them to this release is a stop-and-start of the whole cluster. 3 = the long-lived stream per
 * peer (the Stream rpc, src/cluster/grpc-stream.ts); a node of 3 sends to a node of 2 by the
 * unary rpcs, which it still serves, so 2 and 3 mix during a rolling upgrade.
 */
export const PROTOCOL_VERSION = 3
export const MIN_PEER_PROTOCOL = 2

/** gRPC metadata keys carrying a caller's range. */
export const PROTOCOL_HEADER = 'chat-protocol'
export const PROTOCOL_MIN_HEADER = 'chat-protocol-min'

export interface ProtocolRange { version: number; min: number }

export const OWN_PROTOCOL: ProtocolRange = { version: PROTOCOL_VERSION, min: MIN_PEER_PROTOCOL }

/** Whether a caller speaking `peer` may be answered by a node speaking `own`: the ranges overlap. */
export function compatible(peer: ProtocolRange, own: ProtocolRange = OWN_PROTOCOL): boolean {
  return peer.min <= own.version && own.min <= peer.version
}

/** Reads a metadata value as a version number; absent or malformed is 0 (a node before versions). */
export function parseVersion(value: unknown): number {
  const n = Number(Array.isArray(value) ? value[0] : value)
  return Number.isSafeInteger(n) && n > 0 ? n : 0
}
