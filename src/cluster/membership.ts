/**
 * Cluster membership: who is on the ring, and who is alive. The two are kept apart on purpose.
 *
 * - The ring record is configuration: the set of nodes that hold data. It is one versioned record,
 *   changed only by compare-and-set on its version, and every node converges on the same record.
 *   A node adds itself when it starts; it leaves the record only by `leave()`, by an operator's
 *   `remove(id)`, or (when enabled) after being down for `autoRemoveAfterMs`. Never because a
 *   heartbeat was late.
 * - Liveness is a hint built from heartbeats. It moves the owner role for a key to the next live
 *   replica (see Ring.owner) and nothing else. While the heartbeat bus is unreachable the liveness
 *   view is frozen: nobody is declared down, and after contact returns every peer gets a full
 *   `deadAfterMs` of grace before it can be.
 *
 * Implementations: membership-nats.ts (JetStream KV + core NATS) and membership-memory.ts (one
 * in-process bus shared by several members, for fast tests).
 */
import type { Clock } from '../clock.js'
import type { Random } from '../random.js'

/** Who a member is, known before it listens anywhere. */
export interface MemberIdentity {
  id: string
  region?: string
  /**
   * Names one life of the member's data dir: a node that comes back with an empty data dir gets a
   * new one, so promises its old disk made are never counted again (replication's fencing).
   */
  incarnation?: string
}

/** Where a member listens: known once its servers are bound, advertised from `start`. */
export interface MemberAddresses {
  /** Base URL of the member's HTTP gateway, e.g. 'http://127.0.0.1:8080'. */
  http: string
  /** host:port of the member's node-to-node server, e.g. '127.0.0.1:9090'. */
  grpc: string
}

export interface MemberInfo extends MemberIdentity, MemberAddresses {}

export interface MemberLoad {
  connections: number
  actors: number
}

/** Members sorted by id; version is the store's revision of the record (0 = no record yet). */
export interface RingRecord {
  version: number
  members: MemberInfo[]
}

export interface LiveMember extends MemberInfo, MemberLoad {
  /** When the last heartbeat arrived, by the observer's clock (ms). */
  lastSeen: number
  leaving: boolean
}

export type MembershipEvent =
  /** The ring record changed (join, leave, removal). Delivered in version order. */
  | { type: 'ring'; ring: RingRecord }
  /** A member started heartbeating, or came back after being down. */
  | { type: 'up'; member: LiveMember }
  /** A member missed heartbeats for `deadAfterMs`, or announced it is leaving. */
  | { type: 'down'; id: string }
  /** The connection to the membership bus went away or came back. */
  | { type: 'nats'; connected: boolean }

export interface Membership {
  /** This member; its addresses are empty until `start`. */
  readonly self: MemberInfo
  /**
   * Connects (retrying forever), joins the ring record by compare-and-set if absent (updating this
   * member's addresses if present) and starts heartbeats. Resolves once the local view of the
   * record contains self. `addresses` are where this member listens (a node binds its servers
   * after it built the parts that follow the membership); without them, those of the options.
   */
  start(addresses?: MemberAddresses): Promise<void>
  /** The latest record this member has seen. Versions only move forward. */
  ring(): RingRecord
  /**
   * Re-reads the record from the store and applies it if newer; for a peer that saw a request
   * carrying a newer ring version than its own.
   */
  refresh(): Promise<RingRecord>
  /** The record in force just before version `version` (empty when there was none). */
  previous(version: number): Promise<RingRecord>
  /** Live members, self included while started and not leaving. */
  live(): LiveMember[]
  isLive(id: string): boolean
  /** Listeners run synchronously, in registration order; a throwing listener is logged and skipped. */
  on(listener: (e: MembershipEvent) => void): () => void
  /** Carried by the following heartbeats. */
  setLoad(load: MemberLoad): void
  /**
   * Graceful exit: announces `leaving` on the heartbeat bus (peers emit 'down' at once), then
   * removes self from the record by compare-and-set. Heartbeats continue, marked leaving, until stop().
   */
  leave(): Promise<void>
  /** Operator command: removes another member from the record by compare-and-set. */
  remove(id: string): Promise<void>
  /** Stops heartbeats and timers and disconnects. Does not touch the record. */
  stop(): Promise<void>
}

/** pino-compatible subset. */
export interface MembershipLogger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export interface MembershipOptions {
  /** Names the record's bucket (`<cluster>-members`) and the heartbeat subject. [A-Za-z0-9_-]+ */
  cluster: string
  self: MemberIdentity & Partial<MemberAddresses>
  heartbeatMs?: number
  deadAfterMs?: number
  /** Off unless set: a record member down this long is removed by the lowest-id live member. */
  autoRemoveAfterMs?: number
  logger?: MembershipLogger
  /** Heartbeats, sweeps and retries; the system clock by default. */
  clock?: Clock
  /** Retry jitter; the system's by default. */
  random?: Random
}

export const MEMBERSHIP_DEFAULTS = { heartbeatMs: 1000, deadAfterMs: 3000 } as const

/** What a heartbeat carries. */
export interface Heartbeat extends MemberInfo, MemberLoad {
  leaving: boolean
}

export const silentLogger: MembershipLogger = { debug() {}, info() {}, warn() {}, error() {} }

export function validateCluster(cluster: string): void {
  if (!/^[A-Za-z0-9_-]+$/.test(cluster)) throw new TypeError(`cluster name must match [A-Za-z0-9_-]+, got '${cluster}'`)
}

function isString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0
}

/** Narrows untrusted data to a MemberInfo carrying only the known fields. */
export function toMemberInfo(v: unknown): MemberInfo | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const o = v as Record<string, unknown>
  if (!isString(o.id) || !isString(o.http) || !isString(o.grpc)) return undefined
  const m: MemberInfo = { id: o.id, http: o.http, grpc: o.grpc }
  if (isString(o.region)) m.region = o.region
  if (isString(o.incarnation)) m.incarnation = o.incarnation
  return m
}

export function sameMemberInfo(a: MemberInfo, b: MemberInfo): boolean {
  return a.id === b.id && a.http === b.http && a.grpc === b.grpc && a.region === b.region && a.incarnation === b.incarnation
}

/** The record's members with `m` added or its addresses replaced, sorted by id. */
export function withMember(members: MemberInfo[], m: MemberInfo): MemberInfo[] {
  return sortMembers([...members.filter((x) => x.id !== m.id), toMemberInfo(m)!])
}

export function withoutMember(members: MemberInfo[], id: string): MemberInfo[] {
  return members.filter((x) => x.id !== id)
}

export function sortMembers(members: MemberInfo[]): MemberInfo[] {
  return [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/** Parses a stored record value; malformed members are dropped rather than trusted. */
export function parseRecordValue(version: number, value: unknown): RingRecord {
  const raw = typeof value === 'object' && value !== null ? (value as { members?: unknown }).members : undefined
  const members = Array.isArray(raw) ? raw.map(toMemberInfo).filter((m): m is MemberInfo => m !== undefined) : []
  const byId = new Map(members.map((m) => [m.id, m]))
  return { version, members: sortMembers([...byId.values()]) }
}

export function encodeRecordValue(members: MemberInfo[]): string {
  return JSON.stringify({ members: sortMembers(members) })
}

/** A membership operation that could not complete (stopped, or the store stayed unreachable). */
export class MembershipError extends Error {
  override readonly name = 'MembershipError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}
