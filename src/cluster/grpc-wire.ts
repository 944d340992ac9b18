/**
 * What the gRPC transport's two paths share (unary calls in transport-grpc.ts, the long-lived
 * stream in grpc-stream.ts): the wire shapes of proto/node.proto, their conversion to and from
 * the transport's types, status codes as TransportErrors, and the protocol-version metadata.
 */
import * as grpc from '@grpc/grpc-js'
import { AUTH_HEADERS, type RequestVerifier, type SignedHeaders } from './rpc-auth.js'
import { PROTOCOL_HEADER, PROTOCOL_MIN_HEADER, type ProtocolRange, compatible, parseVersion } from './protocol-version.js'
import {
  decodeBody, encodeBody, errorMessage, settleReplies, settleReply, TransportError,
  type RemoteError, type Reply, type TransportHandlers,
} from './transport.js'

export const PACKAGE = 'chat.cluster.v1'
export const SERVICE = `${PACKAGE}.Node`

// Wire shapes (camelCase; longs as Number from proto-loader, as Long objects from protobufjs'
// decode, hence `Long` below; absent fields undefined or the type's default).
export type Long = number | { toNumber(): number }
export interface WireCall { key?: string; kind?: string; body?: Uint8Array; ringVersion?: Long; from?: string }
export interface WireMultiCall { keys?: string[]; kind?: string; body?: Uint8Array; ringVersion?: Long; from?: string }
export interface WirePeer { kind?: string; body?: Uint8Array; ringVersion?: Long; from?: string }
export interface WireError { code?: string; message?: string; ringVersion?: Long | null; owner?: string | null }
export interface WireReply { ok?: boolean; body?: Uint8Array; error?: WireError | null }
export interface WireMultiReply { replies?: WireReply[] }
export interface WirePushBatch { pushes?: { sessions?: string[]; frame?: string }[]; resync?: string[] }
export interface WirePushAck { error?: WireError | null }

/** One request of a stream frame: exactly one of the four set. */
export interface WireRequest {
  id?: number
  call?: WireCall | null
  callMany?: WireMultiCall | null
  push?: WirePushBatch | null
  peer?: WirePeer | null
}

/** The answer to the stream request of the same id: `reply` for call and peer, `multi`, `pushAck`. */
export interface WireAnswer {
  id?: number
  reply?: WireReply | null
  multi?: WireMultiReply | null
  pushAck?: WirePushAck | null
}

export function toNumber(v: Long | null | undefined): number {
  if (v == null) return 0
  return typeof v === 'number' ? v : v.toNumber()
}

export function fromStatus(err: grpc.ServiceError, address: string): TransportError {
  const message = `${address}: ${err.details || err.message}`
  switch (err.code) {
    case grpc.status.DEADLINE_EXCEEDED: return new TransportError('DEADLINE', message, err)
    case grpc.status.UNAVAILABLE:
    case grpc.status.UNAUTHENTICATED:
    case grpc.status.CANCELLED: return new TransportError('UNAVAILABLE', message, err)
    case grpc.status.FAILED_PRECONDITION: return new TransportError('INCOMPATIBLE', message, err)
    default: return new TransportError('INTERNAL', message, err)
  }
}

export function fromWireError(wire: WireError): RemoteError {
  const error: RemoteError = { code: wire.code || 'INTERNAL', message: wire.message ?? '' }
  if (wire.ringVersion != null) error.ringVersion = toNumber(wire.ringVersion)
  if (wire.owner) error.owner = wire.owner
  return error
}

export function fromWireReply(wire: WireReply): Reply {
  if (wire.ok) {
    try {
      return { ok: true, body: decodeBody(wire.body) }
    } catch (err) {
      throw new TransportError('INTERNAL', `reply body is not JSON: ${errorMessage(err)}`, err)
    }
  }
  return { ok: false, error: fromWireError(wire.error ?? { message: 'reply carries neither body nor error' }) }
}

/** Encoding a handler's reply can fail too (a BigInt in a body): that is the handler's bug. */
export function toWireReply(reply: Reply): WireReply {
  try {
    return reply.ok ? { ok: true, body: encodeBody(reply.body) } : { ok: false, error: reply.error }
  } catch (err) {
    return { ok: false, error: { code: 'INTERNAL', message: errorMessage(err) } }
  }
}

/** This node's protocol versions and what to do about a peer that shares none. */
export interface Versioning { range: ProtocolRange; metadata: grpc.Metadata; onIncompatible: (event: IncompatiblePeer) => void }

/**
 * The error for an answer from a peer speaking `answered`, when it shares no version with this
 * node (which is told, as an outgoing incompatibility); null when they share one.
 */
export function incompatibleAnswer(address: string, answered: ProtocolRange, versioning: Versioning): TransportError | null {
  const own = versioning.range
  if (compatible(answered, own)) return null
  versioning.onIncompatible({ peer: address, peerVersion: answered.version, peerMin: answered.min, direction: 'outgoing' })
  return new TransportError('INCOMPATIBLE', `${address} speaks node protocol ${answered.min}..${answered.version}, this node ${own.min}..${own.version}`)
}

