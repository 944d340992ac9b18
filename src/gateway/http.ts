/**
 * The fastify application: JSON errors in the contract's shape from one handler, bearer-token
 * auth, request metrics, timeouts, optional TLS, and every route plugin. Bodies over 1 MiB are
 * 413; a body or parameter of the wrong type is 400, never 500; no error answer carries the
 * client's input at length or any internal error text.
 */
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyHttpOptions, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import websocket from '@fastify/websocket'
import { ChatError, errors, publicError } from '../errors.js'
import { LIMITS } from '../protocol/frames.js'
import type { GatewayDeps } from './deps.js'
import { accountRoutes } from './routes-accounts.js'
import { blockRoutes } from './routes-blocks.js'
import { channelRoutes } from './routes-channels.js'
import { messageRoutes } from './routes-messages.js'
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

/**
 * A preHandler that admits only requests with a valid token: genuine and unexpired (checked
 * here), and not revoked (asked of the user actor, so a logout holds on every node at once).
 */
export function authenticate(deps: GatewayDeps) {
  return async (request: FastifyRequest): Promise<void> => {
    const claims = deps.tokens.verify(bearer(request))
    if (!claims) throw errors.unauthorized()
    await deps.service.checkToken(claims)
    request.auth = claims
  }
}

export function sendError(reply: FastifyReply, err: ChatError): FastifyReply {
  if (err.retryAfterSec !== undefined) reply.header('retry-after', String(err.retryAfterSec))
  return reply.code(err.status).send({ error: publicError(err) })
}

/** What fastify's own 4xx errors (body parsing, content type) tell the client: never their raw text. */
function clientError(e: { code?: string; statusCode?: number }): ChatError {
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return new ChatError('PAYLOAD_TOO_LARGE', `request body over ${BODY_LIMIT} bytes`)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return errors.badRequest('unsupported content type; send application/json')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY': return errors.badRequest('the body is empty; send a JSON object')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH': return errors.badRequest('content-length does not match the body')
    default: return errors.badRequest(e.statusCode === 400 && /JSON/i.test(e.code ?? '') ? 'the body is not valid JSON' : 'bad request')
  }
}

export async function buildHttp(deps: GatewayDeps): Promise<FastifyInstance> {
  const { config } = deps
  // Node checks these timeouts on a timer (30 s by default): check often enough to honour them.
  const server = {
    headersTimeout: config.httpHeadersTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(config.httpHeadersTimeoutMs / 2))),
  }
  const options: FastifyHttpOptions<Server> & { https?: object } = {
    loggerInstance: deps.log as FastifyBaseLogger,
    // Request logs are metrics' job; the log keeps one line per event that matters.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Slow or idle clients do not keep connections forever (a WebSocket, once upgraded, is no
    // longer an HTTP request and is not affected).
    requestTimeout: config.httpRequestTimeoutMs,
    keepAliveTimeout: config.httpKeepAliveTimeoutMs,
    http: server,
    ...(config.httpTlsCert && config.httpTlsKey
      ? { https: { ...server, cert: readFileSync(config.httpTlsCert), key: readFileSync(config.httpTlsKey) } }
      : {}),
    // Wrong types must be refused, not coerced ("12" for 12 would hide client bugs).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    routerOptions: { maxParamLength: 256 },
    // Router-level refusals (a malformed URL, an over-long path parameter) answer in the
    // contract's error shape too, not fastify's own.
    frameworkErrors: (err, _request, reply) => {
      const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is longer than 256 characters' : 'malformed URL'
      sendError(reply, errors.badRequest(message))
    },
  }
  // With `https` fastify builds an HTTPS server; the routes do not care which.
  const app = Fastify(options)
  app.server.headersTimeout = config.httpHeadersTimeoutMs
  app.decorateRequest('auth', null)

  app.setErrorHandler((err: unknown, request, reply) => {
    if (err instanceof ChatError) {
      if (err.code === 'INTERNAL') deps.log.error({ err, url: request.url.slice(0, 200) }, 'request failed')
      return sendError(reply, err)
    }
    const e = err as { validation?: unknown; code?: string; statusCode?: number; message?: string }
    // Schema messages name the field and the rule (`body/username must match pattern ...`), not the value.
    if (e.validation) return sendError(reply, errors.badRequest((e.message ?? 'invalid request').slice(0, 200)))
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return sendError(reply, clientError(e))
    deps.log.error({ err, url: request.url.slice(0, 200) }, 'request failed')
    return sendError(reply, errors.internal())
  })
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!
    sendError(reply, errors.notFound(`no route ${request.method} ${path.length > 40 ? `${path.slice(0, 40)}...` : path}`))
  })

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    deps.metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) })
    deps.metrics.httpSeconds.observe({ route }, reply.elapsedTime / 1000)
  })

  await app.register(websocket, {
    options: { maxPayload: LIMITS.maxFrameBytes },
    // Protocol errors of a socket (a frame over the limit, bad framing) are the client's doing:
    // `ws` closes the socket with the right code and the session logs one line; nothing here.
    errorHandler: (err: Error & { code?: string }, socket) => {
      if (err.code?.startsWith('WS_ERR_')) return
      deps.log.warn({ code: err.code, message: err.message.slice(0, 200) }, 'websocket failed')
      socket.terminate()
    },
  })
  await app.register(async (scope) => {
    accountRoutes(scope, deps)
    socialRoutes(scope, deps)
    blockRoutes(scope, deps)
    channelRoutes(scope, deps)
    messageRoutes(scope, deps)
    opsRoutes(scope, deps)
    pushRoutes(scope, deps)
    wsRoutes(scope, deps)
  })
  await webAppRoutes(app, deps.log)
  return app
}
