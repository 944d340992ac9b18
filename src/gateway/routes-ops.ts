/** Health, metrics, cluster view and discovery (PROTOCOL.md section 2). */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { errors } from '../errors.js'
import type { GatewayDeps, MemberStatus } from './deps.js'
import { bearer, sendError } from './http.js'

/** The best node for a new client: live, in the asked region when any is, fewest connections. */
export function pickNode(members: MemberStatus[], region: string | undefined): MemberStatus | null {
  const live = members.filter((m) => m.live)
  const local = region ? live.filter((m) => m.region === region) : []
  const pool = local.length > 0 ? local : live
  let best: MemberStatus | null = null
  for (const m of pool) if (!best || m.connections < best.connections || (m.connections === best.connections && m.id < best.id)) best = m
  return best
}

const digest = (s: string) => createHash('sha256').update(s).digest()

/**
 * `/v1/internal/*` answers only with `Authorization: Bearer <admin token>`: 401 otherwise, and
 * 404 for everyone when the node has no admin token (the routes are off).
 */
function adminOnly(deps: GatewayDeps) {
  const expected = deps.config.adminToken === null ? null : digest(deps.config.adminToken)
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (expected === null) return sendError(reply, errors.notFound(`no route ${request.method} ${request.url.split('?')[0]!.slice(0, 40)}`))
    const given = bearer(request)
    // Compared as digests: equal lengths, so the comparison takes the same time whatever was sent.
    if (given === null || !timingSafeEqual(digest(given), expected)) return sendError(reply, errors.unauthorized('admin token required'))
    return undefined
  }
}

export function opsRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  app.get('/healthz', async (_request, reply) => {
    if (!deps.healthy()) return sendError(reply, errors.unavailable('node is leaving'))
    return { status: 'ok', nodeId: deps.config.id }
  })

  app.get('/metrics', async (_request, reply) => {
    const text = await deps.metrics.registry.metrics()
    return reply.type(deps.metrics.registry.contentType).send(text)
  })

  app.get('/v1/cluster', async () => ({
    self: deps.config.id,
    ringVersion: deps.topology.ringVersion(),
    members: deps.topology.members(),
  }))

  // Operators and the chaos checker compare replicas with this; it shows digests, never content.
  app.get<{ Querystring: { key: string } }>('/v1/internal/replica', {
    onRequest: adminOnly(deps),
    schema: { querystring: { type: 'object', required: ['key'], properties: { key: { type: 'string', maxLength: 300 } } } },
  }, async (request, reply) => {
    const report = deps.topology.replica ? await deps.topology.replica(request.query.key) : null
    if (!report) return sendError(reply, errors.notFound('no replica data here (standalone node)'))
    return report
  })

  app.get<{ Querystring: { region?: string } }>('/v1/discover', {
    schema: { querystring: { type: 'object', properties: { region: { type: 'string', maxLength: 64 } } } },
  }, async (request, reply) => {
    const best = pickNode(deps.topology.members(), request.query.region)
    if (!best) return sendError(reply, errors.unavailable('no live node'))
    return { url: `${best.http.replace(/^http/, 'ws')}/ws`, nodeId: best.id }
  })
}
