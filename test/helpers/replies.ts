/**
 * Matches a socket's replies to the requests that asked for them (by `ref`), with a timeout per
 * request; a closed socket fails every request still waiting. Shared by the test writers.
 */
import type WebSocket from 'ws'

export class Replies {
  private readonly waiting = new Map<string, (frame: any) => void>()
  private refs = 0

  constructor(private readonly timeoutMs: number) {}

  /** Hands a frame to the request waiting for it; false when no request was. */
  settle(frame: any): boolean {
    const ref = frame?.ref !== undefined ? String(frame.ref) : undefined
    const waiter = ref !== undefined ? this.waiting.get(ref) : undefined
    if (!waiter) return false
    this.waiting.delete(ref!)
    waiter(frame)
    return true
  }

  /** The socket is gone: every waiting request fails. */
  failAll(): void {
    for (const w of this.waiting.values()) w({ op: 'error', code: 'CLOSED' })
    this.waiting.clear()
  }

  request(ws: WebSocket, frame: Record<string, unknown>): Promise<any> {
    const ref = `w${++this.refs}`
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(ref)
        reject(new Error('reply timeout'))
      }, this.timeoutMs)
      this.waiting.set(ref, (f) => {
        clearTimeout(timer)
        if (f.code === 'CLOSED') reject(new Error('closed'))
        else resolve(f)
      })
      ws.send(JSON.stringify({ ...frame, ref }))
    })
  }
}
