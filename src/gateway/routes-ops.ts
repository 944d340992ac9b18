/** Health, metrics, cluster view and discovery (PROTOCOL.md section 2). */
import type { FastifyInstance } from 'fastify'
import { errors } from '../errors.js'
import type { GatewayDeps, MemberStatus } from './deps.js'
import { sendError } from './http.js'

/** The best node for a new client: live, in the asked region when any is, fewest connections. */
export function pickNode(members: MemberStatus[], region: string | undefined): MemberStatus | null {
  const live = members.filter((m) => m.live)
  const local = region ? live.filter((m) => m.region === region) : []
  const pool = local.length > 0 ? local : live
  let best: MemberStatus | null = null
  for (const m of pool) if (!best || m.connections < best.connections || (m.connections === best.connections && m.id < best.id)) best = m
  return best
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
