/**
 * A raw WebSocket device speaking PROTOCOL.md section 3, for tests that check the wire itself
 * (the SDK has its own tests). Replies are matched by `ref`; everything else is kept in `pushes`.
 */
import WebSocket from 'ws'
import { waitFor } from './wait.js'

interface Teardown { teardown(fn: () => unknown): void }

export class Device {
  ws!: WebSocket
  ready: any = null
  readonly pushes: any[] = []
  closed: { code: number; reason: string } | null = null
  /** Requests waiting for their reply: answered by `ref`, failed at once when the socket closes. */
  private readonly waiting = new Map<string, { ws: WebSocket; reply: (frame: any) => void; fail: (err: Error) => void }>()
  private refs = 0
  private keepAlive: NodeJS.Timeout | null = null

  constructor(readonly url: string, readonly token: string, readonly deviceId: string) {}

  /** Opens and waits for `ready`; closes on teardown of `t`. `keepAliveMs` 0 sends no pings. */
  static async open(t: Teardown, url: string, token: string, deviceId: string, keepAliveMs = 0): Promise<Device> {
    const d = new Device(url, token, deviceId)
    t.teardown(() => d.terminate())
    await d.connect(keepAliveMs)
    return d
  }

  connect(keepAliveMs = 0): Promise<this> {
    return new Promise((resolve, reject) => {
      const q = new URLSearchParams({ token: this.token, deviceId: this.deviceId })
      const ws = new WebSocket(`${this.url}?${q}`)
      this.ws = ws
      this.ready = null
      this.closed = null
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString())
        if (frame.op === 'ready' && !this.ready) {
          this.ready = frame
          if (keepAliveMs > 0) this.keepAlive = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('{"op":"ping","ref":"ka"}'), keepAliveMs)
          resolve(this)
          return
        }
        if (frame.ref === 'ka') return
        const waiter = frame.ref !== undefined ? this.waiting.get(String(frame.ref)) : undefined
        if (waiter) {
          this.waiting.delete(String(frame.ref))
          waiter.reply(frame)
        } else this.pushes.push(frame)
      })
      ws.on('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`upgrade refused ${res.statusCode}`), { status: res.statusCode }))
        ws.terminate()
      })
      ws.on('close', (code, reason) => {
        // No reply can come on this socket any more: its requests' callers learn it now, not at
        // their timeouts. A socket replaced by a reconnect (`terminate`, then `connect`) closes
        // later than that: it leaves the device's state to the new one.
        for (const [ref, w] of this.waiting) {
          if (w.ws !== ws) continue
          this.waiting.delete(ref)
          w.fail(new Error(`socket closed (${code}) before the reply`))
        }
        if (this.ws !== ws) return
        this.stopKeepAlive()
        this.closed = { code, reason: reason.toString() }
        if (!this.ready) reject(Object.assign(new Error(`closed ${code}`), { closeCode: code }))
      })
      ws.on('error', (err) => { if (!this.ready) reject(err) })
    })
  }

  request(frame: Record<string, unknown>, timeoutMs = 10_000): Promise<any> {
    const ref = `r${++this.refs}`
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error(`socket closed (${this.closed.code}) before ${String(frame.op)} was sent`))
      const timer = setTimeout(() => {
        this.waiting.delete(ref)
        reject(new Error(`no reply to ${String(frame.op)} within ${timeoutMs} ms`))
      }, timeoutMs)
      const done = () => clearTimeout(timer)
      this.waiting.set(ref, {
        ws: this.ws,
        reply: (f) => { done(); resolve(f) },
        fail: (err) => { done(); reject(err) },
      })
      this.ws.send(JSON.stringify({ ...frame, ref }))
    })
  }

  send(channel: string, text: string, clientMsgId: string): Promise<any> {
    return this.request({ op: 'send', channel, text, clientMsgId }, 30_000)
  }

  /** Every inbox event after `since`, paging until `more` is false. */
  async syncAll(since = 0): Promise<any[]> {
    const out: any[] = []
    let cursor = since
    for (let page = 0; page < 10_000; page++) {
      const r = await this.request({ op: 'sync', since: cursor, limit: 1000 }, 30_000)
      if (r.op !== 'sync') throw new Error(`sync failed: ${JSON.stringify(r)}`)
      out.push(...r.events)
      cursor = r.next
      if (!r.more) return out
    }
    throw new Error('sync did not finish')
  }

  messages(channel?: string): any[] {
    return this.pushes.filter((f) => f.op === 'message' && (channel === undefined || f.channel === channel))
  }

  waitPush(pred: (f: any) => boolean, what = 'push', timeout = 10_000, from = 0): Promise<any> {
    return waitFor(() => this.pushes.slice(from).find(pred), { timeout, what })
  }

  raw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary })
  }

  close(): void {
    this.stopKeepAlive()
    this.ws?.close()
  }

  terminate(): void {
    this.stopKeepAlive()
    this.ws?.terminate()
  }

  private stopKeepAlive(): void {
    if (this.keepAlive) clearInterval(this.keepAlive)
    this.keepAlive = null
  }
}
