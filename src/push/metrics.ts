/** Prometheus metrics of push delivery, in the node's registry (docs/PUSH.md lists them). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export class PushMetrics {
  readonly sent: Counter<'kind'>
  readonly failed: Counter<'kind' | 'reason'>
  readonly retried: Counter<'kind'>
  readonly dropped: Counter<'reason'>
  readonly removedSubscriptions: Counter<'kind'>
  readonly reportFailures: Counter
  readonly latency: Histogram<'kind'>

  constructor(registry: Registry, queued: () => number, sending: () => number) {
    const registers = [registry]
    this.sent = new Counter({ name: 'chat_push_sent_total', help: 'notifications a receiver accepted (2xx), by kind', labelNames: ['kind'], registers })
    this.failed = new Counter({
      name: 'chat_push_failed_total', help: 'notifications given up for good, by kind and reason (gone: 404/410, rejected: other 4xx, expired: retries ran out)',
      labelNames: ['kind', 'reason'], registers,
    })
    this.retried = new Counter({ name: 'chat_push_retries_total', help: 'failed attempts scheduled for another try (429, 5xx, timeouts, refused connections)', labelNames: ['kind'], registers })
    this.dropped = new Counter({ name: 'chat_push_dropped_total', help: 'notifications dropped without delivery: queue_full (this node held too many) or expired (retries ran out)', labelNames: ['reason'], registers })
    this.removedSubscriptions = new Counter({ name: 'chat_push_subscriptions_removed_total', help: 'subscriptions removed because the receiver answered 404 or 410', labelNames: ['kind'], registers })
    this.reportFailures = new Counter({ name: 'chat_push_report_failures_total', help: 'outcomes that could not be reported to the user actor (the notification is sent again later)', registers })
    this.latency = new Histogram({
      name: 'chat_push_delivery_seconds', help: 'from the first message of a notification to its delivery (includes the coalescing window and retries)',
      labelNames: ['kind'], buckets: [0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300, 900, 3600], registers,
    })
    new Gauge({ name: 'chat_push_queued', help: 'notifications this node holds (waiting, being sent, or waiting to retry)', registers, collect() { this.set(queued()) } })
    new Gauge({ name: 'chat_push_in_flight', help: 'push requests in flight from this node', registers, collect() { this.set(sending()) } })
  }
}
