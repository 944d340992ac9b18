/**
 * A node without its HTTP server: storage, the actor runtime, routing (local, or the cluster's),
 * the use cases the gateway serves, and this node's sockets registry. Built from injected parts
 * (storage, clock, randomness, logger, and for a cluster node its membership and transport), so
 * the same code runs as a real process (src/node.ts adds the gateway and the real parts), as an
 * in-process cluster in tests, and under the simulator on virtual time (src/sim/).
 *
 * Built in one go, in dependency order; `start` binds the transport and joins the ring.
 */
import type { Logger } from 'pino'
import { Actors, type ActorEnv, type Pusher, type Router } from './actors/env.js'
import { actorFactory } from './actors/factory.js'
import { LocalRouter } from './actors/local-router.js'
import { ActorRuntime, type ActorFactory, type RuntimeOptions } from './actors/runtime.js'
import { Rewaker, wakePending } from './actors/wake.js'
import { type Clock, type HaltableClock, haltable } from './clock.js'
import { Cluster } from './cluster/cluster.js'
import type { LocalSessions } from './cluster/local-sessions.js'
import type { MemberIdentity, Membership } from './cluster/membership.js'
import type { Topology } from './cluster/topology.js'
import type { Transport } from './cluster/transport.js'
import type { Config } from './config.js'
import { ChatService } from './gateway/chat-service.js'
import { SessionRegistry } from './gateway/sessions.js'
import type { Derive } from './gateway/passwords.js'
import { Tokens } from './gateway/tokens.js'
import type { Metrics } from './metrics.js'
import type { Push } from './push/node-push.js'
import type { Random } from './random.js'
import { LocalActorStorage } from './storage/actor-store.js'
import { nodeKey } from './storage/keys.js'
import type { Kv } from './storage/kv.js'

/** The parts a node is built from. A real node's defaults are in src/node.ts. */
export interface NodeParts {
  log: Logger
  /** This node's storage, opened; the node closes it when it stops. */
  kv: Kv
  clock: Clock
  random: Random
  /**
   * Builds this node's cluster membership for its identity (cluster nodes only), on the node's
   * clock (a crash stops its heartbeats) and randomness.
   */
  membership: (self: MemberIdentity, own: { clock: Clock; random: Random }) => Membership
  /** Node-to-node calls: a cluster node needs one; a standalone node has none. */
  transport?: Transport
  /**
   * Push notifications (src/push/): the notifier user actors hand notifications to and the policy
   * they follow, built for this node's actors and token secret; `vapid` only where the gateway
   * serves Web Push.
   */
  push: (node: { actors: Actors; secret: string; random: Random }) => NodePush
  /** Where password hashes are computed, with its admission check (the node's bounded hasher threads). */
  hasher?: { derive: Derive; admit(): void }
  /** The node's Prometheus metrics, for the bounds parts below the gateway count. */
  metrics?: Metrics
}

export type NodePush = Pick<Push, 'notifier' | 'policy' | 'stop'> & Partial<Pick<Push, 'vapid'>>

