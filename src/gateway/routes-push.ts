/**
 * Push subscriptions (PROTOCOL.md section 4.1). A subscription belongs to the user and the device
 * of the token that created it; the user actor keeps it (src/push/user-push.ts).
 */
import type { FastifyInstance } from 'fastify'
import { errors } from '../errors.js'
import { checkSubscription, MAX_URL_LENGTH, type SubscriptionBody } from '../push/validate.js'
import type { PushOp, PushReplies } from '../push/types.js'
import type { GatewayDeps } from './deps.js'
import { authenticate } from './http.js'

export function pushRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  const auth = authenticate(deps)
  const call = <K extends PushOp['kind']>(user: string, op: Extract<PushOp, { kind: K }>) =>
    deps.actors.user(user, { kind: 'push', op }) as Promise<PushReplies[K]>

  app.get('/v1/push/vapid', { preHandler: auth }, async () => {
    const publicKey = deps.push?.vapidPublicKey() ?? null
    if (!publicKey) throw errors.unavailable('Web Push keys are not loaded yet; retry later')
    return { publicKey }
  })

  app.post<{ Body: SubscriptionBody }>('/v1/push/subscriptions', {
    preHandler: auth,
    schema: {
      body: {
        type: 'object',
        required: ['kind'],
        properties: {
          kind: { type: 'string', enum: ['webpush', 'webhook'] },
          url: { type: 'string', maxLength: MAX_URL_LENGTH },
          subscription: {
            type: 'object',
            required: ['endpoint', 'keys'],
            properties: {
              endpoint: { type: 'string', maxLength: MAX_URL_LENGTH },
              keys: {
                type: 'object', required: ['p256dh', 'auth'],
                properties: { p256dh: { type: 'string', maxLength: 200 }, auth: { type: 'string', maxLength: 200 } },
              },
            },
          },
        },
      },
    },
  }, async (request, reply) => {
    const sub = checkSubscription(request.body, deps.push?.httpsOnly ?? false)
    const { user, device } = request.auth!
    const created = await call(user, { kind: 'subscribe', deviceId: device, sub })
    return reply.code(201).send(created)
  })

  app.get('/v1/push/subscriptions', { preHandler: auth }, async (request) => ({
    subscriptions: await call(request.auth!.user, { kind: 'list' }),
  }))

  app.delete<{ Params: { id: string } }>('/v1/push/subscriptions/:id', {
    preHandler: auth,
    schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } },
  }, async (request, reply) => {
    await call(request.auth!.user, { kind: 'unsubscribe', id: request.params.id })
    return reply.code(204).send()
  })
}
