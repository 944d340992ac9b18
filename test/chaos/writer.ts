/**
 * A chaos client: sends messages one at a time with at-least-once retries (the same clientMsgId
 * until acknowledged), reconnecting to any running node whenever its socket dies or a reply does
 * not come. Records every send for the checker.
 */
import WebSocket from 'ws'
import { Replies } from '../helpers/replies.js'
import type { Rng } from './rng.js'
import type { SendRecord } from '../../src/sim/history.js'

const REPLY_TIMEOUT_MS = 4000

export class Writer {
  private ws: WebSocket | null = null
  private readonly replies = new Replies(REPLY_TIMEOUT_MS)
  private count = 0
  stopped = false

  constructor(
    readonly user: string,
    private readonly token: string,
    private readonly channels: string[],
    /** HTTP base URLs of the nodes running now. */
    private readonly nodes: () => string[],
    private readonly rng: Rng,
    private readonly record: SendRecord[],
  ) {}

  /** Sends until `until`; the message in flight then is still retried until `hardStop`. */
  async run(until: number, hardStop: number): Promise<void> {
    while (Date.now() < until && !this.stopped) {
      const channel = this.rng.pick(this.channels)
      const clientMsgId = `${this.user}-${++this.count}`
      const rec: SendRecord = {
        channel, clientMsgId, text: `${clientMsgId} ${'x'.repeat(this.rng.int(1, 200))}`, from: this.user,
        sentAt: Date.now(), attempts: 0, ackAt: null, seq: null, refused: null,
      }
      this.record.push(rec)
      await this.deliver(rec, hardStop)
    }
    this.close()
  }

  close(): void {
    this.ws?.terminate()
    this.ws = null
  }

  private async deliver(rec: SendRecord, hardStop: number): Promise<void> {
    while (Date.now() < hardStop && !this.stopped) {
      try {
        const ws = await this.connection()
        rec.attempts++
        const reply = await this.request(ws, { op: 'send', channel: rec.channel, clientMsgId: rec.clientMsgId, text: rec.text })
        if (reply.op === 'ack') {
          rec.ackAt = Date.now()
          rec.seq = reply.seq
          return
        }
        if (reply.code !== 'UNAVAILABLE' && reply.code !== 'RATE_LIMITED') {
          rec.refused = `${reply.code}: ${reply.message}`
          return
        }
        await sleep(this.rng.int(50, 250))
      } catch {
        this.close()
        await sleep(this.rng.int(50, 300))
      }
    }
  }

  private async connection(): Promise<WebSocket> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return this.ws
    const nodes = this.nodes()
    const base = this.rng.pick(nodes)
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(this.token)}&deviceId=chaos-${this.user}`)
    this.ws = ws
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('connect timeout')), REPLY_TIMEOUT_MS)
      ws.on('message', (data) => {
        const f = JSON.parse(data.toString())
        if (f.op === 'ready') {
          clearTimeout(timer)
          resolve()
          return
        }
        this.replies.settle(f)
      })
      ws.on('close', () => {
        clearTimeout(timer)
        reject(new Error('closed'))
        this.replies.failAll()
      })
      ws.on('error', () => undefined)
    })
    return ws
  }

  private request(ws: WebSocket, frame: Record<string, unknown>): Promise<any> {
    return this.replies.request(ws, frame)
  }

}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
