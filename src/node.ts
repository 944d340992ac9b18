/**
 * The composition root of a node: its core (node-core.ts) and its HTTP gateway, with real parts by
 * default (LevelDB in the data dir, NATS membership and gRPC when `config.nats` is set, the system
 * clock, the operating system's randomness), and the order in which they start and stop. A node
 * without NATS is standalone: every actor is local and stored only here. With NATS it joins a
 * cluster: actors live on the node the ring picks and their data is replicated to a majority of
 * their replica set. Tests pass in-memory parts to run several nodes in one process.
 */
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { systemClock } from './clock.js'
import { NatsMembership } from './cluster/membership-nats.js'
import { natsAuthOptions } from './cluster/nats-auth.js'
import { MIN_PEER_PROTOCOL, PROTOCOL_VERSION } from './cluster/protocol-version.js'
import { GrpcTransport, type IncompatiblePeer } from './cluster/transport-grpc.js'
import { type Config, linkPortOf } from './config.js'
import { AddressLimits } from './gateway/address-limits.js'
import { PasswordHasher } from './gateway/hasher.js'
import { buildHttp } from './gateway/http.js'
import type { SessionRegistry } from './gateway/sessions.js'
import { createLogger, type Logger } from './log.js'
import { Metrics } from './metrics.js'
import { NodeCore, type NodeParts } from './node-core.js'
import { AdminSocket } from './ops/admin-socket.js'
import { nodeAdminOps } from './ops/node-admin.js'
import { CLOSE_CODES } from './protocol/frames.js'
import { startPush } from './push/node-push.js'
import { systemRandom } from './random.js'
import { dirBytes } from './storage/disk-usage.js'
import { LevelKv } from './storage/leveldb.js'
import { LoadShedder } from './gateway/load-shedder.js'
import { SendTurns } from './gateway/send-turns.js'
import { SOFTWARE_VERSION } from './version.js'

/** How long a leaving node spends handing its data to the new replicas. */
const HANDOFF_MS = 8000
/** A peer refused for its protocol version is logged at most this often. */
const INCOMPATIBLE_LOG_MS = 60_000

export class ChatNode {
  private leaving = false
  private closed = false
  /** The local admin socket (backup, compact, status); none when storage is not LevelDB. */
  private admin: AdminSocket | null = null

  private constructor(
    readonly core: NodeCore,
    readonly metrics: Metrics,
    private readonly hasher: PasswordHasher,
    private readonly shedder: LoadShedder,
    private readonly http: FastifyInstance,
    readonly httpUrl: string,
  ) {}

  /**
   * Builds, listens and joins. `parts` replace the real ones: a test passes in-memory membership,
   * transport and storage to run a cluster in one process.
   */
  static async start(config: Config, parts: Partial<NodeParts> = {}): Promise<ChatNode> {
    const log = parts.log ?? createLogger(config.logLevel, config.id)
    const clock = parts.clock ?? systemClock
    const kv = parts.kv ?? (await LevelKv.open(config.dataDir, { fsync: config.fsync, writeBufferBytes: config.writeBufferMb * 1024 * 1024 }))
    const shedder = new LoadShedder({ maxLagMs: config.maxLagMs, maxInFlight: config.maxInFlightWrites, clock })
    const turns = new SendTurns(config.sendConcurrency)
    const hasher = new PasswordHasher(config.hashConcurrency, config.hashQueue, () => metrics.bounds.inc({ bound: 'hash_queue' }))
    // Gauges are read at scrape time, once `core` below exists.
    const metrics: Metrics = new Metrics({
      actors: () => core.runtime.size,
      connections: () => core.sessions.size,
      hashWaiting: () => hasher.stats.waiting,
      load: () => ({ lagMs: shedder.lagMs, writesInFlight: shedder.admitted, sendsWaitingTurn: turns.waiting }),
      ring: () => {
        const view = core.cluster?.view
        if (!view) return { version: 0, members: 1, live: 1 }
        const members = view.members()
        return { version: view.version, members: members.length, live: members.filter((m) => view.isLive(m.id)).length }
      },
      replicationLag: () => core.cluster?.storage.lag() ?? new Map(),
      storageBytes: () => dirBytes(config.dataDir),
    }, { version: SOFTWARE_VERSION, protocol: PROTOCOL_VERSION, fsync: config.fsync })
    let core: NodeCore
    try {
      core = await NodeCore.create(config, {
        log, kv, clock, metrics,
        random: parts.random ?? systemRandom,
        hasher: parts.hasher ?? hasher,
        membership: parts.membership ?? ((self, own) => new NatsMembership({
          servers: config.nats, cluster: config.cluster, heartbeatMs: config.heartbeatMs, deadAfterMs: config.deadAfterMs, logger: log, self, ...own,
          auth: natsAuthOptions(config),
        })),
        // Standalone nodes have no peers (and, without --secret, nothing to sign calls with).
        transport: parts.transport ?? (config.nats.length > 0 ? grpcTransport(config, log, metrics, clock) : undefined),
        push: parts.push ?? ((node) => startPush({ config, secret: node.secret, actors: node.actors, metrics, log, clock, random: node.random })),
      })
    } catch (err) {
      await hasher.close().catch(() => undefined)
      await kv.close().catch(() => undefined)
      shedder.stop()
      throw err
    }
    let http: FastifyInstance | null = null
    try {
      let url = ''
      http = await buildHttp({
        config, service: core.service, actors: core.actors, tokens: core.tokens, registry: core.sessions, metrics, shedder, turns,
        addressLimits: new AddressLimits(config.authRatePerMin, config.authBurst, config.authAllow, () => core.clock.now()),
        topology: core.topology(() => url), log, healthy: () => core.serving, now: () => core.clock.now(), clock: core.clock, random: core.random,
        push: { vapidPublicKey: () => core.push.vapid?.current()?.publicKey ?? null, httpsOnly: config.pushHttpsOnly },
      })
      await http.listen({ host: config.host, port: config.port })
      const address = http.server.address()
      const port = typeof address === 'object' && address ? address.port : config.port
      const host = config.host.includes(':') ? `[${config.host}]` : config.host
      url = `${config.httpTlsCert ? 'https' : 'http'}://${host}:${port}`
      await core.start(url)
      const node = new ChatNode(core, metrics, hasher, shedder, http, url)
      if (kv instanceof LevelKv) {
        node.admin = await AdminSocket.listen(config.dataDir, nodeAdminOps({
          config, kv, cluster: () => core.cluster, serving: () => core.serving && !node.leaving,
        }), log)
      }
      // The ready line is part of the contract: printed whatever the log level.
      const transport = core.cluster?.transport
      const linkPort = transport instanceof GrpcTransport ? transport.servedLinkPort : 0
      log.child({}, { level: 'info' }).info({
        http: url, grpc: core.cluster?.grpcAddress ?? null, ...(linkPort > 0 ? { link: `${config.host}:${linkPort}` } : {}), nodeId: config.id, dataDir: config.dataDir,
        mode: core.cluster ? 'cluster' : 'standalone', ...(core.cluster ? { ringVersion: core.cluster.view.version, cluster: config.cluster } : {}),
      }, 'ready')
      return node
    } catch (err) {
      await http?.close().catch(() => undefined)
      await core.crash()
      await hasher.close().catch(() => undefined)
      shedder.stop()
      throw err
    }
  }

