/**
 * Prometheus metrics of one node, in a registry of its own (several nodes may share a process).
 * Every name here is documented in docs/OPERATIONS.md, and the dashboard in deploy/ uses only
 * these (test/ops/dashboard.test.ts checks it against a live node).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface MetricSources {
  actors(): number
  connections(): number
  /** Cluster only: the ring record's version, its members, and how many of them are live. */
  ring?(): { version: number; members: number; live: number }
  /** Cluster only: per peer, log entries of keys this node owns that the peer has not stored yet. */
  replicationLag?(): Map<string, number>
  /** Bytes the node's data dir takes on disk. */
  storageBytes?(): Promise<number>
  /** Logins and sign-ups waiting for a password hash. */
  hashWaiting?(): number
  /** Event-loop lag (ms) and writes admitted and unanswered, from admission control. */
  load?(): { lagMs: number; writesInFlight: number; sendsWaitingTurn: number }
}

/** Latency buckets in seconds, from a fast local ack to a failover. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

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
  readonly resyncCloses = new Counter({ name: 'chat_resync_closes_total', help: 'sockets closed with 1013 because pushes meant for them may have been lost (between nodes, or while the user key moved)', registers: [this.registry] })
  readonly duplicatePushes = new Counter({ name: 'chat_duplicate_pushes_total', help: 'inbox events not pushed to a socket again because it had been sent them already (repeats while a user key moved)', registers: [this.registry] })
  readonly resyncAbandoned = new Counter({ name: 'chat_resync_abandoned_total', help: 'sessions on a node that never answered again, whose resync request was given up', registers: [this.registry] })
  readonly slowConsumers = new Counter({ name: 'chat_slow_consumer_closes_total', help: 'sockets closed with 1013 for not keeping up', registers: [this.registry] })
  readonly notifications = new Counter({ name: 'chat_push_notifications_total', help: 'push notifications handed to this node\'s notifier (one per subscription)', registers: [this.registry] })
  readonly bounds = new Counter<'bound'>({
    name: 'chat_bound_hits_total', help: 'requests, frames or pushes refused or cut short by a resource or abuse bound, by bound',
    labelNames: ['bound'] as const, registers: [this.registry],
  })
  readonly revocations = new Counter({ name: 'chat_sessions_revoked_total', help: 'sockets closed because their token was revoked or expired', registers: [this.registry] })

  // End-to-end latency as this node sees it.
  readonly ackSeconds = new Histogram({
    name: 'chat_message_ack_seconds', help: 'from a send frame arriving on this node to its ack going out (queueing, storage and replication included)',
    buckets: LATENCY_BUCKETS, registers: [this.registry],
  })
  readonly deliverySeconds = new Histogram({
    name: 'chat_message_delivery_seconds', help: 'from a message being stored (its ts) to its push being written to a recipient socket on this node',
    buckets: LATENCY_BUCKETS, registers: [this.registry],
  })

  // Actors.
  readonly activations = new Counter({
    name: 'chat_actor_activations_total', help: 'actors activated (state loaded), by kind', labelNames: ['kind'] as const, registers: [this.registry],
  })
  readonly passivations = new Counter({
    name: 'chat_actor_passivations_total', help: 'actors deactivated (idle, handed over, or node stopping), by kind', labelNames: ['kind'] as const, registers: [this.registry],
  })

  // Replication (cluster only).
  readonly takeovers = new Counter({
    name: 'chat_replication_takeovers_total', help: 'key takeovers by this node, by outcome', labelNames: ['outcome'] as const, registers: [this.registry],
  })
  readonly quorumFailures = new Counter({
    name: 'chat_replication_quorum_failures_total', help: 'takeovers and commits that found no majority of the replica set', labelNames: ['op'] as const, registers: [this.registry],
  })
  readonly snapshots = new Counter({
    name: 'chat_replication_snapshots_total', help: 'state snapshots of whole keys sent to peers (sent) and installed here from peers, pushed or pulled (received)', labelNames: ['direction'] as const, registers: [this.registry],
  })
  readonly compactedEntries = new Counter({
    name: 'chat_replication_compacted_entries_total', help: 'log entries folded into the state and removed', registers: [this.registry],
  })
  readonly repairedEntries = new Counter({
    name: 'chat_replication_repaired_entries_total', help: 'committed log entries sent to replicas that missed them', registers: [this.registry],
  })
  readonly peersDown = new Counter({
    name: 'chat_peers_declared_down_total', help: 'times this node declared a peer down (nothing heard from it for --dead-after-ms), by peer', labelNames: ['peer'] as const, registers: [this.registry],
  })
  readonly incompatiblePeers = new Counter({
    name: 'chat_peer_incompatible_total', help: 'node-to-node calls refused because the caller speaks an incompatible protocol version', labelNames: ['peer'] as const, registers: [this.registry],
  })

  constructor(sources: MetricSources, info: { version: string; protocol: number; fsync: string } = { version: 'unknown', protocol: 0, fsync: 'never' }) {
    collectDefaultMetrics({ register: this.registry })
    new Gauge({
      name: 'chat_node_info', help: 'always 1; labels: software version, node-to-node protocol version, fsync mode',
      labelNames: ['version', 'protocol', 'fsync'] as const, registers: [this.registry],
      collect() { this.set({ version: info.version, protocol: String(info.protocol), fsync: info.fsync }, 1) },
    })
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
      name: 'chat_sends_waiting_turn', help: 'sessions whose sends wait for a turn (--send-concurrency)', registers: [this.registry],
      collect() { this.set(sources.load?.().sendsWaitingTurn ?? 0) },
    })
    new Gauge({
      name: 'chat_ws_connections', help: 'open WebSocket connections on this node', registers: [this.registry],
      collect() { this.set(sources.connections()) },
    })
    new Gauge({
      name: 'chat_ring_version', help: 'version of the ring record this node follows (0 standalone)', registers: [this.registry],
      collect() { this.set(sources.ring?.().version ?? 0) },
    })
    new Gauge({
      name: 'chat_ring_members', help: 'members of the ring record, and how many of them are live', labelNames: ['state'] as const, registers: [this.registry],
      collect() {
        const ring = sources.ring?.() ?? { members: 1, live: 1 }
        this.set({ state: 'all' }, ring.members)
        this.set({ state: 'live' }, ring.live)
      },
    })
    new Gauge({
      name: 'chat_replication_lag_entries', help: 'per peer, log entries of keys this node owns that the peer has not stored yet',
      labelNames: ['peer'] as const, registers: [this.registry],
      collect() {
        this.reset()
        for (const [peer, lag] of sources.replicationLag?.() ?? []) this.set({ peer }, lag)
      },
    })
    new Gauge({
      name: 'chat_storage_bytes', help: 'bytes the data dir takes on disk', registers: [this.registry],
      async collect() { this.set(sources.storageBytes ? await sources.storageBytes() : 0) },
    })
  }
}