export class NodeCore {
  /** True once started, until it stops. */
  serving = false
  private constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly kv: Kv,
    /** The parts' clock, made haltable: a crash cancels every timer of this node. */
    readonly clock: HaltableClock,
    readonly random: Random,
    readonly sessions: SessionRegistry,
    readonly tokens: Tokens,
    readonly runtime: ActorRuntime,
    readonly router: Router,
    readonly actors: Actors,
    readonly service: ChatService,
    private readonly rewaker: Rewaker,
    readonly cluster: Cluster | null,
    readonly push: NodePush,
  ) {}

  /** Builds a node over `parts.kv` (standalone without `config.nats`, a cluster member with it). */
  static async create(config: Config, parts: NodeParts): Promise<NodeCore> {
    const { log, kv, random } = parts
    const clock = haltable(parts.clock)
    const mode = config.nats.length > 0 ? 'cluster' : 'standalone'
    await checkMode(kv, mode, config.dataDir)
    const secret = config.secret ?? (await stored(kv, 'token-secret', () => random.bytes(32).toString('base64url')))
    const sessions = new SessionRegistry(config.presenceTimeoutMs, clock, (closed) => parts.metrics?.resyncCloses.inc(closed))
    const runtimeOptions: Omit<RuntimeOptions, 'factory'> = {
      clock, passivateAfterMs: config.passivateAfterMs, onError: (key, err) => log.error({ err, key }, 'actor handler failed'),
    }
    // Actors reach each other through the router, which delivers into the runtime that builds
    // them: the one cycle of this graph, closed by `factory`, which is only read when an actor
    // first activates, after everything here is built. Activations and passivations are counted
    // by kind (user, channel) for the metrics.
    const lazy: ActorFactory = (key) => {
      parts.metrics?.activations.inc({ kind: actorKind(key) })
      return factory(key)
    }
    const passivated = (key: string): void => { parts.metrics?.passivations.inc({ kind: actorKind(key) }) }
    let cluster: Cluster | null = null
    let runtime: ActorRuntime
    let router: Router
    let pusher: Pusher
    let storage
    if (mode === 'standalone') {
      storage = new LocalActorStorage(kv)
      runtime = new ActorRuntime({ ...runtimeOptions, factory: lazy, onDeactivated: passivated })
      router = new LocalRouter(runtime)
      pusher = localPusher(config.id, sessions)
    } else {
      if (!parts.transport) throw new Error('a cluster node needs a transport between nodes')
      const incarnation = await stored(kv, 'incarnation', () => random.bytes(8).toString('hex'))
      const membership = parts.membership({ id: config.id, incarnation, ...(config.region ? { region: config.region } : {}) }, { clock, random })
      cluster = new Cluster({
        config, log, kv, clock, random, incarnation, membership, transport: parts.transport, sessions,
        pushEvents: {
          dropped: (n) => parts.metrics?.bounds.inc({ bound: 'push_queue' }, n),
          failed: (n) => parts.metrics?.peerPushFailures.inc(n),
          abandoned: (n) => parts.metrics?.resyncAbandoned.inc(n),
        },
        ...(parts.metrics ? { metrics: parts.metrics } : {}),
      },
        (replicated) => new ActorRuntime({
          ...runtimeOptions, factory: lazy,
          onDeactivated: (key) => {
            replicated.release(key)
            passivated(key)
          },
        }))
      storage = cluster.storage
      runtime = cluster.runtime
      router = cluster.router
      pusher = cluster.pusher
    }
    const rewaker = new Rewaker(router, log, clock, random)
    const actors = new Actors(router)
    const push = parts.push({ actors, secret, random })
    const env: ActorEnv = {
      actors, pusher, notifier: push.notifier, wake: (key) => rewaker.wake(key),
      config: { nodeId: config.id, maxGroupSize: config.maxGroupSize, maxDevices: config.maxDevices, push: push.policy },
      log, now: () => clock.now(), clock, random,
      onFanoutSpill: () => parts.metrics?.bounds.inc({ bound: 'fanout_queue' }),
    }
    const factory = actorFactory(storage, env)
    const tokens = new Tokens(secret, config.tokenTtlMs, () => clock.now(), random)
    const service = new ChatService(actors, tokens, config.maxGroupSize, parts.hasher, () => clock.now(), random)
    return new NodeCore(config, log, kv, clock, random, sessions, tokens, runtime, router, actors, service, rewaker, cluster, push)
  }

  /** Starts serving: a cluster node binds its transport and joins the ring, advertising `http`. */
  async start(http: string): Promise<void> {
    await this.cluster?.start(http)
    this.serving = true
    void wakePending(this.kv, this.router, this.log).catch((err) => this.log.warn({ err }, 'waking pending actors failed'))
  }

  /** The node's view of its cluster (a standalone node is a cluster of one), as the gateway shows it. */
  topology(http: () => string): Topology {
    if (this.cluster) return this.cluster.topology()
    return {
      ringVersion: () => 0,
      members: () => [{
        id: this.config.id, http: http(), grpc: null, region: this.config.region,
        live: true, connections: this.sessions.size, actors: this.runtime.size,
      }],
    }
  }

  /** Graceful stop, step one: leave the ring so that owners move elsewhere (the gateway closes sockets next). */
  async leave(): Promise<void> {
    this.serving = false
    await this.cluster?.leave()
  }

  /** Graceful stop, step two: drain actors, hand data to the new replicas, close storage. */
  async stop(handoffMs: number): Promise<void> {
    this.serving = false
    await this.runtime.stop()
    // Actors stopped with fan-out unfinished: their keys' new owners take it up.
    await this.rewaker.flush(2000)
    this.push.stop()
    await this.cluster?.close(handoffMs)
    this.clock.halt()
    await this.kv.close()
  }

  /**
   * What SIGKILL does, as far as a process shared with other nodes allows: every timer is
   * cancelled, peers can no longer reach it, and storage is closed with whatever was written. No
   * goodbye: peers find out from its silence.
   */
  async crash(): Promise<void> {
    this.serving = false
    this.clock.halt()
    this.push.stop()
    await this.cluster?.transport.close().catch(() => undefined)
    await this.kv.close().catch(() => undefined)
  }
}

/**
 * A data dir belongs to one mode for life: standalone state has no replication log, so a cluster
 * could not hand it to other replicas, and a cluster's replica data means nothing standalone.
 */
async function checkMode(kv: Kv, mode: 'standalone' | 'cluster', dataDir: string): Promise<void> {
  const recorded = await stored(kv, 'mode', () => mode)
  if (recorded !== mode) {
    throw new Error(`data dir ${dataDir} holds a ${recorded} node's data and cannot be used by a ${mode} node; use another --data-dir`)
  }
}

/** A node-level value, made once and kept (the token secret; the incarnation, which names this data dir's life). */
async function stored(kv: Kv, name: string, make: () => string): Promise<string> {
  const key = nodeKey(name)
  const existing = await kv.get<string>(key)
  if (existing) return existing
  const value = make()
  await kv.batch([{ type: 'put', key, value }])
  return value
}

function actorKind(key: string): string {
  return key.slice(0, Math.max(0, key.indexOf(':'))) || 'other'
}

function localPusher(nodeId: string, sessions: LocalSessions): Pusher {
  return {
    push(devices, frame) {
      const local: string[] = []
      for (const d of devices) if (d.node === nodeId) local.push(d.sessionId)
      sessions.push(local, frame)
    },
  }
}
