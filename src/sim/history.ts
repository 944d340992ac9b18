/**
 * What a chaos run or a simulated run records: every send of every writer, and the faults
 * injected. The checker (checker.ts) judges it; the chaos suite (test/chaos/) and the simulator
 * (this directory) both write it.
 */

export interface SendRecord {
  channel: string
  clientMsgId: string
  text: string
  from: string
  /** When the first attempt was sent. */
  sentAt: number
  attempts: number
  /** Set once acknowledged. */
  ackAt: number | null
  seq: number | null
  /** A non-retryable error the server gave (a bug in a chaos run). */
  refused: string | null
}

/** Crashes and pauses of one node, or a restart of nats-server. */
export const CRASH_FAULTS = ['kill', 'kill-wipe', 'pause', 'nats-restart'] as const
/**
 * Network cuts (packets silently dropped inside the nodes' namespaces): two nodes cut from each
 * other; one node unable to reach another's gRPC port (the other way still works); one node cut
 * from every peer but not from NATS; one node cut from NATS only; two nodes cut from the other
 * three and from NATS; a bridge (two sides that cannot talk, one node that reaches both).
 */
export const PARTITION_FAULTS = ['cut-pair', 'cut-oneway', 'isolate-peers', 'isolate-nats', 'split-two', 'bridge'] as const
/**
 * Faults only the simulator injects: every message on the node-to-node network lost, duplicated
 * or delayed (and so reordered) with some probability for a while; a node's storage failing its
 * writes; the membership bus (NATS) down for every node.
 */
export const MESSAGE_FAULTS = ['drop', 'duplicate', 'delay', 'disk-fail', 'nats-down'] as const
export type FaultKind = (typeof CRASH_FAULTS)[number] | (typeof PARTITION_FAULTS)[number] | (typeof MESSAGE_FAULTS)[number]

export interface Fault {
  kind: FaultKind
  /** The node it hit first (for a cut: the first of `nodes`). */
  node: string | null
  /** Every node the fault cut off or crashed. */
  nodes?: string[]
  at: number
  /** When the fault was removed (the network healed, the node resumed or was started again). */
  healedAt?: number
  /** The channels whose owner was the affected node when the fault began. */
  ownedChannels: string[]
}

export interface StoredMessage { channel: string; seq: number; from: string; text: string; clientMsgId: string }
export interface InboxEvent { op: string; inboxSeq: number; channel: string; seq?: number; clientMsgId?: string }
