/**
 * A node's membership in a cluster, built from the parts it is given (a Membership and a
 * Transport: NATS and gRPC in a real node, in-memory ones in tests and the simulator): the view,
 * replication, the router and the pusher, and what happens when the ring or liveness changes
 * (actors this node no longer owns are handed over, devices on dead nodes are dropped, sessions
 * re-register with their user's new owner, replicas are repaired).
 *
 * Built in one go, in dependency order; `start` binds the transport and joins the ring.
 */
import type { Logger } from 'pino'
import type { ActorRequest, ActorRuntime } from '../actors/runtime.js'
import { userKey } from '../actors/messages.js'
import { wakePending } from '../actors/wake.js'
import type { Clock, TimerHandle } from '../clock.js'
import type { Config } from '../config.js'
import type { Random } from '../random.js'
import type { Kv } from '../storage/kv.js'
import type { LocalSessions } from './local-sessions.js'
import type { Membership } from './membership.js'
import { PeerService } from './peer-service.js'
import { ClusterPusher, type PusherEvents } from './pusher.js'
import type { ReplicationContext, ReplicationMetrics } from './replication/context.js'
import { ReplicationBatcher } from './replication/batcher.js'
import { Compactor } from './replication/compactor.js'
import { Repairer } from './replication/repair.js'
import { ReplicaStore } from './replication/replica.js'
import { ReplicatedActorStorage } from './replication/storage.js'
import { ClusterRouter } from './router.js'
import type { MemberStatus, Topology } from './topology.js'
import type { Transport } from './transport.js'
import { ClusterView } from './view.js'

export interface ClusterParts {
  config: Config
  log: Logger
  kv: Kv
  clock: Clock
  random: Random
  incarnation: string
  membership: Membership
  transport: Transport
  sessions: LocalSessions
  /** Pushes to other nodes that failed, were dropped or abandoned (for the metrics). */
  pushEvents?: PusherEvents
  /** Replication's counters (the node's Metrics fit): takeovers, quorum failures, snapshots, compaction; peers declared down. */
  metrics?: ReplicationMetrics & { peersDown?: { inc(labels: { peer: string }): void } }
}

export class Cluster {
  readonly membership: Membership
  readonly transport: Transport
  readonly view: ClusterView
  readonly replica: ReplicaStore
  readonly storage: ReplicatedActorStorage
  readonly runtime: ActorRuntime
  readonly router: ClusterRouter
  readonly pusher: ClusterPusher
  readonly repairer: Repairer
  /** Folds applied log entries into the state, in the repair sweeps. */
  readonly compactor: Compactor
  grpcAddress = ''
  private readonly ctx: ReplicationContext
  private readonly service: PeerService
  private loadTimer: TimerHandle | null = null
  private wakeTimer: TimerHandle | null = null
  private readonly registeredOwner = new Map<string, string | undefined>()

  /**
   * `runtime` builds this node's actor runtime over the replicated storage; the cluster routes
   * calls into it and deactivates actors whose owner role moved or that stepped down.
   */
  constructor(private readonly parts: ClusterParts, runtime: (storage: ReplicatedActorStorage) => ActorRuntime) {
    const { config, log, kv, clock, random, membership, transport, sessions } = parts
    this.membership = membership
    this.transport = transport
    this.view = new ClusterView(membership, config.replicas, config.id, log)
    this.replica = new ReplicaStore(kv, config.id, parts.incarnation, {
      clock, random, onSnapshotInstalled: () => parts.metrics?.snapshots.inc({ direction: 'received' }),
    })
    const rpcTimeoutMs = Math.max(1000, config.deadAfterMs)
    const peer = (node: string) => {
      const address = this.view.address(node)
      return address ? transport.peer(address) : undefined
    }
    this.ctx = {
      self: config.id, replica: this.replica, view: this.view, log, clock, random, peer, rpcTimeoutMs,
      commitTimeoutMs: Math.max(2000, 2 * config.deadAfterMs),
      batcher: new ReplicationBatcher({ self: config.id, peer, ringVersion: () => this.view.version, timeoutMs: rpcTimeoutMs, clock }),
      ...(parts.metrics ? { metrics: parts.metrics } : {}),
    }
    // An owner that stepped down deactivates its actor; the runtime is built just below and this
    // runs only once a key was taken over, after construction.
    this.storage = new ReplicatedActorStorage(this.ctx, kv, (key) => void this.runtime.deactivate(key))
    this.replica.onPromise((key, epoch) => this.storage.superseded(key, epoch))
    this.runtime = runtime(this.storage)
    this.router = new ClusterRouter(this.view, this.runtime, transport, log, clock, random)
    this.pusher = new ClusterPusher(this.view, sessions, transport, log, clock, random, parts.pushEvents)
    this.service = new PeerService(this.view, this.runtime, sessions, this.replica, log)
    this.compactor = new Compactor(this.ctx, { intervalMs: config.compactIntervalMs, maxLag: config.compactMaxLag })
    this.repairer = new Repairer(this.ctx, {
      intervalMs: config.repairIntervalMs, bytesPerSec: 16 << 20, compactor: this.compactor,
      // Keys this node owns but has not taken over since the ring changed: taking them over now,
      // while the old replicas are still around, frees them from needing those replicas later.
      touch: (key) => void this.router.call(key, { kind: 'wake' }).catch(() => undefined),
    }, log)
  }

