/**
 * Checks a chaos run's or a simulated run's outcome in the spirit of Jepsen's set and queue checkers. Pure: it gets
 * what the clients recorded and what the cluster returned afterwards, and lists every violation.
 *
 * - every acknowledged message is stored, at its acknowledged seq, with its text;
 * - no clientMsgId is stored twice in a channel; seqs are 1..N with no gap;
 * - nothing is stored that no client tried to send;
 * - if m1 was acknowledged before m2 was first sent (same channel), m1 has the lower seq;
 * - every node served the same history;
 * - every member's inbox holds every message of its channels exactly once, inboxSeq 1..N;
 * - changes (edits, deletes, reactions) and searches follow checker-changes.ts.
 */
import { allowedTexts, checkChanges } from './checker-changes.js'
import {
  type ChangeRecord, CRASH_FAULTS, type Fault, type InboxEvent, MESSAGE_FAULTS, PARTITION_FAULTS, type SearchRecord, type SendRecord,
  type StoredMessage,
} from './history.js'

export interface CheckInput {
  sends: SendRecord[]
  /** Channel id -> history as served by each node (node id -> messages ascending). */
  histories: Map<string, Map<string, StoredMessage[]>>
  /** User -> the whole inbox from sync, and the channels the user is a member of. */
  inboxes: Map<string, { events: InboxEvent[]; channels: string[] }>
  faults: Fault[]
  /** Edits, deletes and reactions the clients asked for (the simulator's clients only). */
  changes?: ChangeRecord[]
  searches?: SearchRecord[]
}

export interface CheckResult {
  ok: boolean
  problems: string[]
  figures: Record<string, number | string>
}

export function check(input: CheckInput): CheckResult {
  const problems: string[] = []
  const note = (p: string) => { if (problems.length < 5000) problems.push(p) }
  const canonical = new Map<string, StoredMessage[]>()

  for (const [channel, byNode] of input.histories) {
    const entries = [...byNode]
    const [firstNode, first] = entries[0] ?? ['', []]
    for (const [node, msgs] of entries.slice(1)) {
      if (JSON.stringify(msgs.map(key)) !== JSON.stringify(first.map(key))) note(`${channel}: node ${node} serves another history than ${firstNode} (${msgs.length} vs ${first.length} messages)`)
    }
    canonical.set(channel, first)
    first.forEach((m, i) => { if (m.seq !== i + 1) note(`${channel}: gap or disorder at position ${i + 1}: seq ${m.seq}`) })
    const seen = new Map<string, number>()
    for (const m of first) {
      if (m.deleted) continue
      const prev = seen.get(m.clientMsgId)
      if (prev !== undefined) note(`${channel}: clientMsgId ${m.clientMsgId} stored twice (seq ${prev} and ${m.seq})`)
      seen.set(m.clientMsgId, m.seq)
    }
  }

  const changes = input.changes ?? []
  const edits = allowedTexts(changes)
  const deletes = new Set(changes.filter((c) => c.kind === 'delete').map((c) => `${c.channel}/${c.seq}`))
  const attempted = new Map(input.sends.map((s) => [`${s.channel}/${s.clientMsgId}`, s]))
  let lost = 0
  for (const s of input.sends) {
    if (s.refused) note(`${s.channel}/${s.clientMsgId}: refused with ${s.refused}`)
    if (s.seq === null) continue
    const stored = canonical.get(s.channel)?.[s.seq - 1]
    // Deleted by a delete someone asked for: checked with the changes.
    if (stored?.deleted && deletes.has(`${s.channel}/${s.seq}`)) continue
    const textOk = stored && (stored.text === s.text || edits.get(`${s.channel}/${s.seq}`)?.has(stored.text))
    if (!stored || stored.clientMsgId !== s.clientMsgId || !textOk || stored.from !== s.from) {
      lost++
      note(`${s.channel}/${s.clientMsgId}: acknowledged at seq ${s.seq} but stored there is ${stored ? stored.clientMsgId : 'nothing'}`)
    }
  }
  let unexpected = 0
  let indeterminateStored = 0
  for (const [channel, msgs] of canonical) {
    for (const m of msgs) {
      if (m.deleted) continue
      const s = attempted.get(`${channel}/${m.clientMsgId}`)
      if (!s) {
        unexpected++
        note(`${channel}: seq ${m.seq} (${m.clientMsgId}) was never sent by any client`)
      } else if (s.seq === null) indeterminateStored++
    }
  }

  // Real-time order: acknowledged before another was first sent means a lower seq.
  let orderViolations = 0
  const byChannel = new Map<string, SendRecord[]>()
  for (const s of input.sends) if (s.seq !== null) (byChannel.get(s.channel) ?? byChannel.set(s.channel, []).get(s.channel)!).push(s)
  for (const [channel, list] of byChannel) {
    const byAck = [...list].sort((a, b) => a.ackAt! - b.ackAt!)
    const bySent = [...list].sort((a, b) => a.sentAt - b.sentAt)
    // For each message, the highest seq among those acknowledged before it was first sent.
    let i = 0
    let maxSeq = 0
    let maxId = ''
    for (const m of bySent) {
      while (i < byAck.length && byAck[i]!.ackAt! < m.sentAt) {
        if (byAck[i]!.seq! > maxSeq) { maxSeq = byAck[i]!.seq!; maxId = byAck[i]!.clientMsgId }
        i++
      }
      if (maxSeq >= m.seq!) {
        orderViolations++
        note(`${channel}: ${maxId} (seq ${maxSeq}) was acknowledged before ${m.clientMsgId} was sent, yet ${m.clientMsgId} has seq ${m.seq}`)
      }
    }
  }

  let inboxProblems = 0
  for (const [user, { events, channels }] of input.inboxes) {
    events.forEach((e, i) => {
      if (e.inboxSeq !== i + 1) { inboxProblems++; note(`${user}: inboxSeq ${e.inboxSeq} at position ${i + 1}`) }
    })
    const got = new Map<string, number>()
    for (const e of events) if (e.op === 'message') got.set(`${e.channel}/${e.seq}`, (got.get(`${e.channel}/${e.seq}`) ?? 0) + 1)
    for (const channel of channels) {
      for (const m of canonical.get(channel) ?? []) {
        const n = got.get(`${channel}/${m.seq}`) ?? 0
        if (n !== 1) { inboxProblems++; note(`${user}: ${channel}/${m.seq} is in the inbox ${n} times`) }
      }
    }
  }

  const changeFigures = input.changes
    ? checkChanges({ sends: input.sends, changes, searches: input.searches ?? [], canonical, inboxes: input.inboxes }, note)
    : null

  const recoveries = recoveryTimes(input)
  const acked = input.sends.filter((s) => s.seq !== null).length
  const figures: Record<string, number | string> = {
    attempted: input.sends.length,
    acked,
    indeterminate: input.sends.length - acked,
    indeterminateStored,
    stored: [...canonical.values()].reduce((n, m) => n + m.length, 0),
    lost,
    unexpected,
    orderViolations,
    inboxProblems,
    ...(changeFigures ?? {}),
    faults: input.faults.length,
    ...Object.fromEntries([...CRASH_FAULTS, ...PARTITION_FAULTS, ...MESSAGE_FAULTS].flatMap((k) => {
      const n = input.faults.filter((f) => f.kind === k).length
      return n > 0 ? [[`faults.${k}`, n]] : []
    })),
    retries: input.sends.reduce((n, s) => n + Math.max(0, s.attempts - 1), 0),
    recoverySamples: recoveries.length,
    recoveryP50ms: percentile(recoveries, 0.5),
    recoveryP99ms: percentile(recoveries, 0.99),
    recoveryMaxms: recoveries.length ? Math.max(...recoveries) : 0,
  }
  return { ok: problems.length === 0, problems, figures }
}

