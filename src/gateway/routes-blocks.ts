/**
 * Blocks (PROTOCOL.md 4.2): a user the caller blocks cannot send in their 1:1 channel, add the
 * caller to a group, befriend the caller or see the caller's presence. Each route answers the
 * caller's whole block list, sorted.
 */
import type { FastifyInstance } from 'fastify'
import type { GatewayDeps } from './deps.js'
import { authenticate } from './http.js'

const username = { type: 'string', maxLength: 64 } as const

export function blockRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  const auth = authenticate(deps)

  app.post<{ Body: { username: string } }>('/v1/blocks', {
    preHandler: auth,
    schema: { body: { type: 'object', required: ['username'], properties: { username } } },
  }, async (request) => ({ blocks: await deps.service.block(request.auth!.user, request.body.username) }))

  app.delete<{ Params: { username: string } }>('/v1/blocks/:username', {
    preHandler: auth,
    schema: { params: { type: 'object', required: ['username'], properties: { username } } },
  }, async (request) => ({ blocks: await deps.service.unblock(request.auth!.user, request.params.username) }))

  app.get('/v1/blocks', { preHandler: auth }, async (request) => ({ blocks: await deps.service.blocks(request.auth!.user) }))
}
