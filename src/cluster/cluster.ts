/**
 * A node's membership in a cluster: membership over NATS, the view, the gRPC transport,
 * replication, the router and the pusher, and what happens when the ring or liveness changes
 * (actors this node no longer owns are handed over, devices on dead nodes are dropped, sessions
 * re-register with their user's new owner, replicas are repaired).
 */
import type { Logger } from 'pino'
import type { ActorRequest, ActorRuntime } from '../actors/runtime.js'
import { userKey } from '../actors/messages.js'
import { wakePending } from '../actors/wake.js'
import type { Config } from '../config.js'
import type { MemberStatus, Topology } from '../gateway/deps.js'
import type { SessionRegistry } from '../gateway/sessions.js'
import { readFileSync } from 'node:fs'
import type { Metrics } from '../metrics.js'
import type { Kv } from '../storage/kv.js'
import { NatsMembership } from './membership-nats.js'
import { natsAuthOptions } from './nats-auth.js'
import { PeerService } from './peer-service.js'
import { ClusterPusher } from './pusher.js'
import type { ReplicationContext } from './replication/context.js'
import { ReplicationBatcher } from './replication/batcher.js'
import { Repairer } from './replication/repair.js'
import { ReplicaStore } from './replication/replica.js'
import { ReplicatedActorStorage } from './replication/storage.js'
import { ClusterRouter } from './router.js'
import { GrpcTransport } from './transport-grpc.js'
import type { ActorCall, ActorMultiCall, PeerRequest, PushBatch, Reply, TransportHandlers } from './transport.js'
import { ClusterView } from './view.js'

export interface ClusterParts {
  config: Config
  log: Logger
  kv: Kv
  incarnation: string
  httpUrl: string
  registry: SessionRegistry
  metrics?: Metrics
}

export class Cluster {
  readonly transport: GrpcTransport
  membership!: NatsMembership
  view!: ClusterView
  replica!: ReplicaStore
  storage!: ReplicatedActorStorage
  router!: ClusterRouter
  pusher!: ClusterPusher
  repairer!: Repairer
  grpcAddress = ''
  private ctx!: ReplicationContext
  private service: PeerService | null = null
  private runtime: ActorRuntime | null = null
  private loadTimer: NodeJS.Timeout | null = null
  private wakeTimer: NodeJS.Timeout | null = null
  private readonly registeredOwner = new Map<string, string | undefined>()

  constructor(private readonly parts: ClusterParts) {
    const { config, log, metrics } = parts
    let warnedAt = 0
    // Every call is signed with the cluster secret; with certificates, the channel is mutual TLS too.
    this.transport = new GrpcTransport({
      auth: { secret: config.secret!, self: config.id },
      ...(config.tlsCa && config.tlsCert && config.tlsKey
        ? { tls: { ca: readFileSync(config.tlsCa), cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } }
        : {}),
      onRefused: (reason) => {
        metrics?.bounds.inc({ bound: 'grpc_unauthenticated' })
        // A flood of such calls is one line every 10 s; the metric counts them all.
        if (Date.now() - warnedAt < 10_000) return
        warnedAt = Date.now()
        log.warn({ reason }, 'refused a node-to-node call without valid cluster credentials')
      },
    })
  }

  /** Listens for peers, then joins: resolves once this node is on the ring and may own keys. */
  async join(): Promise<void> {
    const { config, log, kv, incarnation, httpUrl } = this.parts
    const port = await this.transport.listen(config.host, config.grpcPort, this.handlers())
    this.grpcAddress = `${config.host}:${port}`
    this.membership = new NatsMembership({
      servers: config.nats, cluster: config.cluster, heartbeatMs: config.heartbeatMs, deadAfterMs: config.deadAfterMs, logger: log,
      auth: natsAuthOptions(config),
      self: { id: config.id, http: httpUrl, grpc: this.grpcAddress, incarnation, ...(config.region ? { region: config.region } : {}) },
    })
    this.view = new ClusterView(this.membership, config.replicas, config.id, log)
    await this.membership.start()
    await this.view.start()
    this.replica = new ReplicaStore(kv, config.id, incarnation)
    const ctx: ReplicationContext = this.ctx = {
      self: config.id, replica: this.replica, view: this.view, log,
      peer: (node) => {
        const address = this.view.address(node)
        return address ? this.transport.peer(address) : undefined
      },
      rpcTimeoutMs: Math.max(1000, config.deadAfterMs),
      commitTimeoutMs: Math.max(2000, 2 * config.deadAfterMs),
    }
    ctx.batcher = new ReplicationBatcher({ self: config.id, peer: ctx.peer, ringVersion: () => this.view.version, timeoutMs: ctx.rpcTimeoutMs })
    this.storage = new ReplicatedActorStorage(ctx, kv, (key) => void this.runtime?.deactivate(key))
    this.repairer = new Repairer(ctx, {
      intervalMs: config.repairIntervalMs, bytesPerSec: 16 << 20,
      // Keys this node owns but has not taken over since the ring changed: taking them over now,
      // while the old replicas are still around, frees them from needing those replicas later.
      touch: (key) => void this.router?.call(key, { kind: 'wake' }).catch(() => undefined),
    }, log)
  }