/** A peer that speaks no protocol version in common with this node. */
export interface IncompatiblePeer { peer: string; peerVersion: number; peerMin: number; direction: 'incoming' | 'outgoing' }

export function protocolMetadata(range: ProtocolRange): grpc.Metadata {
  const md = new grpc.Metadata()
  md.set(PROTOCOL_HEADER, String(range.version))
  md.set(PROTOCOL_MIN_HEADER, String(range.min))
  return md
}

export function readRange(md: grpc.Metadata): ProtocolRange {
  const version = parseVersion(md.get(PROTOCOL_HEADER))
  const min = parseVersion(md.get(PROTOCOL_MIN_HEADER)) || version
  return { version, min }
}

/** The signature headers of a call, as far as present. */
export function signedHeaders(metadata: grpc.Metadata): Partial<SignedHeaders> {
  const one = (k: string) => {
    const v = metadata.get(k)[0]
    return typeof v === 'string' ? v : undefined
  }
  return { from: one(AUTH_HEADERS.from), ts: one(AUTH_HEADERS.ts), nonce: one(AUTH_HEADERS.nonce), sig: one(AUTH_HEADERS.sig) }
}

/** Copies a signature into call metadata. */
export function setSignature(metadata: grpc.Metadata, h: SignedHeaders): void {
  for (const k of Object.keys(AUTH_HEADERS) as Array<keyof SignedHeaders>) metadata.set(AUTH_HEADERS[k], h[k])
}

export type CallerVerdict = { ok: true } | { ok: false; status: { code: grpc.status; details: string } }

/**
 * Whether a node answers an incoming call (a unary request, or the opening of a stream): its
 * credentials first, then its caller's protocol versions. `body` is what the signature covers.
 */
export function checkCaller(
  path: string, metadata: grpc.Metadata, body: Uint8Array, peerAddress: () => string,
  versioning: Versioning, verifier: RequestVerifier | undefined, onRefused?: (reason: string) => void,
): CallerVerdict {
  const signed = signedHeaders(metadata)
  const caller = readRange(metadata)
  if (verifier) {
    const verdict = verifier.verify(path, signed, body)
    if (!verdict.ok) {
      // A release from before signatures is refused here too: say what it claims to speak.
      const hint = compatible(caller, versioning.range) ? '' : `; the caller claims node protocol ${caller.min}..${caller.version}, this node speaks ${versioning.range.min}..${versioning.range.version}`
      onRefused?.(verdict.reason + hint)
      return { ok: false, status: { code: grpc.status.UNAUTHENTICATED, details: `cluster credentials required: ${verdict.reason}${hint}` } }
    }
  }
  if (!compatible(caller, versioning.range)) {
    // The caller's node id (verified with its signature), else its address without the (ephemeral) port.
    const peer = (verifier && signed.from) || peerAddress().replace(/:\d+$/, '')
    versioning.onIncompatible({ peer, peerVersion: caller.version, peerMin: caller.min, direction: 'incoming' })
    return {
      ok: false,
      status: {
        code: grpc.status.FAILED_PRECONDITION,
        details: `incompatible node protocol: the caller speaks ${caller.min}..${caller.version}, this node ${versioning.range.min}..${versioning.range.version}; see the upgrade order in docs/OPERATIONS.md`,
      },
    }
  }
  return { ok: true }
}

/**
 * Runs the handler of one request, as the stream and the unary rpcs receive it; never rejects (a
 * handler's failure is its answer).
 */
export async function handleRequest(r: WireRequest, handlers: TransportHandlers): Promise<WireAnswer> {
  const id = r.id
  if (r.call) {
    const c = r.call
    const reply = await settleReply(() => handlers.call({
      key: c.key ?? '', kind: c.kind ?? '', body: decodeBody(c.body), ringVersion: toNumber(c.ringVersion), from: c.from ?? '',
    }))
    return { id, reply: toWireReply(reply) }
  }
  if (r.callMany) {
    const c = r.callMany
    const keys = c.keys ?? []
    const replies = await settleReplies(keys.length, () => handlers.callMany({
      keys, kind: c.kind ?? '', body: decodeBody(c.body), ringVersion: toNumber(c.ringVersion), from: c.from ?? '',
    }))
    return { id, multi: { replies: replies.map(toWireReply) } }
  }
  if (r.push) {
    const pushes = (r.push.pushes ?? []).map((p) => ({ sessions: p.sessions ?? [], frame: p.frame ?? '' }))
    const resync = r.push.resync ?? []
    try {
      await handlers.push(resync.length > 0 ? { pushes, resync } : { pushes })
      return { id, pushAck: {} }
    } catch (err) {
      return { id, pushAck: { error: { code: 'INTERNAL', message: errorMessage(err) } } }
    }
  }
  if (r.peer) {
    const c = r.peer
    const reply = await settleReply(() => handlers.peer({
      kind: c.kind ?? '', body: decodeBody(c.body), ringVersion: toNumber(c.ringVersion), from: c.from ?? '',
    }))
    return { id, reply: toWireReply(reply) }
  }
  return { id, reply: { ok: false, error: { code: 'INTERNAL', message: 'a request of a kind this node does not know' } } }
}
