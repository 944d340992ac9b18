/** What a chaos run records: every send attempt of every writer, and the faults injected. */

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

export interface Fault {
  kind: 'kill' | 'kill-wipe' | 'pause' | 'nats-restart'
  node: string | null
  at: number
  /** The channels whose owner was the affected node when the fault began. */
  ownedChannels: string[]
}

export interface StoredMessage { channel: string; seq: number; from: string; text: string; clientMsgId: string }
export interface InboxEvent { op: string; inboxSeq: number; channel: string; seq?: number; clientMsgId?: string }
