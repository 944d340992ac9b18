/**
 * Serves the browser app (web/, built into web/dist by `npm run build`) at `/`. Hashed files
 * under /assets never change and are cached for a year; everything else (index.html, sw.js, the
 * manifest, icons) is revalidated on every load, so a deploy reaches browsers at their next visit.
 * Every file goes out with a strict Content-Security-Policy: scripts, styles and connections only
 * from this origin, no inline script, no plugins, no framing.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'

/** web/dist beside this file's package (dist/gateway/web-app.js -> web/dist). */
export const WEB_ROOT = resolve(import.meta.dirname, '..', '..', 'web', 'dist')

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  // 'self' covers the same origin's ws: and wss: too.
  "connect-src 'self'",
  "worker-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const IMMUTABLE = 'public, max-age=31536000, immutable'

export async function webAppRoutes(app: FastifyInstance, log: Logger, root = WEB_ROOT): Promise<void> {
  if (!existsSync(resolve(root, 'index.html'))) {
    log.info({ root }, 'web app not built; serving the API only (npm run build builds it)')
    return
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    // One route per file found at start: API paths and unknown paths never reach the disk.
    wildcard: false,
    index: ['index.html'],
    cacheControl: false,
    setHeaders(reply, path) {
      reply.header('cache-control', path.includes(`${resolve(root, 'assets')}/`) ? IMMUTABLE : 'no-cache')
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
      reply.header('x-content-type-options', 'nosniff')
      reply.header('referrer-policy', 'no-referrer')
      if (path.endsWith('.webmanifest')) reply.header('content-type', 'application/manifest+json')
    },
  })
}
