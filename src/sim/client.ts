/**
 * Simulated clients. A writer sends messages with at-least-once retries: the same clientMsgId
 * until acknowledged, each attempt to a node picked at random (as a client reconnecting through
 * discovery would), with a reply timeout; sometimes several at once to one channel (a pipelining
 * client: they reach the channel as one `sendMany`). An abandoned attempt is not cancelled: it may
 * still be stored, and its retry must then get the first seq. Now and then a writer changes a
 * message instead (edits or deletes one of its own, reacts to any in its channels), retried the
 * same way, or searches for one. Everything is recorded for the checker, every send attempt too
 * (which node, how it ended), for the liveness figures.
 */
import type { Clock } from '../clock.js'
import { sleep } from '../clock.js'
import type { SendAck } from '../actors/messages.js'
import { words as wordsOf } from '../actors/search-text.js'
import type { NodeCore } from '../node-core.js'
import type { SeededRandom } from '../random.js'
import type { ChangeRecord, SearchRecord, SendRecord } from './history.js'
import type { Outcome, World } from './world.js'

export interface Attempt {
  user: string
  channel: string
  node: string
  at: number
  end: number
  /** 'ack', a ChatError code, 'TIMEOUT' (no answer in time) or 'CLOSED' (no process there). */
  outcome: string
}

export interface ClientLog {
  sends: SendRecord[]
  attempts: Attempt[]
  changes: ChangeRecord[]
  searches: SearchRecord[]
  /** `channel/seq` -> what was tried on that message so far (by anyone). */
  tried: Map<string, { edit: boolean; delete: boolean }>
}

export interface WriterOptions {
  /** Reply timeout of one attempt. */
  timeoutMs: number
  /** Pause between two sends of one writer: [min, max] ms. */
  thinkMs: readonly [number, number]
  /** Share of sends that go as a burst of 2..4 to one channel. */
  burst: number
  /** Share of turns spent changing a message instead of sending one (0 by default). */
  changes?: number
  /** Share of turns spent searching (0 by default). */
  searches?: number
}

const EMOJI = ['👍', '🎉', '❤️', '😂']

const RETRYABLE = new Set(['UNAVAILABLE', 'RATE_LIMITED', 'TIMEOUT', 'CLOSED'])

export class Writer {
  private readonly clock: Clock
  private readonly owner: string
  private count = 0

  constructor(
    private readonly world: World,
    readonly user: string,
    private readonly channels: string[],
    private readonly rng: SeededRandom,
    private readonly log: ClientLog,
    private readonly options: WriterOptions,
  ) {
    this.owner = `client:${user}`
    this.clock = world.time.clock(this.owner)
  }

  /** Sends until `until`; what is in flight then is still retried until `hardStop`. */
  async run(until: number, hardStop: number): Promise<void> {
    const [lo, hi] = this.options.thinkMs
    for (;;) {
      await sleep(this.clock, this.rng.int(lo, hi))
      if (this.clock.now() >= until) return
      const roll = this.rng.next()
      const changes = this.options.changes ?? 0
      if (roll < changes) {
        await this.change(hardStop)
        continue
      }
      if (roll < changes + (this.options.searches ?? 0)) {
        await this.search()
        continue
      }
      const channel = this.rng.pick(this.channels)
      const n = this.rng.chance(this.options.burst) ? this.rng.int(2, 4) : 1
      const records = Array.from({ length: n }, () => this.record(channel, `${this.user}-${++this.count}`))
      await this.deliver(channel, records, hardStop)
    }
  }

  /** One message, retried until acknowledged or `hardStop` (the liveness probes). */
  async sendOne(channel: string, clientMsgId: string, hardStop: number): Promise<SendRecord> {
    const rec = this.record(channel, clientMsgId)
    await this.deliver(channel, [rec], hardStop)
    return rec
  }

  private record(channel: string, clientMsgId: string): SendRecord {
    const rec: SendRecord = {
      channel, clientMsgId, text: `${clientMsgId} ${'x'.repeat(this.rng.int(1, 40))}`, from: this.user,
      sentAt: this.clock.now(), attempts: 0, ackAt: null, seq: null, refused: null,
    }
    this.log.sends.push(rec)
    return rec
  }

