/**
 * Routes actor calls to the owner of their key: into this node's runtime when it owns the key,
 * over the transport otherwise. Every remote call carries the ring version; a peer that does not
 * own the key, or holds another ring version, says so, and the router retries against its
 * refreshed view a bounded number of times, then answers UNAVAILABLE.
 */
import type { Logger } from 'pino'
import type { Router, Settled } from '../actors/env.js'
import { settleAll } from '../actors/local-router.js'
import type { ActorRequest, ActorRuntime } from '../actors/runtime.js'
import { type Clock, sleep } from '../clock.js'
import { errors, fromWire } from '../errors.js'
import type { Random } from '../random.js'
import type { Transport, Reply, RemoteError } from './transport.js'
import type { ClusterView } from './view.js'

/** Codes a peer answers with when the caller's view of placement is off; the call is retried. */
export const PLACEMENT_CODES = { wrongOwner: 'WRONG_OWNER', ringMismatch: 'RING_MISMATCH', notReady: 'NOT_READY' } as const

const ATTEMPTS = 8
const CALL_DEADLINE_MS = 10_000

export class ClusterRouter implements Router {
  constructor(
    private readonly view: ClusterView,
    private readonly runtime: ActorRuntime,
    private readonly transport: Transport,
    private readonly log: Logger,
    /** Backoff between attempts, with jitter. */
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  async call(key: string, req: ActorRequest): Promise<unknown> {
    let lastProblem = 'no live replica'
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (attempt > 0) await sleep(this.clock, Math.min(1000, 25 * 2 ** attempt) * (0.5 + this.random.next() / 2))
      const owner = this.view.owner(key)
      if (!owner) {
        lastProblem = `no live replica of ${key}`
        continue
      }
      if (owner === this.view.self) return this.runtime.call(key, req)
      const address = this.view.address(owner)
      if (!address) {
        lastProblem = `no address for ${owner}`
        continue
      }
      let reply: Reply
      try {
        reply = await this.transport.peer(address).call({ key, kind: req.kind, body: req, ringVersion: this.view.version, from: this.view.self }, CALL_DEADLINE_MS)
      } catch (err) {
        // The owner may be dead and not yet declared so; liveness catches up within its timeout.
        lastProblem = `${owner} unreachable: ${(err as Error).message}`
        if ((err as { code?: string }).code === 'DEADLINE') break
        continue
      }
      if (reply.ok) return reply.body
      if (this.isPlacementError(reply.error)) {
        lastProblem = `${owner}: ${reply.error.message}`
        await this.catchUp(reply.error)
        continue
      }
      throw fromWire(reply.error)
    }
    this.log.debug({ key, kind: req.kind, problem: lastProblem }, 'actor call gave up')
    throw errors.unavailable(`actor ${key} is unavailable (${lastProblem}); retry later`)
  }

  /** Groups keys by owner: one request per destination node; misplaced keys are retried one by one. */
  async callMany(keys: string[], req: ActorRequest): Promise<Array<Settled<unknown>>> {
    const results: Array<Settled<unknown> | undefined> = new Array(keys.length)
    const byOwner = new Map<string, number[]>()
    keys.forEach((key, i) => {
      const owner = this.view.owner(key) ?? ''
      const list = byOwner.get(owner) ?? byOwner.set(owner, []).get(owner)!
      list.push(i)
    })
    await Promise.all([...byOwner].map(async ([owner, indexes]) => {
      const address = owner && owner !== this.view.self ? this.view.address(owner) : undefined
      if (owner === this.view.self || !address) {
        const settled = await settleAll(indexes.map((i) => this.call(keys[i]!, req)))
        indexes.forEach((i, j) => (results[i] = settled[j]))
        return
      }
      let replies: Reply[] | null = null
      try {
        replies = await this.transport.peer(address).callMany({ keys: indexes.map((i) => keys[i]!), kind: req.kind, body: req, ringVersion: this.view.version, from: this.view.self }, CALL_DEADLINE_MS)
      } catch {
        replies = null
      }
      const retry: number[] = []
      indexes.forEach((i, j) => {
        const r = replies?.[j]
        if (!r || (!r.ok && this.isPlacementError(r.error))) retry.push(i)
        else results[i] = r.ok ? { ok: true, value: r.body } : { ok: false, error: fromWire(r.error) }
      })
      if (retry.length > 0) {
        const settled = await settleAll(retry.map((i) => this.call(keys[i]!, req)))
        retry.forEach((i, j) => (results[i] = settled[j]))
      }
    }))
    return results.map((r) => r ?? { ok: false, error: errors.unavailable() })
  }

  private isPlacementError(e: RemoteError): boolean {
    return e.code === PLACEMENT_CODES.wrongOwner || e.code === PLACEMENT_CODES.ringMismatch || e.code === PLACEMENT_CODES.notReady
  }

  private async catchUp(e: RemoteError): Promise<void> {
    if (e.ringVersion !== undefined && e.ringVersion > this.view.version) {
      await this.view.membership.refresh().catch(() => undefined)
    }
  }
}
