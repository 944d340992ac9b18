/**
 * A closed-loop messaging workload. Each sender keeps up to `window` sends unacknowledged; every
 * message is tracked from its send to its ack and to its push on every other member's socket, so
 * the run yields throughput, ack and delivery latency, and any acknowledged message that never
 * arrived. Only sends issued (and acks and pushes received) inside the measured window, after the
 * warm-up, count for rates and latencies; loss is checked for every message of the run.
 */
import WebSocket from 'ws'
import { Samples } from './stats.mjs'

const ACK_DRAIN_MS = 15_000
const PUSH_DRAIN_MS = 10_000

/**
 * `channels`: [{ id, senders: [conn], members: [conn] }] where `members` are every connected
 * member socket (senders included); a message is due on every member socket but its sender's.
 * `cpu` is a CpuWindow sampled over the measured window.
 */
export async function runMessaging({ channels, window, warmupMs, seconds, textBytes, cpu, pushDrainMs = PUSH_DRAIN_MS }) {
  const text = 'x'.repeat(textBytes)
  // Sends are idempotent on (channel, clientMsgId): ids must never repeat across runs on one target.
  const run = Math.random().toString(36).slice(2, 10)
  const inflight = new Map() // clientMsgId -> { sentAt, ackedAt, got, due, measured }
  const ack = new Samples()
  const delivery = new Samples()
  const errors = {}
  let acksInWindow = 0
  let deliveriesInWindow = 0
  let sent = 0
  let acked = 0
  let outOfOrder = 0
  let strayPushes = 0
  let inboxGaps = 0
  let inboxRepeats = 0
  let running = true
  let measuring = false
  let senderSeq = 0

  const finishIfDone = (id, m) => {
    if (m.ackedAt && m.got >= m.due) inflight.delete(id)
  }

  const senders = []
  for (const ch of channels) {
    const due = ch.members.length - 1
    for (const conn of ch.members) {
      let lastSeq = 0
      const isSender = ch.senders.includes(conn)
      const state = isSender ? { conn, channel: ch.id, due, prefix: `${run}-s${senderSeq++}-`, n: 0, open: 0 } : null
      if (state) senders.push(state)
      conn.onFrame = (f) => {
        const now = performance.now()
        if (typeof f.inboxSeq === 'number') {
          // Inbox events are numbered 1, 2, 3... per user: a jump is a push this socket never got.
          if (f.inboxSeq > conn.inboxSeq + 1) inboxGaps += f.inboxSeq - conn.inboxSeq - 1
          else if (f.inboxSeq <= conn.inboxSeq) inboxRepeats++
          conn.inboxSeq = Math.max(conn.inboxSeq, f.inboxSeq)
        }
        if (f.op === 'message') {
          if (f.from === conn.user) return // the sender's own device: not a delivery
          if (f.seq <= lastSeq) outOfOrder++
          lastSeq = f.seq
          const m = inflight.get(f.clientMsgId)
          if (!m) return void strayPushes++
          m.got++
          if (measuring) deliveriesInWindow++
          if (m.measured) delivery.add(now - m.sentAt)
          finishIfDone(f.clientMsgId, m)
        } else if (state && (f.op === 'ack' || f.op === 'error')) {
          const id = f.op === 'ack' ? f.clientMsgId : f.ref
          const m = inflight.get(id)
          if (!m) return
          state.open--
          if (f.op === 'ack') {
            acked++
            m.ackedAt = now
            if (measuring) acksInWindow++
            if (m.measured) ack.add(now - m.sentAt)
            finishIfDone(id, m)
          } else {
            errors[f.code] = (errors[f.code] ?? 0) + 1
            inflight.delete(id)
          }
          pump(state)
        }
      }
    }
  }

  const pump = (s) => {
    while (running && s.open < window && s.conn.ws.readyState === WebSocket.OPEN) {
      const id = s.prefix + s.n++
      inflight.set(id, { sentAt: performance.now(), ackedAt: 0, got: 0, due: s.due, measured: measuring, channel: s.channel })
      s.open++
      sent++
      s.conn.ws.send(JSON.stringify({ op: 'send', ref: id, channel: s.channel, clientMsgId: id, text }))
    }
  }

  for (const s of senders) pump(s)
  await sleep(warmupMs)
  measuring = true
  await cpu.start()
  const t0 = performance.now()
  await sleep(seconds * 1000)
  measuring = false
  const windowSecs = (performance.now() - t0) / 1000
  const usage = await cpu.stop()
  running = false

  // Everything sent gets its answer, then every acknowledged message its pushes (both bounded).
  await until(() => senders.every((s) => s.open === 0), ACK_DRAIN_MS)
  const unanswered = senders.reduce((a, s) => a + s.open, 0)
  const drainStart = performance.now()
  const drained = await until(() => [...inflight.values()].every((m) => !m.ackedAt || m.got >= m.due), pushDrainMs)
  const drainSecs = (performance.now() - drainStart) / 1000
  let lost = 0
  let missingDeliveries = 0
  const lostByChannel = {}
  for (const m of inflight.values()) {
    if (m.ackedAt && m.got < m.due) {
      lost++
      missingDeliveries += m.due - m.got
      lostByChannel[m.channel] = (lostByChannel[m.channel] ?? 0) + 1
    }
  }
  return {
    seconds: windowSecs,
    sent,
    acked,
    messagesPerSec: acksInWindow / windowSecs,
    deliveriesPerSec: deliveriesInWindow / windowSecs,
    ackMs: ack.summary(),
    deliveryMs: delivery.summary(),
    lost,
    missingDeliveries,
    lostByChannel,
    unanswered,
    errors,
    outOfOrder,
    strayPushes,
    inboxGaps,
    inboxRepeats,
    drainSecs: drained ? drainSecs : null,
    ...usage,
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms))
}

/** Polls `cond` until it holds (true) or the time is up (false). */
async function until(cond, timeoutMs) {
  const deadline = performance.now() + timeoutMs
  while (!cond()) {
    if (performance.now() >= deadline) return false
    await sleep(25)
  }
  return true
}
