/**
 * Checks a subscription a client sends before anything is stored: URLs that a node could reach
 * (http or https, or https only when the operator says so), and Web Push keys that can encrypt
 * (a P-256 point on the curve, a 16-byte auth secret). Anything else is BAD_REQUEST.
 */
import { createECDH } from 'node:crypto'
import { errors } from '../errors.js'
import type { NewSubscription } from './types.js'

export const MAX_URL_LENGTH = 2048

export interface SubscriptionBody {
  kind: string
  subscription?: { endpoint?: unknown; keys?: { p256dh?: unknown; auth?: unknown } }
  url?: unknown
}

export function checkSubscription(body: SubscriptionBody, httpsOnly: boolean): NewSubscription {
  if (body.kind === 'webhook') return { kind: 'webhook', url: checkUrl(body.url, 'url', httpsOnly) }
  if (body.kind !== 'webpush') throw errors.badRequest('kind must be "webpush" or "webhook"')
  const s = body.subscription
  if (!s || typeof s !== 'object') throw errors.badRequest('a webpush subscription needs subscription: {endpoint, keys: {p256dh, auth}}')
  const endpoint = checkUrl(s.endpoint, 'subscription.endpoint', httpsOnly)
  const p256dh = decode(s.keys?.p256dh, 'subscription.keys.p256dh')
  const auth = decode(s.keys?.auth, 'subscription.keys.auth')
  if (p256dh.length !== 65 || p256dh[0] !== 4 || !onCurve(p256dh)) throw errors.badRequest('subscription.keys.p256dh must be an uncompressed P-256 public key (65 bytes, base64url)')
  if (auth.length !== 16) throw errors.badRequest('subscription.keys.auth must be 16 bytes, base64url')
  // Stored in the canonical form the encryption reads, whatever padding the client sent.
  return { kind: 'webpush', endpoint, keys: { p256dh: p256dh.toString('base64url'), auth: auth.toString('base64url') } }
}

function checkUrl(value: unknown, field: string, httpsOnly: boolean): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_URL_LENGTH) throw errors.badRequest(`${field} must be a URL of at most ${MAX_URL_LENGTH} characters`)
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw errors.badRequest(`${field} is not a URL`)
  }
  const allowed = httpsOnly ? ['https:'] : ['http:', 'https:']
  if (!allowed.includes(url.protocol)) throw errors.badRequest(`${field} must be ${httpsOnly ? 'an https' : 'an http or https'} URL`)
  return url.toString()
}

function decode(value: unknown, field: string): Buffer {
  // base64url as browsers send it; plain base64 and padding are accepted too.
  if (typeof value !== 'string' || value.length > 200 || !/^[A-Za-z0-9_+/-]+={0,2}$/.test(value)) throw errors.badRequest(`${field} must be base64url`)
  return Buffer.from(value.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''), 'base64url')
}

function onCurve(point: Buffer): boolean {
  try {
    const ecdh = createECDH('prime256v1')
    ecdh.setPrivateKey(Buffer.alloc(32, 1))
    ecdh.computeSecret(point)
    return true
  } catch {
    return false
  }
}
