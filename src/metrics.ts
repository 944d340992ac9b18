/** Prometheus metrics of one node, in a registry of its own (several nodes may share a process). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface MetricSources {
  actors(): number
  connections(): number
  /** Logins and sign-ups waiting for a password hash. */
  hashWaiting?(): number
  /** Event-loop lag (ms) and writes admitted and unanswered, from admission control. */
  load?(): { lagMs: number; writesInFlight: number }
}

/**
 * The resource and abuse bounds (docs/SECURITY.md), as values of the `bound` label of
 * `chat_bound_hits_total`: each counts the requests, frames or bytes a bound refused or cut.
 */
export type Bound =
  | 'login_throttle' | 'address_limit' | 'hash_queue' | 'max_devices' | 'history_bytes' | 'sync_bytes'
  | 'send_queue' | 'push_queue' | 'fanout_queue' | 'oversize_frame' | 'grpc_unauthenticated' | 'overload'

export class Metrics {
  readonly registry = new Registry()
  readonly httpRequests = new Counter({
    name: 'chat_http_requests_total', help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const, registers: [this.registry],
  })
  readonly httpSeconds = new Histogram({
    name: 'chat_http_request_seconds', help: 'HTTP request duration by route',
    labelNames: ['route'] as const, buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2], registers: [this.registry],
  })
  readonly wsFrames = new Counter({
    name: 'chat_ws_frames_total', help: 'WebSocket frames received by op and outcome',
    labelNames: ['op', 'outcome'] as const, registers: [this.registry],
  })
  readonly messages = new Counter({ name: 'chat_messages_total', help: 'messages acknowledged to senders', registers: [this.registry] })
  readonly pushes = new Counter({ name: 'chat_pushes_total', help: 'frames pushed to sockets', registers: [this.registry] })
  readonly peerPushFailures = new Counter({ name: 'chat_peer_push_failures_total', help: 'pushes to another node that failed, timed out, were dropped or could not be sent (their devices are told to resync)', registers: [this.registry] })
  readonly resyncCloses = new Counter({ name: 'chat_resync_closes_total', help: 'sockets closed with 1013 because pushes meant for them may have been lost between nodes', registers: [this.registry] })
  readonly resyncAbandoned = new Counter({ name: 'chat_resync_abandoned_total', help: 'sessions on a node that never answered again, whose resync request was given up', registers: [this.registry] })
  readonly slowConsumers = new Counter({ name: 'chat_slow_consumer_closes_total', help: 'sockets closed with 1013 for not keeping up', registers: [this.registry] })
  readonly notifications = new Counter({ name: 'chat_push_notifications_total', help: 'push notifications handed to this node\'s notifier (one per subscription)', registers: [this.registry] })
  readonly bounds = new Counter<'bound'>({
    name: 'chat_bound_hits_total', help: 'requests, frames or pushes refused or cut short by a resource or abuse bound, by bound',
    labelNames: ['bound'] as const, registers: [this.registry],
  })
  readonly revocations = new Counter({ name: 'chat_sessions_revoked_total', help: 'sockets closed because their token was revoked or expired', registers: [this.registry] })

  constructor(sources: MetricSources) {
    collectDefaultMetrics({ register: this.registry })
    new Gauge({
      name: 'chat_active_actors', help: 'actors activated on this node', registers: [this.registry],
      collect() { this.set(sources.actors()) },
    })
    new Gauge({
      name: 'chat_password_hash_waiting', help: 'logins and sign-ups waiting for a password hash', registers: [this.registry],
      collect() { this.set(sources.hashWaiting?.() ?? 0) },
    })
    new Gauge({
      name: 'chat_event_loop_lag_seconds', help: 'how late the event loop last ran a timer (admission control sheds writes past --max-lag-ms)', registers: [this.registry],
      collect() { this.set((sources.load?.().lagMs ?? 0) / 1000) },
    })
    new Gauge({
      name: 'chat_writes_in_flight', help: 'writes admitted on this node and not yet answered', registers: [this.registry],
      collect() { this.set(sources.load?.().writesInFlight ?? 0) },
    })
    new Gauge({
      name: 'chat_ws_connections', help: 'open WebSocket connections on this node', registers: [this.registry],
      collect() { this.set(sources.connections()) },
    })
  }
}
