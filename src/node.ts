/**
 * The composition root: wires storage, actors, routing and the gateway of one node, and owns the
 * order in which they start and stop. A node without NATS is standalone: every actor is local.
 */
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { Actors, type ActorEnv, type Notifier, type Pusher } from './actors/env.js'
import { actorFactory } from './actors/factory.js'
import { LocalRouter } from './actors/local-router.js'
import { ActorRuntime } from './actors/runtime.js'
import type { Config } from './config.js'
import { ChatService } from './gateway/chat-service.js'
import type { Topology } from './gateway/deps.js'
import { buildHttp } from './gateway/http.js'
import { SessionRegistry } from './gateway/sessions.js'
import { Tokens } from './gateway/tokens.js'
import { Metrics } from './metrics.js'
import { LogNotifier, WebhookNotifier } from './notifier.js'
import { LocalActorStorage } from './storage/actor-store.js'
import { nodeKey } from './storage/keys.js'
import type { Kv } from './storage/kv.js'
import { LevelKv } from './storage/leveldb.js'
import { CLOSE_CODES } from './protocol/frames.js'

export class ChatNode {
  private leaving = false
  private http: FastifyInstance | null = null
  httpUrl = ''

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    private readonly kv: Kv,
    readonly runtime: ActorRuntime,
    readonly registry: SessionRegistry,
    readonly metrics: Metrics,
  ) {}

  static async start(config: Config, log: Logger): Promise<ChatNode> {
    const kv = await LevelKv.open(config.dataDir)
    try {
      return await ChatNode.compose(config, log, kv)
    } catch (err) {
      await kv.close().catch(() => {})
      throw err
    }
  }

  private static async compose(config: Config, log: Logger, kv: Kv): Promise<ChatNode> {
    const secret = config.secret ?? (await standaloneSecret(kv))
    const registry = new SessionRegistry(config.presenceTimeoutMs)
    let runtime: ActorRuntime | null = null
    const metrics = new Metrics({ actors: () => runtime?.size ?? 0, connections: () => registry.size })
    const env: ActorEnv = {
      actors: undefined as unknown as Actors,
      pusher: localPusher(config.id, registry),
      notifier: notifier(config, log, metrics),
      config: { nodeId: config.id, maxGroupSize: config.maxGroupSize },
      log,
      now: Date.now,
    }
    runtime = new ActorRuntime({
      factory: actorFactory(new LocalActorStorage(kv), env),
      passivateAfterMs: config.passivateAfterMs,
      onError: (key, err) => log.error({ err, key }, 'actor handler failed'),
    })
    env.actors = new Actors(new LocalRouter(runtime))
    const node = new ChatNode(config, log, kv, runtime, registry, metrics)
    await node.listen(env.actors, new Tokens(secret, config.tokenTtlMs), standaloneTopology(node))
    return node
  }

  private async listen(actors: Actors, tokens: Tokens, topology: Topology): Promise<void> {
    const { config } = this
    this.http = await buildHttp({
      config,
      service: new ChatService(actors, tokens, config.maxGroupSize),
      actors,
      tokens,
      registry: this.registry,
      metrics: this.metrics,
      topology,
      log: this.log,
      healthy: () => !this.leaving,
      now: Date.now,
    })
    await this.http.listen({ host: config.host, port: config.port })
    const address = this.http.server.address()
    const port = typeof address === 'object' && address ? address.port : config.port
    this.httpUrl = `http://${config.host}:${port}`
    this.log.info({ http: this.httpUrl, grpc: null, nodeId: config.id, dataDir: config.dataDir, mode: 'standalone' }, 'ready')
  }

  /** Graceful stop: refuse new work, close sockets with 1012, drain actors, close storage. */
  async stop(): Promise<void> {
    if (this.leaving) return
    this.leaving = true
    this.registry.closeAll(CLOSE_CODES.SERVICE_RESTART, 'node restarting; reconnect')
    await this.http?.close()
    await this.runtime.stop()
    await this.kv.close()
    this.log.info({ nodeId: this.config.id }, 'stopped')
  }
}

async function standaloneSecret(kv: Kv): Promise<string> {
  const key = nodeKey('token-secret')
  const stored = await kv.get<string>(key)
  if (stored) return stored
  const secret = randomBytes(32).toString('base64url')
  await kv.batch([{ type: 'put', key, value: secret }])
  return secret
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

function notifier(config: Config, log: Logger, metrics: Metrics): Notifier {
  return config.pushWebhook ? new WebhookNotifier(config.pushWebhook, log, metrics) : new LogNotifier(log, metrics)
}

function standaloneTopology(node: ChatNode): Topology {
  return {
    ringVersion: () => 0,
    members: () => [{
      id: node.config.id, http: node.httpUrl, grpc: null, region: node.config.region,
      live: true, connections: node.registry.size, actors: node.runtime.size,
    }],
  }
}
