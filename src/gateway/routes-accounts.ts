/** Signup, login, logout and the caller's own profile (PROTOCOL.md sections 2 and 4.2). */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { checkDisplayName } from '../actors/ids.js'
import { errors } from '../errors.js'
import { LIMITS } from '../protocol/frames.js'
import type { GatewayDeps } from './deps.js'
import { authenticate } from './http.js'

const displayName = { type: 'string', minLength: 1, maxLength: 64 } as const
const deviceId = { type: 'string', pattern: LIMITS.deviceIdPattern.source } as const

export function accountRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  const auth = authenticate(deps)

  /** Sign-ups and logins from one client address are limited; the allow list is exempt. */
  const perAddress = async (request: FastifyRequest): Promise<void> => {
    if (deps.addressLimits.take(request.ip)) return
    deps.metrics.bounds.inc({ bound: 'address_limit' })
    throw errors.rateLimited('too many sign-ups or logins from your address; retry later', deps.addressLimits.retryAfterSec())
  }

  app.post<{ Body: { username: string; password: string; displayName?: string; deviceId?: string } }>('/v1/users', {
    onRequest: perAddress,
    schema: {
      body: {
        type: 'object',
        required: ['username', 'password'],
        properties: {
          username: { type: 'string', pattern: LIMITS.usernamePattern.source },
          password: { type: 'string', minLength: 8, maxLength: 256 },
          displayName,
          deviceId,
        },
      },
    },
  }, async (request, reply) => {
    const { username, password, displayName: name, deviceId } = request.body
    if (name !== undefined) checkDisplayName(name)
    // The new account is logged in too: {user} as the contract says, and a session as a login's.
    return reply.code(201).send(await deps.service.signup(username, password, name, deviceId))
  })

  app.post<{ Body: { username: string; password: string; deviceId?: string } }>('/v1/sessions', {
    onRequest: perAddress,
    schema: {
      body: {
        type: 'object',
        required: ['username', 'password'],
        properties: {
          username: { type: 'string', maxLength: 64 },
          password: { type: 'string', maxLength: 256 },
          deviceId,
        },
      },
    },
  }, async (request) => {
    const { username, password, deviceId } = request.body
    try {
      return await deps.service.login(username, password, deviceId)
    } catch (err) {
      if ((err as { code?: string }).code === 'RATE_LIMITED') deps.metrics.bounds.inc({ bound: 'login_throttle' })
      throw err
    }
  })

  // Logout: this token, or every token of the user; their sockets close with 4401.
  app.delete('/v1/sessions/current', { preHandler: auth }, async (request, reply) => {
    await deps.service.logout(request.auth!)
    return reply.code(204).send()
  })

  app.delete('/v1/sessions', { preHandler: auth }, async (request, reply) => {
    await deps.service.logoutEverywhere(request.auth!.user)
    return reply.code(204).send()
  })

  app.get('/v1/me', { preHandler: auth }, async (request) => ({ user: await deps.service.me(request.auth!.user) }))

  app.patch<{ Body: { displayName: string } }>('/v1/me', {
    preHandler: auth,
    schema: { body: { type: 'object', required: ['displayName'], properties: { displayName } } },
  }, async (request) => ({ user: await deps.service.updateMe(request.auth!.user, checkDisplayName(request.body.displayName)) }))
}
