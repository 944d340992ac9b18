/** Signup, login and the caller's own profile (PROTOCOL.md section 2). */
import type { FastifyInstance } from 'fastify'
import type { GatewayDeps } from './deps.js'
import { authenticate } from './http.js'

const displayName = { type: 'string', minLength: 1, maxLength: 64 } as const

export function accountRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  const auth = authenticate(deps)

  app.post<{ Body: { username: string; password: string; displayName?: string } }>('/v1/users', {
    schema: {
      body: {
        type: 'object',
        required: ['username', 'password'],
        properties: {
          username: { type: 'string', pattern: '^[a-z0-9_]{3,32}$' },
          password: { type: 'string', minLength: 8, maxLength: 256 },
          displayName,
        },
      },
    },
  }, async (request, reply) => {
    const { username, password, displayName: name } = request.body
    const user = await deps.service.signup(username, password, name)
    return reply.code(201).send({ user })
  })

  app.post<{ Body: { username: string; password: string; deviceId?: string } }>('/v1/sessions', {
    schema: {
      body: {
        type: 'object',
        required: ['username', 'password'],
        properties: {
          username: { type: 'string', maxLength: 64 },
          password: { type: 'string', maxLength: 256 },
          deviceId: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' },
        },
      },
    },
  }, async (request) => {
    const { username, password, deviceId } = request.body
    return deps.service.login(username, password, deviceId)
  })

  app.get('/v1/me', { preHandler: auth }, async (request) => ({ user: await deps.service.me(request.auth!.user) }))

  app.patch<{ Body: { displayName: string } }>('/v1/me', {
    preHandler: auth,
    schema: { body: { type: 'object', required: ['displayName'], properties: { displayName } } },
  }, async (request) => ({ user: await deps.service.updateMe(request.auth!.user, request.body.displayName) }))
}