/** For each fault and each channel its node owned: time until that channel acknowledged a write again. */
export function recoveryTimes(input: Pick<CheckInput, 'sends' | 'faults'>): number[] {
  const out: number[] = []
  for (const f of input.faults) {
    if (f.kind === 'nats-restart') continue
    for (const channel of f.ownedChannels) {
      const next = input.sends.filter((s) => s.channel === channel && s.ackAt !== null && s.ackAt > f.at).map((s) => s.ackAt!)
      if (next.length > 0) out.push(Math.min(...next) - f.at)
    }
  }
  return out.sort((a, b) => a - b)
}

/**
 * How long writes to a channel were refused around each kind of fault: for every fault and every
 * channel, the longest any send to it waited for its ack (first attempt to ack, retries included)
 * among the sends first tried between the fault's start and `after` ms past its end. Per kind:
 * the median and the worst over (fault, channel) pairs, and how many pairs waited over a second.
 */
export function writeWaits(input: Pick<CheckInput, 'sends' | 'faults'>, after = 5000): Record<string, { pairs: number; over1s: number; p50ms: number; maxms: number }> {
  const byKind = new Map<string, number[]>()
  for (const f of input.faults) {
    const end = (f.healedAt ?? f.at) + after
    const longest = new Map<string, number>()
    for (const s of input.sends) {
      if (s.ackAt === null || s.sentAt < f.at || s.sentAt > end) continue
      longest.set(s.channel, Math.max(longest.get(s.channel) ?? 0, s.ackAt - s.sentAt))
    }
    const list = byKind.get(f.kind) ?? byKind.set(f.kind, []).get(f.kind)!
    list.push(...longest.values())
  }
  const out: Record<string, { pairs: number; over1s: number; p50ms: number; maxms: number }> = {}
  for (const [kind, waits] of byKind) {
    waits.sort((a, b) => a - b)
    out[kind] = { pairs: waits.length, over1s: waits.filter((w) => w > 1000).length, p50ms: percentile(waits, 0.5), maxms: waits.length ? waits[waits.length - 1]! : 0 }
  }
  return out
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

/** What every node must serve alike for a message. */
function key(m: StoredMessage): string {
  return `${m.seq}:${m.clientMsgId}:${m.from}:${m.deleted ? 'deleted' : m.text}:${JSON.stringify(m.reactions ?? {})}`
}
