/** Friends and presence (PROTOCOL.md section 2). */
import type { FastifyInstance } from 'fastify'
import type { GatewayDeps } from './deps.js'
import { authenticate } from './http.js'

export function socialRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  const auth = authenticate(deps)

  app.post<{ Body: { username: string } }>('/v1/friends', {
    preHandler: auth,
    schema: { body: { type: 'object', required: ['username'], properties: { username: { type: 'string', maxLength: 64 } } } },
  }, async (request) => deps.service.addFriend(request.auth!.user, request.body.username))

  app.get('/v1/friends', { preHandler: auth }, async (request) => ({ friends: await deps.service.listFriends(request.auth!.user) }))

  app.get<{ Querystring: { users?: string } }>('/v1/presence', {
    preHandler: auth,
    schema: { querystring: { type: 'object', properties: { users: { type: 'string', maxLength: 40_000 } } } },
  }, async (request) => {
    const users = (request.query.users ?? '').split(',').map((u) => u.trim()).filter(Boolean)
    return { presence: await deps.service.presence(request.auth!.user, users) }
  })
}
