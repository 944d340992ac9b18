/**
 * One delivery attempt of one notification, and what the answer means. Web Push requests are
 * encrypted (RFC 8291, `aes128gcm`) and signed (RFC 8292 VAPID) by the `web-push` package; this
 * module sends them itself with `fetch`, so both kinds share the timeout, the reading of
 * `Retry-After` and the classification. Never logs the body: the preview goes to the receiver only.
 */
import { createHash, createHmac } from 'node:crypto'
import webpush from 'web-push'
import { parseRetryAfter } from './backoff.js'
import type { NotificationBody, Subscription } from './types.js'

export interface VapidKeys { publicKey: string; privateKey: string; subject: string }

/** What an attempt came to. `retry` covers 408, 429, 5xx, timeouts and failed connections. */
export type Attempt =
  | { kind: 'delivered'; status: number }
  | { kind: 'gone'; status: number }
  | { kind: 'rejected'; status: number }
  | { kind: 'retry'; status?: number; retryAfterMs?: number; reason: string }

/** A receiver the notifier knows how to reach. */
export type Destination =
  | Subscription
  | { kind: 'operator'; url: string; secret: string | null }

export interface SendOptions {
  timeoutMs: number
  /** Web Push `TTL` header, seconds the push service keeps a message for an offline browser. */
  ttlSeconds: number
  vapid: VapidKeys | null
  now(): number
}

export async function attempt(dest: Destination, body: NotificationBody, options: SendOptions): Promise<Attempt> {
  const raw = JSON.stringify(body)
  let url: string
  let init: RequestInit
  if (dest.kind === 'webpush') {
    if (!options.vapid) return { kind: 'retry', reason: 'no VAPID keys yet' }
    const details = webpush.generateRequestDetails({ endpoint: dest.endpoint, keys: dest.keys }, raw, {
      vapidDetails: options.vapid,
      TTL: options.ttlSeconds,
      topic: topicOf(body.channel),
      urgency: 'high',
      contentEncoding: 'aes128gcm',
    })
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(details.headers)) if (k.toLowerCase() !== 'content-length') headers[k] = String(v)
    url = details.endpoint
    init = { method: details.method, headers, body: new Uint8Array(details.body as Buffer) }
  } else {
    const secret = dest.secret
    url = dest.url
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-chat-notification-id': body.id }
    // The operator's webhook may run without a secret (as the old flag did); subscriptions never do.
    if (secret !== null) headers['x-chat-signature'] = signature(secret, raw, options.now())
    init = { method: 'POST', headers, body: raw }
  }
  let res: Response
  try {
    res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(options.timeoutMs) })
  } catch (err) {
    return { kind: 'retry', reason: failureReason(err) }
  }
  // The answer's body is not needed; reading it frees the connection for the next request.
  await res.arrayBuffer().catch(() => undefined)
  return classify(res.status, res.headers.get('retry-after'), options.now())
}

export function classify(status: number, retryAfter: string | null, now: number): Attempt {
  if (status >= 200 && status < 300) return { kind: 'delivered', status }
  if (status === 404 || status === 410) return { kind: 'gone', status }
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(retryAfter, now)
    return { kind: 'retry', status, reason: `HTTP ${status}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }
  }
  return { kind: 'rejected', status }
}

/** `t=<unix ms>,v1=<hex HMAC-SHA256(secret, t + "." + raw body)>` (PROTOCOL.md 4.1). */
export function signature(secret: string, rawBody: string, t: number): string {
  const v1 = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest('hex')
  return `t=${t},v1=${v1}`
}

/**
 * RFC 8030 `Topic`: at most 32 characters of the URL-safe base64 alphabet, the same for every
 * notification of a channel, so a push service keeps only the newest one per conversation for a
 * browser that is offline. Channel ids have `:` and may be long, hence a hash.
 */
export function topicOf(channel: string): string {
  return createHash('sha256').update(channel).digest('base64url').slice(0, 32)
}

function failureReason(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string } }
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timeout'
  return e.cause?.code ?? e.name ?? 'network error'
}
