/**
 * Watches for the echo of the device's own messages. Every message a user sends comes back to
 * each of their devices as an inbox event, so after an ack the event is due shortly. When it has
 * not arrived within `waitMs`, a push was lost somewhere on the way (between nodes, on a node that
 * was too busy), and nothing else would show it until a later event reveals the gap: the last
 * message of a conversation would stay unseen on the user's other devices, and this one would
 * never learn that its inbox moved on. The client syncs instead.
 */
const REMEMBERED_ECHOES = 1024

export class EchoWatch {
  /** Own messages acked but not seen as events yet: key to deadline. */
  private readonly waiting = new Map<string, number>()
  /** Own messages seen as events before their ack arrived (a push can overtake the ack). */
  private readonly early = new Set<string>()
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(
    private readonly waitMs: number,
    private readonly onOverdue: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  acked(channel: string, seq: number): void {
    const key = `${channel}\u0000${seq}`
    if (this.early.delete(key)) return
    this.waiting.set(key, this.now() + this.waitMs)
    if (this.timer === undefined) this.arm(this.waitMs)
  }

  seen(channel: string, seq: number): void {
    const key = `${channel}\u0000${seq}`
    if (this.waiting.delete(key)) return
    this.early.add(key)
    if (this.early.size > REMEMBERED_ECHOES) this.early.delete(this.early.values().next().value as string)
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.waiting.clear()
    this.early.clear()
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => this.check(), Math.max(0, delayMs))
    // Node's timers would keep a process alive for a watch nobody needs.
    const t = this.timer as { unref?: () => void }
    t.unref?.()
  }

  private check(): void {
    this.timer = undefined
    const now = this.now()
    let overdue = false
    let next = Infinity
    for (const [key, deadline] of this.waiting) {
      if (deadline <= now) {
        this.waiting.delete(key)
        overdue = true
      } else next = Math.min(next, deadline)
    }
    if (next !== Infinity) this.arm(next - now)
    if (overdue) this.onOverdue()
  }
}