  /**
   * Binds the transport, then joins: resolves once this node is on the ring, answers its peers and
   * may own keys. `http` is the gateway's address, advertised with the transport's.
   */
  async start(http: string): Promise<void> {
    const { config, clock, sessions } = this.parts
    const port = await this.transport.listen(config.host, config.grpcPort, this.service)
    this.grpcAddress = `${config.host}:${port}`
    await this.membership.start({ http, grpc: this.grpcAddress })
    await this.view.start()
    this.service.ready = true
    this.repairer.start()
    this.view.onChange(() => this.onViewChange())
    this.membership.on((e) => {
      if (e.type === 'down') {
        this.parts.metrics?.peersDown?.inc({ peer: e.id })
        this.dropDevicesOf(e.id)
        this.scheduleWake()
      }
    })
    this.loadTimer = clock.setInterval(() => this.membership.setLoad({ connections: sessions.size, actors: this.runtime.size }), config.heartbeatMs)
    this.loadTimer.unref()
  }

  topology(): Topology {
    return {
      ringVersion: () => this.view.version,
      replica: (key) => this.replica.report(key),
      members: () => {
        const live = new Map(this.membership.live().map((m) => [m.id, m]))
        return this.view.members().map((m): MemberStatus => {
          const l = live.get(m.id)
          const self = m.id === this.parts.config.id
          return {
            id: m.id, http: m.http, grpc: m.grpc, region: m.region ?? null, live: this.membership.isLive(m.id),
            connections: self ? this.parts.sessions.size : (l?.connections ?? 0),
            actors: self ? this.runtime.size : (l?.actors ?? 0),
          }
        })
      },
    }
  }

  /** What this node's replication did since it started: log entries compacted away, snapshots installed here. */
  stats(): { compactedEntries: number; snapshotsInstalled: number } {
    return { compactedEntries: this.compactor.stats.entries, snapshotsInstalled: this.replica.snapshotsInstalled }
  }

  /** Compacts every log this node holds now (an operator's `chat-node compact`); resolves with the entries removed. */
  async compactNow(): Promise<number> {
    const before = this.compactor.stats.entries
    this.compactor.force()
    await this.repairer.sweepNow()
    return this.compactor.stats.entries - before
  }

  /** Graceful leave, step one: leave the ring so that owners move elsewhere. */
  async leave(): Promise<void> {
    await this.membership.leave().catch((err) => this.parts.log.warn({ err }, 'leaving the ring record failed'))
  }

  /** Graceful leave, step two (after actors stopped): hand committed data to the new replicas, then disconnect. */
  async close(handoffMs: number): Promise<void> {
    const { clock, log } = this.parts
    clock.clearInterval(this.loadTimer)
    clock.clearTimeout(this.wakeTimer)
    this.repairer.stop()
    this.pusher.stop()
    if (handoffMs > 0 && this.service.ready) {
      const handoff = new Repairer(this.ctx, { intervalMs: 1e9, bytesPerSec: 64 << 20 }, log)
      await handoff.sweep(clock.now() + handoffMs).catch((err) => log.warn({ err }, 'handoff failed'))
      log.info({ installs: handoff.stats.installs, entries: handoff.stats.entries }, 'handed data over')
    }
    this.service.ready = false
    await this.replica.state.close()
    await this.membership.stop()
    await this.transport.close()
  }

  private onViewChange(): void {
    const { runtime } = this
    // Actors this node no longer owns finish their current message and stop; the new owner takes
    // over. So do actors whose replica set changed: ownership must be taken again under the new
    // ring, so that what they commit is on a majority of the replica set future owners will ask.
    for (const key of runtime.keys()) {
      if (this.view.owner(key) !== this.parts.config.id || this.storage.replicaSetChanged(key, this.view.replicaSet(key))) {
        void runtime.deactivate(key)
      }
    }
    // Devices re-register with their user's new owner (its device list lives in memory).
    // A session unknown here connected since the last change: registering it again is harmless.
    const { sessions } = this.parts
    for (const session of sessions.all()) {
      const owner = this.view.owner(userKey(session.user))
      if (!this.registeredOwner.has(session.id) || this.registeredOwner.get(session.id) !== owner) {
        this.registeredOwner.set(session.id, owner)
        session.reregister()
      }
    }
    for (const id of this.registeredOwner.keys()) if (!sessions.has(id)) this.registeredOwner.delete(id)
    this.repairer.trigger()
  }

  /** After a node died, actors it owned with unfinished work are woken on their new owners. */
  private scheduleWake(): void {
    if (this.wakeTimer) return
    const { clock, kv, log, config } = this.parts
    this.wakeTimer = clock.setTimeout(() => {
      this.wakeTimer = null
      void wakePending(kv, this.router, log).catch(() => undefined)
    }, config.deadAfterMs)
    this.wakeTimer.unref()
  }

  private dropDevicesOf(node: string): void {
    for (const key of this.runtime.keys()) {
      if (key.startsWith('user:')) void this.runtime.call(key, { kind: 'dropNode', node } as ActorRequest).catch(() => undefined)
    }
  }
}
