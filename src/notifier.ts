/**
 * Push notifications for users with no live device. The user actor hands each one over and moves
 * on; delivery (with retries) happens here, bounded so a dead push service cannot grow memory.
 */
import type { Logger } from 'pino'
import type { Notifier } from './actors/env.js'
import type { Metrics } from './metrics.js'

type Notification = Parameters<Notifier['notify']>[1] & { user: string }

const MAX_QUEUED = 10_000
const ATTEMPTS = 3

/** Counts and logs notifications; the default when no push service is configured. */
export class LogNotifier implements Notifier {
  constructor(private readonly log: Logger, private readonly metrics: Metrics) {}

  notify(user: string, n: Parameters<Notifier['notify']>[1]): void {
    this.metrics.notifications.inc()
    this.log.debug({ user, channel: n.channel, seq: n.seq }, 'push notification (no push service configured)')
  }
}

/** POSTs `{user, channel, from, text, seq}` as JSON to a webhook, retrying with backoff. */
export class WebhookNotifier implements Notifier {
  private readonly queue: Notification[] = []
  private sending = false

  constructor(private readonly url: string, private readonly log: Logger, private readonly metrics: Metrics) {}

  notify(user: string, n: Parameters<Notifier['notify']>[1]): void {
    if (this.queue.length >= MAX_QUEUED) {
      this.log.warn({ user }, 'push notification dropped: queue full')
      return
    }
    // Only a preview travels to the push service.
    this.queue.push({ user, ...n, text: n.text.slice(0, 200) })
    void this.drain()
  }

  private async drain(): Promise<void> {
    if (this.sending) return
    this.sending = true
    try {
      for (let n = this.queue.shift(); n; n = this.queue.shift()) await this.deliver(n)
    } finally {
      this.sending = false
    }
  }

  private async deliver(n: Notification): Promise<void> {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        const res = await fetch(this.url, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(n), signal: AbortSignal.timeout(5000),
        })
        if (res.ok) {
          this.metrics.notifications.inc()
          return
        }
      } catch {
        // retried below
      }
      await new Promise((r) => setTimeout(r, 200 * 2 ** attempt))
    }
    this.log.warn({ user: n.user, channel: n.channel }, 'push notification failed after retries')
  }
}
