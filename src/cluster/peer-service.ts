/**
 * What this node answers to its peers: actor calls for keys it owns (refusing, with the reason,
 * calls for keys it does not own or made under another ring version), pushes to its sockets, and
 * replication requests for its replicas.
 */
import type { Logger } from 'pino'
import type { ActorRequest, ActorRuntime } from '../actors/runtime.js'
import { asChatError } from '../errors.js'
import type { LocalSessions } from './local-sessions.js'
import { UnknownKindError, answerReplication } from './replication/handler.js'
import type { ReplicaStore } from './replication/replica.js'
import { PEER_KINDS } from './replication/types.js'
import { PLACEMENT_CODES } from './router.js'
import type { ActorCall, ActorMultiCall, PeerRequest, PushBatch, Reply, TransportHandlers } from './transport.js'
import type { ClusterView } from './view.js'

export class PeerService implements TransportHandlers {
  /** False until this node may answer as a replica (its own ring entry is current). */
  ready = false

  constructor(
    private readonly view: ClusterView,
    private readonly runtime: ActorRuntime,
    private readonly sessions: LocalSessions,
    private readonly replica: ReplicaStore,
    private readonly log: Logger,
  ) {}

  async call(req: ActorCall): Promise<Reply> {
    const refusal = await this.placement(req.key, req.ringVersion)
    if (refusal) return refusal
    return this.run(req.key, req.body as ActorRequest)
  }

  async callMany(req: ActorMultiCall): Promise<Reply[]> {
    return Promise.all(req.keys.map(async (key) => (await this.placement(key, req.ringVersion)) ?? this.run(key, req.body as ActorRequest)))
  }

  async push(batch: PushBatch): Promise<void> {
    for (const p of batch.pushes) this.sessions.push(p.sessions, p.frame)
    if (batch.resync) this.sessions.resync(batch.resync)
  }

  async peer(req: PeerRequest): Promise<Reply> {
    if (!this.ready) return refuse(PLACEMENT_CODES.notReady, 'node is starting', this.view.version)
    // A replication request made under an older ring is refused: its sender must re-take ownership.
    if (req.ringVersion < this.view.version) return refuse(PLACEMENT_CODES.ringMismatch, `ring version ${req.ringVersion} is older than ${this.view.version}`, this.view.version)
    if (req.ringVersion > this.view.version) await this.view.membership.refresh().catch(() => undefined)
    const body = req.body as never
    if (req.kind === PEER_KINDS.batch) {
      const { requests } = req.body as { requests: Array<{ kind: string; body: unknown }> }
      const replies = await Promise.all(requests.map((r) => this.replication(r.kind, r.body as never)))
      return { ok: true, body: replies }
    }
    return this.replication(req.kind, body)
  }

  private async replication(kind: string, body: never): Promise<Reply> {
    try {
      return { ok: true, body: await answerReplication(this.replica, kind, body) }
    } catch (err) {
      if (err instanceof UnknownKindError) return refuse('BAD_REQUEST', err.message, this.view.version)
      this.log.error({ err, kind }, 'replication request failed')
      return refuse('INTERNAL', (err as Error).message, this.view.version)
    }
  }

  private async placement(key: string, ringVersion: number): Promise<Reply | null> {
    if (!this.ready) return refuse(PLACEMENT_CODES.notReady, 'node is starting', this.view.version)
    if (ringVersion > this.view.version) await this.view.membership.refresh().catch(() => undefined)
    if (ringVersion !== this.view.version) return refuse(PLACEMENT_CODES.ringMismatch, `ring version ${ringVersion} differs from ${this.view.version}`, this.view.version)
    const owner = this.view.owner(key)
    if (owner !== this.view.self) return { ok: false, error: { code: PLACEMENT_CODES.wrongOwner, message: `${this.view.self} does not own ${key}`, ringVersion: this.view.version, ...(owner ? { owner } : {}) } }
    return null
  }

  private async run(key: string, req: ActorRequest): Promise<Reply> {
    try {
      return { ok: true, body: await this.runtime.call(key, req) }
    } catch (err) {
      const e = asChatError(err)
      return { ok: false, error: { code: e.code, message: e.message } }
    }
  }
}

function refuse(code: string, message: string, ringVersion: number): Reply {
  return { ok: false, error: { code, message, ringVersion } }
}
