/**
 * One JSON log line per event (pino), tagged with the node id. Lines about a client's request also
 * carry its `user` and a request id (`req`, or fastify's `reqId` for HTTP). Message text, passwords,
 * tokens and secrets are never logged; should a field of that name reach a line anyway (an error
 * carrying a request), it is censored (test/ops/logs.test.ts).
 */
import { pino, type Logger } from 'pino'

const SECRET_FIELDS = ['text', 'password', 'passwordHash', 'token', 'secret', 'authorization', 'cookie']

export function createLogger(level: string, nodeId: string): Logger {
  return pino({
    level, base: { node: nodeId }, timestamp: pino.stdTimeFunctions.epochTime,
    redact: { paths: SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]), censor: '[redacted]' },
  })
}

export type { Logger }
