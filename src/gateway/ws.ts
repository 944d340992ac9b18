/**
 * `GET /ws`: the token (query `token` or Bearer header) is checked before the upgrade, so a bad
 * one is refused with HTTP 401. The session attaches its listeners synchronously in the handler.
 */
import type { FastifyInstance } from 'fastify'
import { errors } from '../errors.js'
import { LIMITS } from '../protocol/frames.js'
import { DeviceSession } from './device-session.js'
import type { GatewayDeps } from './deps.js'
import { bearer } from './http.js'

export function wsRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  app.get<{ Querystring: { token?: string; deviceId?: string } }>('/ws', {
    websocket: true,
    preValidation: async (request) => {
      const claims = deps.tokens.verify(request.query.token ?? bearer(request))
      if (!claims) throw errors.unauthorized()
      const deviceId = request.query.deviceId
      if (deviceId !== undefined && !LIMITS.deviceIdPattern.test(deviceId)) throw errors.badRequest('deviceId must be 1..64 chars of [A-Za-z0-9_.:-]')
      request.auth = claims
    },
  }, (socket, request) => {
    const claims = request.auth!
    const session = new DeviceSession(socket, claims.user, request.query.deviceId ?? claims.device, claims, {
      nodeId: deps.config.id,
      service: deps.service,
      actors: deps.actors,
      registry: deps.registry,
      metrics: deps.metrics,
      log: deps.log,
      rateLimitPerSec: deps.config.rateLimitPerSec,
      rateBurst: deps.config.rateBurst,
      maxQueuedBytes: deps.config.maxQueuedBytes,
      shedder: deps.shedder,
      turns: deps.turns,
      now: deps.now,
      clock: deps.clock,
      random: deps.random,
    })
    void session.start()
  })
}
