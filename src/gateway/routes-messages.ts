/**
 * Search (PROTOCOL.md 4.4) and, for HTTP clients such as bots, the message changes that the
 * WebSocket ops `edit`, `delete` and `react` make, with the same rules and errors.
 */
import type { FastifyInstance } from 'fastify'
import { errors } from '../errors.js'
import type { GatewayDeps } from './deps.js'
import { authenticate } from './http.js'
import { formatCursor, searchParams } from './search-params.js'

const message = {
  type: 'object',
  required: ['id', 'seq'],
  properties: { id: { type: 'string', maxLength: 200 }, seq: { type: 'string', pattern: '^[0-9]{1,15}$' } },
} as const
const reaction = {
  type: 'object',
  required: ['id', 'seq', 'emoji'],
  properties: { ...message.properties, emoji: { type: 'string', minLength: 1, maxLength: 64 } },
} as const

type MessageParams = { id: string; seq: string }

export function messageRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  const auth = authenticate(deps)

  app.get<{ Querystring: { q?: string; channel?: string; before?: string; limit?: string } }>('/v1/search', {
    preHandler: auth,
    schema: {
      querystring: {
        type: 'object',
        required: ['q'],
        properties: {
          q: { type: 'string', maxLength: 2000 },
          channel: { type: 'string', maxLength: 200 },
          before: { type: 'string', maxLength: 300 },
          limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' },
        },
      },
    },
  }, async (request) => {
    const { q, channel, before, limit } = request.query
    const params = searchParams({ q, channel, before, limit: limit === undefined ? undefined : Number(limit) })
    if ('problem' in params) throw errors.badRequest(params.problem)
    const page = await deps.service.search(request.auth!.user, params)
    return { messages: page.messages, more: page.more, next: page.next && formatCursor(page.next) }
  })

  app.patch<{ Params: MessageParams; Body: { text: string } }>('/v1/channels/:id/messages/:seq', {
    preHandler: auth,
    schema: { params: message, body: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } } },
  }, async (request, reply) => {
    await deps.service.edit(request.auth!.user, request.params.id, Number(request.params.seq), request.body.text)
    return reply.code(204).send()
  })

  app.delete<{ Params: MessageParams }>('/v1/channels/:id/messages/:seq', { preHandler: auth, schema: { params: message } }, async (request, reply) => {
    await deps.service.deleteMessage(request.auth!.user, request.params.id, Number(request.params.seq))
    return reply.code(204).send()
  })

  for (const [method, on] of [['PUT', true], ['DELETE', false]] as const) {
    app.route<{ Params: MessageParams & { emoji: string } }>({
      method,
      url: '/v1/channels/:id/messages/:seq/reactions/:emoji',
      preHandler: auth,
      schema: { params: reaction },
      handler: async (request, reply) => {
        const { id, seq, emoji } = request.params
        await deps.service.react(request.auth!.user, id, Number(seq), emoji, on)
        return reply.code(204).send()
      },
    })
  }
}