  get config(): Config {
    return this.core.config
  }

  get log(): Logger {
    return this.core.log
  }

  get registry(): SessionRegistry {
    return this.core.sessions
  }

  get actorCount(): number {
    return this.core.runtime.size
  }

  /**
   * Graceful stop: leave the ring (owners move elsewhere), close sockets with 1012, drain actors,
   * hand data over to the new replicas, close storage.
   */
  async stop(): Promise<void> {
    if (this.leaving) return
    this.leaving = true
    await this.core.leave()
    this.core.sessions.closeAll(CLOSE_CODES.SERVICE_RESTART, 'node restarting; reconnect')
    await this.closeHttp()
    await this.core.stop(HANDOFF_MS)
    await this.admin?.close().catch(() => undefined)
    await this.hasher.close()
    this.log.info({ nodeId: this.config.id }, 'stopped')
  }

  /**
   * A crash, as far as a process shared with other nodes allows (tests): sockets are cut without a
   * close frame, timers cancelled, peers no longer reach it, storage is closed as it is.
   */
  async crash(): Promise<void> {
    if (this.leaving) return
    this.leaving = true
    for (const client of this.http.websocketServer?.clients ?? []) client.terminate()
    this.http.server.closeAllConnections()
    await this.core.crash()
    await this.closeHttp()
    await this.admin?.close().catch(() => undefined)
    await this.hasher.close()
  }

  private async closeHttp(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.shedder.stop()
    await this.http.close()
  }
}

/**
 * gRPC between nodes: every call signed with the cluster secret; with certificates, the channel is
 * mutual TLS too. Refused calls are counted, and logged at most once every 10 s; so are calls
 * refused for the node protocol version (protocol-version.ts), once a minute per peer.
 */
function grpcTransport(config: Config, log: Logger, metrics: Metrics, clock: { now(): number }): GrpcTransport {
  let warnedAt = 0
  const incompatibleLogged = new Map<string, number>()
  const onIncompatible = (e: IncompatiblePeer): void => {
    metrics.incompatiblePeers.inc({ peer: e.peer })
    const now = clock.now()
    if (now - (incompatibleLogged.get(e.peer) ?? 0) < INCOMPATIBLE_LOG_MS) return
    incompatibleLogged.set(e.peer, now)
    const what = e.direction === 'incoming' ? 'refused a call from' : 'ignored the answer of'
    log.error({
      peer: e.peer, peerProtocol: e.peerVersion, peerMinProtocol: e.peerMin, protocol: PROTOCOL_VERSION, minProtocol: MIN_PEER_PROTOCOL,
    }, `${what} a node speaking an incompatible node protocol (${e.peerMin}..${e.peerVersion}; this node ${MIN_PEER_PROTOCOL}..${PROTOCOL_VERSION}); upgrade it as docs/OPERATIONS.md says`)
  }
  return new GrpcTransport({
    onIncompatible,
    link: config.peerLinks,
    linkPort: linkPortOf(config),
    // The port beside the gRPC one is a default: taken (several nodes on one host), any will do.
    linkPortFallback: config.linkPort === null,
    auth: { secret: config.secret!, self: config.id },
    ...(config.tlsCa && config.tlsCert && config.tlsKey
      ? { tls: { ca: readFileSync(config.tlsCa), cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } }
      : {}),
    onRefused: (reason) => {
      metrics.bounds.inc({ bound: 'grpc_unauthenticated' })
      if (clock.now() - warnedAt < 10_000) return
      warnedAt = clock.now()
      log.warn({ reason }, 'refused a node-to-node call without valid cluster credentials')
    },
  })
}