  private async deliver(channel: string, records: SendRecord[], hardStop: number): Promise<void> {
    for (;;) {
      const pending = records.filter((r) => r.seq === null && r.refused === null)
      if (pending.length === 0 || this.clock.now() >= hardStop) return
      const node = this.rng.pick(this.world.nodes)
      for (const r of pending) r.attempts++
      const at = this.clock.now()
      const outcomes = await this.attempt(node.id, channel, pending)
      pending.forEach((r, i) => {
        const o = outcomes[i]!
        this.log.attempts.push({ user: this.user, channel, node: node.id, at, end: this.clock.now(), outcome: o.ok ? 'ack' : o.code })
        if (o.ok) {
          r.ackAt = this.clock.now()
          r.seq = o.value.seq
        } else if (!RETRYABLE.has(o.code)) {
          r.refused = o.code
        }
      })
      if (records.some((r) => r.seq === null && r.refused === null)) await sleep(this.clock, this.rng.int(20, 300))
    }
  }

  /** Acknowledged messages of this writer's channels. */
  private acked(): SendRecord[] {
    return this.log.sends.filter((s) => s.seq !== null && this.channels.includes(s.channel))
  }

  /** Edits, deletes or reacts to one acknowledged message, retried until acknowledged or refused. */
  private async change(hardStop: number): Promise<void> {
    const candidates = this.acked()
    if (candidates.length === 0) return
    const target = this.rng.pick(candidates)
    const place = `${target.channel}/${target.seq}`
    const tried = this.log.tried.get(place) ?? this.log.tried.set(place, { edit: false, delete: false }).get(place)!
    if (tried.delete) return
    const roll = this.rng.next()
    const own = target.from === this.user
    const rec: ChangeRecord = own && !tried.edit && roll < 0.3
      ? { kind: 'edit', channel: target.channel, seq: target.seq!, by: this.user, text: `${target.clientMsgId} edited ${'y'.repeat(this.rng.int(1, 40))}`, attempts: 0, ackAt: null, refused: null }
      : own && roll < 0.45
        ? { kind: 'delete', channel: target.channel, seq: target.seq!, by: this.user, attempts: 0, ackAt: null, refused: null }
        : { kind: 'react', channel: target.channel, seq: target.seq!, by: this.user, emoji: this.rng.pick(EMOJI), attempts: 0, ackAt: null, refused: null }
    if (rec.kind === 'edit') tried.edit = true
    if (rec.kind === 'delete') tried.delete = true
    this.log.changes.push(rec)
    const work = (core: NodeCore): Promise<null> => rec.kind === 'edit'
      ? core.service.edit(this.user, rec.channel, rec.seq, rec.text!)
      : rec.kind === 'delete' ? core.service.deleteMessage(this.user, rec.channel, rec.seq) : core.service.react(this.user, rec.channel, rec.seq, rec.emoji!, true)
    while (rec.ackAt === null && rec.refused === null && this.clock.now() < hardStop) {
      rec.attempts++
      const o = await this.world.request(this.owner, this.rng.pick(this.world.nodes), work, this.options.timeoutMs)
      if (o.ok) rec.ackAt = this.clock.now()
      else if (!RETRYABLE.has(o.code)) rec.refused = o.code
      else await sleep(this.clock, this.rng.int(20, 300))
    }
  }

  /** Searches for the words of one acknowledged message's clientMsgId, once; what came back is judged later. */
  private async search(): Promise<void> {
    const candidates = this.acked()
    if (candidates.length === 0) return
    const words = wordsOf(this.rng.pick(candidates).clientMsgId)
    const o = await this.world.request(this.owner, this.rng.pick(this.world.nodes), (core) => core.service.search(this.user, { words, limit: 20 }), this.options.timeoutMs)
    if (!o.ok) return
    this.log.searches.push({
      user: this.user, words,
      found: o.value.messages.map((m) => ({ channel: m.channel, seq: m.seq, text: m.text, clientMsgId: m.clientMsgId ?? '', deleted: m.deleted === true })),
    })
  }

  private async attempt(nodeId: string, channel: string, pending: SendRecord[]): Promise<Array<Outcome<SendAck>>> {
    const node = this.world.node(nodeId)
    const { timeoutMs } = this.options
    if (pending.length === 1) {
      const r = pending[0]!
      return [await this.world.request(this.owner, node, (core) => core.service.send(this.user, channel, r.clientMsgId, r.text), timeoutMs)]
    }
    const items = pending.map((r) => ({ clientMsgId: r.clientMsgId, text: r.text }))
    const all = await this.world.request(this.owner, node, (core) => core.service.sendMany(this.user, channel, items), timeoutMs)
    if (!all.ok) return pending.map(() => all)
    return all.value.map((r) => (r.ok ? { ok: true as const, value: r.value } : { ok: false as const, code: r.error.code }))
  }
}
