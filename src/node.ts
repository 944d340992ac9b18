/**
 * The composition root: wires storage, actors, routing and the gateway of one node, and owns the
 * order in which they start and stop. A node without NATS is standalone: every actor is local and
 * stored only here. With NATS it joins a cluster: actors live on the node the ring picks and
 * their data is replicated to a majority of their replica set.
 */
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { Actors, type ActorEnv, type Pusher, type Router } from './actors/env.js'
import { actorFactory } from './actors/factory.js'
import { Rewaker, wakePending } from './actors/wake.js'
import { LocalRouter } from './actors/local-router.js'
import { ActorRuntime } from './actors/runtime.js'
import { Cluster } from './cluster/cluster.js'
import type { Config } from './config.js'
import { errors } from './errors.js'
import { ChatService } from './gateway/chat-service.js'
import type { Topology } from './gateway/deps.js'
import { AddressLimits } from './gateway/address-limits.js'
import { PasswordHasher } from './gateway/hasher.js'
import { buildHttp } from './gateway/http.js'
import { SessionRegistry } from './gateway/sessions.js'
import { Tokens } from './gateway/tokens.js'
import { Metrics } from './metrics.js'
import { startPush, type Push } from './push/node-push.js'
import { LoadShedder } from './gateway/load-shedder.js'
import { CLOSE_CODES } from './protocol/frames.js'
import { LocalActorStorage } from './storage/actor-store.js'
import { nodeKey } from './storage/keys.js'
import type { Kv } from './storage/kv.js'
import { LevelKv } from './storage/leveldb.js'

/** How long a leaving node spends handing its data to the new replicas. */
const HANDOFF_MS = 8000

export class ChatNode {
  private serving = false
  private leaving = false
  private http: FastifyInstance | null = null
  private cluster: Cluster | null = null
  private runtime: ActorRuntime | null = null
  private router: Router | null = null
  private pusher: Pusher | null = null
  private topology: Topology | null = null
  private rewaker: Rewaker | null = null
  private push: Push | null = null
  readonly registry: SessionRegistry
  readonly metrics: Metrics
  private readonly hasher: PasswordHasher
  private readonly shedder: LoadShedder
  httpUrl = ''

  private constructor(readonly config: Config, readonly log: Logger, private readonly kv: Kv) {
    this.registry = new SessionRegistry(config.presenceTimeoutMs)
    this.registry.onResync = (closed) => this.metrics.resyncCloses.inc(closed)
    this.hasher = new PasswordHasher(config.hashConcurrency, config.hashQueue, () => this.metrics.bounds.inc({ bound: 'hash_queue' }))
    this.shedder = new LoadShedder({ maxLagMs: config.maxLagMs, maxInFlight: config.maxInFlightWrites })
    this.metrics = new Metrics({
      actors: () => this.runtime?.size ?? 0, connections: () => this.registry.size, hashWaiting: () => this.hasher.stats.waiting,
      load: () => ({ lagMs: this.shedder.lagMs, writesInFlight: this.shedder.admitted }),
    })
  }

  static async start(config: Config, log: Logger): Promise<ChatNode> {
    const kv = await LevelKv.open(config.dataDir)
    const node = new ChatNode(config, log, kv)
    try {
      await node.compose()
      return node
    } catch (err) {
      await node.close().catch(() => {})
      throw err
    }
  }

  get actorCount(): number {
    return this.runtime?.size ?? 0
  }

  private async compose(): Promise<void> {
    const { config, log, kv } = this
    await checkMode(kv, config.nats.length > 0 ? 'cluster' : 'standalone', config.dataDir)
    const secret = config.secret ?? (await standaloneSecret(kv))
    const router = this.lateRouter()
    const rewaker = this.rewaker = new Rewaker(() => router, log)
    const actors = new Actors(router)
    const push = this.push = startPush({ config, secret, actors, metrics: this.metrics, log })
    const env: ActorEnv = {
      actors,
      pusher: { push: (devices, frame) => this.pusher?.push(devices, frame) },
      notifier: push.notifier,
      wake: (key) => rewaker.wake(key),
      config: { nodeId: config.id, maxGroupSize: config.maxGroupSize, maxDevices: config.maxDevices, push: push.policy },
      log,
      now: Date.now,
      onFanoutSpill: () => this.metrics.bounds.inc({ bound: 'fanout_queue' }),
    }
    await this.listen(env.actors, new Tokens(secret, config.tokenTtlMs))
    const runtimeOptions = { passivateAfterMs: config.passivateAfterMs, onError: (key: string, err: unknown) => log.error({ err, key }, 'actor handler failed') }
    if (config.nats.length === 0) {
      this.runtime = new ActorRuntime({ ...runtimeOptions, factory: actorFactory(new LocalActorStorage(kv), env) })
      this.router = new LocalRouter(this.runtime)
      this.pusher = localPusher(config.id, this.registry)
      this.topology = standaloneTopology(this)
    } else {
      const cluster = new Cluster({ config, log, kv, incarnation: await incarnation(kv), httpUrl: this.httpUrl, registry: this.registry, metrics: this.metrics })
      this.cluster = cluster
      await cluster.join()
      const storage = cluster.storage
      this.runtime = new ActorRuntime({ ...runtimeOptions, factory: actorFactory(storage, env), onDeactivated: (key) => storage.release(key) })
      cluster.serve(this.runtime)
      this.router = cluster.router
      this.pusher = cluster.pusher
      this.topology = cluster.topology()
    }
    this.serving = true
    void wakePending(kv, this.router!, log).catch((err) => log.warn({ err }, 'waking pending actors failed'))
    // The ready line is part of the contract: printed whatever the log level.
    log.child({}, { level: 'info' }).info({
      http: this.httpUrl, grpc: this.cluster?.grpcAddress ?? null, nodeId: config.id, dataDir: config.dataDir,
      mode: this.cluster ? 'cluster' : 'standalone', ...(this.cluster ? { ringVersion: this.cluster.view.version, cluster: config.cluster } : {}),
    }, 'ready')
  }

