/**
 * A closed-loop messaging run. Each sender sends `perSender` messages keeping up to `window` of
 * them unanswered (every ack or error releases the next send), and stops early when `maxMs` has
 * passed. Every message is tracked from its send to its ack and to its push on every other member
 * socket, so a run yields throughput, ack and delivery latency, and any acknowledged message that
 * never arrived.
 *
 * Rates are over the run's own span: msgs/s = acks / (last ack - first send), deliveries/s =
 * pushes to other members / (last push - first send). Server CPU is read over first send .. last
 * ack. Every run gets its own `tag` in its clientMsgIds: a node keeps dedupe records forever, and
 * a reused id would be acknowledged again with no new message stored or pushed.
 *
 * `gapMs` > 0 paces each sender: a send leaves at least `gapMs` after its previous one, so a
 * server that answers faster than that is measured unloaded rather than as fast as it can go.
 */
import WebSocket from 'ws'
import { Samples } from './stats.mjs'
import { messageTexts } from './texts.mjs'

/**
 * `channels`: [{ id, senders: [conn], members: [conn] }] where `members` are every connected
 * member socket (senders included); a message is due on every member socket but its sender's.
 * `cpu` (a CpuWindow) may be null. `retryUnavailableMs` > 0: a send refused with UNAVAILABLE
 * (nothing stored) is sent again with the same clientMsgId after that pause, as clients do; its
 * slot stays taken meanwhile.
 */
