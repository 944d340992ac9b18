import { EventEmitter } from 'node:events'

/** A WebSocket stand-in for DeviceSession unit tests: records what is sent and how it was closed. */
export class FakeSocket extends EventEmitter {
  bufferedAmount = 0
  sent: string[] = []
  closed: number | null = null
  send(text: string): void { this.sent.push(text) }
  close(code: number): void { this.closed = code }
  terminate(): void { this.closed = 1006 }
  pause(): void {}
  resume(): void {}
  cork(): void {}
  uncork(): void {}
}
