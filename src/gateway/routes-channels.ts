/** Groups, the caller's channels and message history (PROTOCOL.md section 2). */
import type { FastifyInstance } from 'fastify'
import { LIMITS } from '../protocol/frames.js'
import type { GatewayDeps } from './deps.js'
import { authenticate } from './http.js'

const username = { type: 'string', maxLength: 64 } as const
const id = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 200 } } } as const
const seq = { type: 'string', pattern: '^[0-9]{1,15}$' } as const

export function channelRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  const auth = authenticate(deps)

  app.post<{ Body: { name: string; members?: string[] } }>('/v1/groups', {
    preHandler: auth,
    schema: {
      body: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 200 },
          members: { type: 'array', items: username, maxItems: 10_000 },
        },
      },
    },
  }, async (request, reply) => {
    const channel = await deps.service.createGroup(request.auth!.user, request.body.name, request.body.members ?? [])
    return reply.code(201).send({ channel })
  })

  app.post<{ Params: { id: string }; Body: { username: string } }>('/v1/groups/:id/members', {
    preHandler: auth,
    schema: { params: id, body: { type: 'object', required: ['username'], properties: { username } } },
  }, async (request) => ({ channel: await deps.service.addMember(request.auth!.user, request.params.id, request.body.username) }))

  app.delete<{ Params: { id: string; username: string } }>('/v1/groups/:id/members/:username', {
    preHandler: auth,
    schema: { params: { type: 'object', required: ['id', 'username'], properties: { id: id.properties.id, username } } },
  }, async (request) => ({ channel: await deps.service.removeMember(request.auth!.user, request.params.id, request.params.username) }))

  app.get('/v1/channels', { preHandler: auth }, async (request) => ({ channels: await deps.service.listChannels(request.auth!.user) }))

  app.get<{ Params: { id: string }; Querystring: { before?: string; after?: string; limit?: string } }>('/v1/channels/:id/messages', {
    preHandler: auth,
    schema: {
      params: id,
      querystring: { type: 'object', properties: { before: seq, after: seq, limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' } } },
    },
  }, async (request) => {
    const q = request.query
    const window = {
      before: q.before === undefined ? undefined : Number(q.before),
      after: q.after === undefined ? undefined : Number(q.after),
      limit: Math.min(q.limit === undefined ? LIMITS.historyDefaultLimit : Number(q.limit), LIMITS.historyMaxLimit),
    }
    const page = await deps.service.history(request.auth!.user, request.params.id, window)
    if (!page.more) return { messages: page.messages }
    deps.metrics.bounds.inc({ bound: 'history_bytes' })
    return { messages: page.messages, more: true }
  })
}