  /** Starts serving: routes calls, answers peers, follows changes. */
  serve(runtime: ActorRuntime): void {
    const { log, registry } = this.parts
    this.runtime = runtime
    this.router = new ClusterRouter(this.view, runtime, this.transport, log)
    const metrics = this.parts.metrics
    this.pusher = new ClusterPusher(this.view, registry, this.transport, log, {
      dropped: (n) => metrics?.bounds.inc({ bound: 'push_queue' }, n),
      failed: (n) => metrics?.peerPushFailures.inc(n),
      abandoned: (n) => metrics?.resyncAbandoned.inc(n),
    })
    this.service = new PeerService(this.view, runtime, registry, this.replica, log)
    this.service.ready = true
    this.repairer.start()
    this.view.onChange(() => this.onViewChange())
    this.membership.on((e) => {
      if (e.type === 'down') {
        this.dropDevicesOf(e.id)
        this.scheduleWake()
      }
    })
    this.loadTimer = setInterval(() => this.membership.setLoad({ connections: registry.size, actors: runtime.size }), this.parts.config.heartbeatMs)
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
            connections: self ? this.parts.registry.size : (l?.connections ?? 0),
            actors: self ? (this.runtime?.size ?? 0) : (l?.actors ?? 0),
          }
        })
      },
    }
  }

  /** Graceful leave, step one: leave the ring so that owners move elsewhere. */
  async leave(): Promise<void> {
    await this.membership.leave().catch((err) => this.parts.log.warn({ err }, 'leaving the ring record failed'))
  }

  /** Graceful leave, step two (after actors stopped): hand committed data to the new replicas, then disconnect. */
  async close(handoffMs: number): Promise<void> {
    if (this.loadTimer) clearInterval(this.loadTimer)
    if (this.wakeTimer) clearTimeout(this.wakeTimer)
    this.repairer?.stop()
    this.pusher?.stop()
    if (handoffMs > 0 && this.repairer) {
      const handoff = new Repairer(this.ctx, { intervalMs: 1e9, bytesPerSec: 64 << 20 }, this.parts.log)
      await handoff.sweep(Date.now() + handoffMs).catch((err) => this.parts.log.warn({ err }, 'handoff failed'))
      this.parts.log.info({ installs: handoff.stats.installs, entries: handoff.stats.entries }, 'handed data over')
    }
    if (this.service) this.service.ready = false
    await this.membership?.stop()
    await this.transport.close()
  }

  private handlers(): TransportHandlers {
    const notReady: Reply = { ok: false, error: { code: 'NOT_READY', message: 'node is starting' } }
    return {
      call: (req: ActorCall) => this.service ? this.service.call(req) : Promise.resolve(notReady),
      callMany: (req: ActorMultiCall) => this.service ? this.service.callMany(req) : Promise.resolve(req.keys.map(() => notReady)),
      push: (batch: PushBatch) => this.service ? this.service.push(batch) : Promise.resolve(),
      peer: (req: PeerRequest) => this.service ? this.service.peer(req) : Promise.resolve(notReady),
    }
  }

  private onViewChange(): void {
    const runtime = this.runtime
    if (!runtime) return
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
    for (const session of this.parts.registry.all()) {
      const owner = this.view.owner(userKey(session.user))
      if (!this.registeredOwner.has(session.id) || this.registeredOwner.get(session.id) !== owner) {
        this.registeredOwner.set(session.id, owner)
        session.reregister()
      }
    }
    for (const id of this.registeredOwner.keys()) if (!this.parts.registry.has(id)) this.registeredOwner.delete(id)
    this.repairer.trigger()
  }

  /** After a node died, actors it owned with unfinished work are woken on their new owners. */
  private scheduleWake(): void {
    if (this.wakeTimer) return
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null
      void wakePending(this.parts.kv, this.router, this.parts.log).catch(() => undefined)
    }, this.parts.config.deadAfterMs)
    this.wakeTimer.unref()
  }

  private dropDevicesOf(node: string): void {
    const runtime = this.runtime
    if (!runtime) return
    for (const key of runtime.keys()) {
      if (key.startsWith('user:')) void runtime.call(key, { kind: 'dropNode', node } as ActorRequest).catch(() => undefined)
    }
  }
}
