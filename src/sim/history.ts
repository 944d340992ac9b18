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

/** A message as history serves it; a deleted one has `deleted`, an empty text and clientMsgId ''. */
export interface StoredMessage {
  channel: string
  seq: number
  from: string
  text: string
  clientMsgId: string
  deleted?: boolean
  /** Emoji -> the users who reacted with it. */
  reactions?: Record<string, string[]>
}
export interface InboxEvent { op: string; inboxSeq: number; channel: string; seq?: number; clientMsgId?: string; user?: string; emoji?: string; on?: boolean }

/**
 * A change a simulated client asked for (the chaos suite makes none): an edit or a delete of one
 * of its own messages, or a reaction (always "on") to any message of its channels. Retried with
 * the same content until acknowledged, like a send. A message is edited at most once and changed
 * no more once its delete was tried, so the final state each record allows is known.
 */
export interface ChangeRecord {
  kind: 'edit' | 'delete' | 'react'
  channel: string
  seq: number
  by: string
  /** An edit's new text. */
  text?: string
  /** A reaction's emoji. */
  emoji?: string
  attempts: number
  ackAt: number | null
  /** A non-retryable error the server gave. */
  refused: string | null
}

/** A search a simulated client made and what it was answered. */
export interface SearchRecord {
  user: string
  words: string[]
  found: Array<{ channel: string; seq: number; text: string; clientMsgId: string; deleted: boolean }>
}
