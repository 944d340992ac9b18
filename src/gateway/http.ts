/**
 * The fastify application: JSON errors in the contract's shape from one handler, bearer-token
 * auth, request metrics, and every route plugin. Bodies over 1 MiB are 413; a body or parameter
 * of the wrong type is 400, never 500.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import websocket from '@fastify/websocket'
import { ChatError, errors } from '../errors.js'
import { LIMITS } from '../protocol/frames.js'
import type { GatewayDeps } from './deps.js'
import { accountRoutes } from './routes-accounts.js'
import { channelRoutes } from './routes-channels.js'
import { opsRoutes } from './routes-ops.js'
import { pushRoutes } from './routes-push.js'
import { socialRoutes } from './routes-social.js'
import type { TokenClaims } from './tokens.js'
import { webAppRoutes } from './web-app.js'
import { wsRoutes } from './ws.js'

declare module 'fastify' {
  interface FastifyRequest { auth: TokenClaims | null }
}

const BODY_LIMIT = 1024 * 1024

export function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (typeof header !== 'string') return null
  const match = /^Bearer\s+(\S+)$/i.exec(header)
  return match ? match[1]! : null
}

/** A preHandler that admits only requests with a valid token. */
export function authenticate(deps: GatewayDeps) {
  return async (request: FastifyRequest): Promise<void> => {
    const claims = deps.tokens.verify(bearer(request))
    if (!claims) throw errors.unauthorized()
    request.auth = claims
  }
}

export function sendError(reply: FastifyReply, err: ChatError): FastifyReply {
  return reply.code(err.status).send({ error: err.toJSON() })
}

export async function buildHttp(deps: GatewayDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // Request logs are metrics' job; the log keeps one line per event that matters.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Wrong types must be refused, not coerced ("12" for 12 would hide client bugs).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    routerOptions: { maxParamLength: 256 },
    // Router-level refusals (a malformed URL, an over-long path parameter) answer in the
    // contract's error shape too, not fastify's own.
    frameworkErrors: (err, _request, reply) => {
      const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is longer than 256 characters' : 'malformed URL'
      sendError(reply, errors.badRequest(message))
    },
  })
  app.decorateRequest('auth', null)

  app.setErrorHandler((err: unknown, request, reply) => {
    if (err instanceof ChatError) return sendError(reply, err)
    const e = err as { validation?: unknown; code?: string; statusCode?: number; message?: string }
    if (e.validation) return sendError(reply, errors.badRequest(e.message ?? 'invalid request'))
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, new ChatError('PAYLOAD_TOO_LARGE', `request body over ${BODY_LIMIT} bytes`))
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return sendError(reply, errors.badRequest(e.message ?? 'bad request'))
    deps.log.error({ err, url: request.url }, 'request failed')
    return sendError(reply, errors.internal())
  })
  app.setNotFoundHandler((request, reply) => sendError(reply, errors.notFound(`no route ${request.method} ${request.url.split('?')[0]}`)))

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    deps.metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) })
    deps.metrics.httpSeconds.observe({ route }, reply.elapsedTime / 1000)
  })

  await app.register(websocket, { options: { maxPayload: LIMITS.maxFrameBytes } })
  await app.register(async (scope) => {
    accountRoutes(scope, deps)
    socialRoutes(scope, deps)
    channelRoutes(scope, deps)
    opsRoutes(scope, deps)
    pushRoutes(scope, deps)
    wsRoutes(scope, deps)
  })
  await webAppRoutes(app, deps.log)
  return app
}
