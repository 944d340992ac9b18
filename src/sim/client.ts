/**
 * Simulated clients. A writer sends messages with at-least-once retries: the same clientMsgId
 * until acknowledged, each attempt to a node picked at random (as a client reconnecting through
 * discovery would), with a reply timeout; sometimes several at once to one channel (a pipelining
 * client: they reach the channel as one `sendMany`). An abandoned attempt is not cancelled: it may
 * still be stored, and its retry must then get the first seq. Everything is recorded for the
 * checker, every attempt too (which node, how it ended), for the liveness figures.
 */
import type { Clock } from '../clock.js'
import { sleep } from '../clock.js'
import type { SendAck } from '../actors/messages.js'
import type { SeededRandom } from '../random.js'
import type { SendRecord } from './history.js'
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
}

export interface WriterOptions {
  /** Reply timeout of one attempt. */
  timeoutMs: number
  /** Pause between two sends of one writer: [min, max] ms. */
  thinkMs: readonly [number, number]
  /** Share of sends that go as a burst of 2..4 to one channel. */
  burst: number
}

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