export async function runMessaging({
  channels, window, perSender, maxMs, textBytes, textKind = 'words', cpu = null, drainMs = 10_000, tag, retryUnavailableMs = 0, gapMs = 0,
}) {
  const texts = messageTexts(textBytes, textKind)
  const inflight = new Map() // clientMsgId -> { sentAt, ackedAt, got, due, channel, sender }
  const ack = new Samples()
  const delivery = new Samples()
  const errors = {}
  const c = { sent: 0, acked: 0, deliveries: 0, refused: 0, retries: 0, gaveUp: 0, outOfOrder: 0, stray: 0, gaps: 0, repeats: 0 }
  let running = true
  let lastAckAt = 0
  let lastDeliveryAt = 0
  let senderSeq = 0

  const finishIfDone = (id, m) => {
    if (m.ackedAt && m.got >= m.due) inflight.delete(id)
  }

  const senders = []
  for (const ch of channels) {
    const due = ch.members.length - 1
    for (const conn of ch.members) {
      const lastSeq = new Map() // channel -> seq of the last message pushed
      const isSender = ch.senders.includes(conn)
      const s = isSender ? { conn, channel: ch.id, due, prefix: `${tag}-s${senderSeq++}-`, n: 0, open: 0, retry: [], nextAt: 0, paced: null } : null
      if (s) senders.push(s)
      conn.onFrame = (f) => {
        const now = performance.now()
        if (typeof f.inboxSeq === 'number') {
          // Inbox events are numbered 1, 2, 3... per user: a jump is a push this socket never got.
          if (f.inboxSeq > conn.inboxSeq + 1) c.gaps += f.inboxSeq - conn.inboxSeq - 1
          else if (f.inboxSeq <= conn.inboxSeq) c.repeats++
          conn.inboxSeq = Math.max(conn.inboxSeq, f.inboxSeq)
        }
        if (f.op === 'message') {
          if (f.from === conn.user) return // the sender's own device: not a delivery
          if (f.seq <= (lastSeq.get(f.channel) ?? 0)) c.outOfOrder++
          lastSeq.set(f.channel, f.seq)
          const m = inflight.get(f.clientMsgId)
          if (!m) return void c.stray++
          m.got++
          c.deliveries++
          lastDeliveryAt = now
          delivery.add(now - m.sentAt)
          finishIfDone(f.clientMsgId, m)
        } else if (s && (f.op === 'ack' || f.op === 'error')) {
          const id = f.op === 'ack' ? f.clientMsgId : f.ref
          const m = inflight.get(id)
          if (!m || m.ackedAt) return
          if (f.op === 'ack') {
            s.open--
            c.acked++
            m.ackedAt = lastAckAt = now
            ack.add(now - m.sentAt)
            finishIfDone(id, m)
          } else if (f.code === 'UNAVAILABLE' && retryUnavailableMs > 0) {
            c.refused++
            setTimeout(() => {
              if (running) s.retry.push(id)
              else { s.open--; c.gaveUp++; inflight.delete(id) }
              pump(s)
            }, retryUnavailableMs)
          } else {
            s.open--
            if (f.code === 'UNAVAILABLE') c.refused++
            errors[f.code] = (errors[f.code] ?? 0) + 1
            inflight.delete(id)
          }
          pump(s)
        }
      }
    }
  }

  const write = (s, id) => s.conn.ws.send(JSON.stringify({ op: 'send', ref: id, channel: s.channel, clientMsgId: id, text: texts[c.sent % texts.length] }))
  const pump = (s) => {
    if (s.conn.ws.readyState !== WebSocket.OPEN) return
    while (s.retry.length > 0) {
      c.retries++
      write(s, s.retry.shift())
    }
    while (running && s.open < window && s.n < perSender) {
      if (gapMs > 0) {
        const wait = s.nextAt - performance.now()
        if (wait > 0) {
          s.paced ??= setTimeout(() => { s.paced = null; pump(s) }, wait)
          break
        }
        s.nextAt = performance.now() + gapMs
      }
      const id = s.prefix + s.n++
      inflight.set(id, { sentAt: performance.now(), ackedAt: 0, got: 0, due: s.due, channel: s.channel })
      s.open++
      c.sent++
      write(s, id)
    }
  }

  if (cpu) await cpu.start()
  const t0 = performance.now()
  const cap = setTimeout(() => { running = false }, maxMs)
  for (const s of senders) pump(s)
  // Every send gets its answer (bounded), then every acknowledged message its pushes.
  const answered = await until(() => senders.every((s) => s.open === 0 && (s.n >= perSender || !running || s.conn.ws.readyState !== WebSocket.OPEN)),
    maxMs + Math.max(15_000, drainMs))
  clearTimeout(cap)
  for (const s of senders) clearTimeout(s.paced)
  const capped = !running
  running = false
  const usage = cpu ? await cpu.stop() : {}
  const unanswered = senders.reduce((a, s) => a + s.open, 0)
  const drainStart = performance.now()
  const drained = await until(() => [...inflight.values()].every((m) => !m.ackedAt || m.got >= m.due), drainMs)
  const drainSecs = (performance.now() - drainStart) / 1000

  let lost = 0
  let missingDeliveries = 0
  for (const m of inflight.values()) {
    if (m.ackedAt && m.got < m.due) {
      lost++
      missingDeliveries += m.due - m.got
    }
  }
  const ackSpan = (lastAckAt - t0) / 1000
  const deliverySpan = (lastDeliveryAt - t0) / 1000
  return {
    planned: senders.length * perSender,
    sent: c.sent,
    acked: c.acked,
    capped,
    answered,
    seconds: ackSpan,
    messagesPerSec: ackSpan > 0 ? c.acked / ackSpan : null,
    deliveries: c.deliveries,
    deliveriesPerSec: deliverySpan > 0 ? c.deliveries / deliverySpan : null,
    ackMs: ack.summary(),
    deliveryMs: delivery.summary(),
    lost,
    missingDeliveries,
    unanswered,
    refused: c.refused,
    retries: c.retries,
    gaveUp: c.gaveUp,
    errors,
    outOfOrder: c.outOfOrder,
    strayPushes: c.stray,
    inboxGaps: c.gaps,
    inboxRepeats: c.repeats,
    drainSecs: drained ? drainSecs : null,
    ...usage,
  }
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms))
}

/** Polls `cond` until it holds (true) or the time is up (false). */
export async function until(cond, timeoutMs, everyMs = 10) {
  const deadline = performance.now() + timeoutMs
  while (!cond()) {
    if (performance.now() >= deadline) return false
    await sleep(everyMs)
  }
  return true
}
