/**
 * Node-to-node transport: carries actor calls, fan-outs, session pushes and node-level requests
 * between cluster nodes, with a deadline on every call. It knows nothing of placement; the router
 * above it decides which node to ask, and checks `ringVersion` and `from` itself.
 *
 * Two implementations share this interface: `transport-grpc.ts` (the real one, proto/node.proto)
 * and `transport-memory.ts` (several nodes in one process, for fast tests).
 *
 * Contracts every implementation keeps:
 * - Bodies are JSON values. They cross the wire as JSON text, so a body that does not survive
 *   `JSON.stringify` (BigInt, cycles) is a bug of the caller, reported as a `TransportError`
 *   with code INTERNAL; `undefined` travels as "no body" and arrives as `undefined`.
 * - A handler that throws is answered with `{ ok: false, error: { code: 'INTERNAL' } }` (for
 *   `callMany`, one such reply per key; for `push`, the caller's promise rejects INTERNAL). The
 *   serving node keeps serving.
 * - A client call settles within about its deadline: it resolves with the handler's reply or
 *   rejects with `TransportError` (DEADLINE, UNAVAILABLE, or INTERNAL for broken replies).
 *   A DEADLINE rejection does not mean the handler did not run: callers retry only idempotent work.
 * - No ordering is promised between separate calls, even to the same peer.
 */

export interface ActorCall { key: string; kind: string; body: unknown; ringVersion: number; from: string }

/** The same body for every key: the fan-out body is serialized once, not per key. */
export interface ActorMultiCall { keys: string[]; kind: string; body: unknown; ringVersion: number; from: string }

/** A node-level request (replication, handoff, ...) that no single actor owns. */
export interface PeerRequest { kind: string; body: unknown; ringVersion: number; from: string }

/** An error answered by the remote side; `ringVersion`/`owner` help the router on a mismatch. */
export interface RemoteError { code: string; message: string; ringVersion?: number; owner?: string }

export type Reply = { ok: true; body: unknown } | { ok: false; error: RemoteError }

/** `frame` is pre-serialized JSON text, sent as-is to each session's socket. */
export interface PushBatch {
  pushes: { sessions: string[]; frame: string }[]
  /** Sessions that may have missed pushes: the receiver closes them (1013) so they resync. */
  resync?: string[]
}

export interface TransportHandlers {
  call(req: ActorCall): Promise<Reply>
  /** One reply per key, in the order of `req.keys`. */
  callMany(req: ActorMultiCall): Promise<Reply[]>
  push(batch: PushBatch): Promise<void>
  peer(req: PeerRequest): Promise<Reply>
}

export interface PeerClient {
  call(req: ActorCall, deadlineMs: number): Promise<Reply>
  callMany(req: ActorMultiCall, deadlineMs: number): Promise<Reply[]>
  push(batch: PushBatch, deadlineMs: number): Promise<void>
  peer(req: PeerRequest, deadlineMs: number): Promise<Reply>
}

export interface Transport {
  /** Starts serving handlers on host:port (0 = pick); resolves with the bound port. Once per transport. */
  listen(host: string, port: number, handlers: TransportHandlers): Promise<number>
  /** A client for a peer address 'host:port', cached per address; survives the peer restarting. */
  peer(address: string): PeerClient
  /** Stops the server (graceful, then forced after a short grace) and closes clients. */
  close(): Promise<void>
}

/** INCOMPATIBLE: the two nodes share no node-to-node protocol version (src/cluster/protocol-version.ts). */
export type TransportErrorCode = 'UNAVAILABLE' | 'DEADLINE' | 'INTERNAL' | 'INCOMPATIBLE'

export class TransportError extends Error {
  readonly code: TransportErrorCode

  constructor(code: TransportErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'TransportError'
    this.code = code
  }
}

// ---- shared by the implementations ----

const EMPTY = Buffer.alloc(0)

/** Encodes a body once; `undefined` becomes an empty payload (JSON text is never empty). */
export function encodeBody(body: unknown): Buffer {
  if (body === undefined) return EMPTY
  let text: string | undefined
  try {
    text = JSON.stringify(body)
  } catch (err) {
    throw new TransportError('INTERNAL', `body is not JSON-serializable: ${errorMessage(err)}`, err)
  }
  // A function or symbol body stringifies to undefined: treat it like no body, as JSON does.
  return text === undefined ? EMPTY : Buffer.from(text, 'utf8')
}

export function decodeBody(bytes: Uint8Array | undefined): unknown {
  if (bytes === undefined || bytes.length === 0) return undefined
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  return JSON.parse(buf.toString('utf8'))
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export function internalReply(err: unknown): Reply {
  return { ok: false, error: { code: 'INTERNAL', message: errorMessage(err) } }
}

/** Runs a handler so that neither a throw nor a rejection escapes: both become INTERNAL replies. */
export async function settleReply(run: () => Promise<Reply>): Promise<Reply> {
  try {
    return await run()
  } catch (err) {
    return internalReply(err)
  }
}

/** As settleReply for a fan-out; a wrong number of replies is a handler bug, reported per key. */
export async function settleReplies(count: number, run: () => Promise<Reply[]>): Promise<Reply[]> {
  let replies: Reply[]
  try {
    replies = await run()
    if (!Array.isArray(replies) || replies.length !== count) {
      throw new Error(`callMany handler returned ${Array.isArray(replies) ? replies.length : typeof replies} replies for ${count} keys`)
    }
  } catch (err) {
    const reply = internalReply(err)
    return Array.from({ length: count }, () => reply)
  }
  return replies
}