  /** The router, once composed; calls before that are UNAVAILABLE. */
  private lateRouter(): Router {
    const current = () => {
      if (!this.router) throw errors.unavailable('node is starting')
      return this.router
    }
    return {
      call: async (key, req) => current().call(key, req),
      callMany: async (keys, req) => current().callMany(keys, req),
    }
  }

  private async listen(actors: Actors, tokens: Tokens): Promise<void> {
    const { config } = this
    this.http = await buildHttp({
      config,
      service: new ChatService(actors, tokens, config.maxGroupSize, this.hasher),
      actors,
      tokens,
      addressLimits: new AddressLimits(config.authRatePerMin, config.authBurst, config.authAllow),
      registry: this.registry,
      shedder: this.shedder,
      metrics: this.metrics,
      topology: {
        ringVersion: () => this.topology?.ringVersion() ?? 0,
        members: () => this.topology?.members() ?? [],
        replica: async (key) => this.topology?.replica?.(key) ?? null,
      },
      log: this.log,
      push: { vapidPublicKey: () => this.push?.vapid.current()?.publicKey ?? null, httpsOnly: config.pushHttpsOnly },
      healthy: () => this.serving && !this.leaving,
      now: Date.now,
    })
    await this.http.listen({ host: config.host, port: config.port })
    const address = this.http.server.address()
    const port = typeof address === 'object' && address ? address.port : config.port
    const host = config.host.includes(':') ? `[${config.host}]` : config.host
    this.httpUrl = `${config.httpTlsCert ? 'https' : 'http'}://${host}:${port}`
  }

  /**
   * Graceful stop: leave the ring (owners move elsewhere), close sockets with 1012, drain actors,
   * hand data over to the new replicas, close storage.
   */
  async stop(): Promise<void> {
    if (this.leaving) return
    this.leaving = true
    await this.cluster?.leave()
    this.registry.closeAll(CLOSE_CODES.SERVICE_RESTART, 'node restarting; reconnect')
    this.shedder.stop()
    await this.closeHttp()
    await this.runtime?.stop()
    // Actors stopped with fan-out unfinished: their keys' new owners take it up.
    await this.rewaker?.flush(2000)
    this.push?.stop()
    await this.cluster?.close(HANDOFF_MS)
    await this.close()
    this.log.info({ nodeId: this.config.id }, 'stopped')
  }

  private async close(): Promise<void> {
    this.push?.stop()
    await this.closeHttp().catch(() => {})
    await this.hasher.close()
    await this.kv.close()
  }

  private async closeHttp(): Promise<void> {
    const http = this.http
    this.http = null
    await http?.close()
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

async function standaloneSecret(kv: Kv): Promise<string> {
  return stored(kv, 'token-secret', () => randomBytes(32).toString('base64url'))
}

/** Names this data dir's life: a wiped data dir comes back as a new incarnation. */
async function incarnation(kv: Kv): Promise<string> {
  return stored(kv, 'incarnation', () => randomBytes(8).toString('hex'))
}

async function stored(kv: Kv, name: string, make: () => string): Promise<string> {
  const key = nodeKey(name)
  const existing = await kv.get<string>(key)
  if (existing) return existing
  const value = make()
  await kv.batch([{ type: 'put', key, value }])
  return value
}

function localPusher(nodeId: string, registry: SessionRegistry): Pusher {
  return {
    push(devices, frame) {
      const local: string[] = []
      for (const d of devices) if (d.node === nodeId) local.push(d.sessionId)
      registry.push(local, frame)
    },
  }
}

function standaloneTopology(node: ChatNode): Topology {
  return {
    ringVersion: () => 0,
    members: () => [{
      id: node.config.id, http: node.httpUrl, grpc: null, region: node.config.region,
      live: true, connections: node.registry.size, actors: node.actorCount,
    }],
  }
}
