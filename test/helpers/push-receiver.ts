/**
 * A push service and webhook receiver for tests: a real HTTP server on 127.0.0.1 (free port)
 * that records every request and answers as the test says, per path. It also holds the
 * receiving end of Web Push written independently of the `web-push` package: an RFC 8291
 * (`aes128gcm`) decryptor from node:crypto's ECDH, HKDF and AES-128-GCM, and an RFC 8292 VAPID
 * JWT check (ES256 over the P-256 public key); and the webhook signature check of PROTOCOL.md 4.1.
 */
import { createDecipheriv, createECDH, createHmac, createPublicKey, hkdfSync, randomBytes, timingSafeEqual, verify } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

interface Teardown { teardown(fn: () => unknown): void }

export interface Received {
  path: string
  headers: IncomingHttpHeaders
  body: Buffer
  at: number
  /** What the receiver answered. */
  status: number
}

/** How a path answers its n-th request (1 = first); the default is 201. */
export type Behaviour = (n: number) => { status: number; headers?: Record<string, string> }

export class PushReceiver {
  readonly received: Received[] = []
  private readonly behaviours = new Map<string, Behaviour>()
  private readonly counts = new Map<string, number>()
  private readonly sockets = new Set<Socket>()
  private constructor(private readonly server: Server) {}

  static async start(t: Teardown): Promise<PushReceiver> {
    let self: PushReceiver | null = null
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const path = req.url ?? '/'
        const n = (self!.counts.get(path) ?? 0) + 1
        self!.counts.set(path, n)
        const behaviour: Behaviour = self!.behaviours.get(path) ?? (() => ({ status: 201 }))
        const answer = behaviour(n)
        self!.received.push({ path, headers: req.headers, body: Buffer.concat(chunks), at: Date.now(), status: answer.status })
        res.writeHead(answer.status, answer.headers ?? {})
        res.end()
      })
    })
    self = new PushReceiver(server)
    server.on('connection', (s) => { self!.sockets.add(s); s.on('close', () => self!.sockets.delete(s)) })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => self!.close())
    return self
  }

  get url(): string { return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}` }

  /** Sets how `path` answers from now on. */
  on(path: string, behaviour: Behaviour): void {
    this.behaviours.set(path, behaviour)
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path)
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

/** A browser's side of a Web Push subscription: its P-256 key pair and auth secret. */
export class BrowserKeys {
  private readonly ecdh = createECDH('prime256v1')
  readonly auth = randomBytes(16)
  readonly publicKey: Buffer

  constructor() {
    this.publicKey = this.ecdh.generateKeys()
  }

  subscription(endpoint: string): { endpoint: string; keys: { p256dh: string; auth: string } } {
    return { endpoint, keys: { p256dh: this.publicKey.toString('base64url'), auth: this.auth.toString('base64url') } }
  }

  /** RFC 8291 section 3 and RFC 8188: the plaintext of an `aes128gcm` body sent to this browser. */
  decrypt(body: Buffer): Buffer {
    const salt = body.subarray(0, 16)
    const rs = body.readUInt32BE(16)
    const idLen = body[20]!
    const senderPublic = body.subarray(21, 21 + idLen)
    const records = body.subarray(21 + idLen)
    if (idLen !== 65) throw new Error(`keyid is ${idLen} bytes, not a P-256 public key`)
    if (records.length > rs) throw new Error('more than one record; a notification fits in one')
    const ecdhSecret = this.ecdh.computeSecret(senderPublic)
    const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), this.publicKey, senderPublic])
    const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, this.auth, keyInfo, 32))
    const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16))
    const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12))
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce)
    decipher.setAuthTag(records.subarray(records.length - 16))
    const padded = Buffer.concat([decipher.update(records.subarray(0, records.length - 16)), decipher.final()])
    // The last record ends with the delimiter 0x02, then zero padding.
    let end = padded.length - 1
    while (end >= 0 && padded[end] === 0) end--
    if (padded[end] !== 2) throw new Error('last record has no 0x02 delimiter')
    return padded.subarray(0, end)
  }
}

export interface VapidClaims { aud: string; exp: number; sub: string }

/**
 * RFC 8292: `Authorization: vapid t=<JWT>, k=<public key>`, the JWT signed ES256 by the key `k`.
 * Returns the claims; throws when the header is malformed, `k` is not `publicKey`, or the signature fails.
 */
export function verifyVapid(authorization: string | undefined, publicKey: string): VapidClaims {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? '')
  if (!m) throw new Error(`not a vapid Authorization header: ${authorization}`)
  const [, jwt, k] = m as unknown as [string, string, string]
  if (k !== publicKey) throw new Error('k is not the cluster VAPID public key')
  const [h, p, s] = jwt.split('.') as [string, string, string]
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg: string; typ: string }
  if (header.alg !== 'ES256') throw new Error(`alg ${header.alg}`)
  const raw = Buffer.from(k, 'base64url')
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33, 65).toString('base64url') }, format: 'jwk' })
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'))
  if (!ok) throw new Error('VAPID JWT signature does not verify')
  return JSON.parse(Buffer.from(p, 'base64url').toString()) as VapidClaims
}

/** PROTOCOL.md 4.1: `x-chat-signature: t=<unix ms>,v1=<hex HMAC-SHA256(secret, t + "." + raw body)>`. */
export function verifyWebhookSignature(header: string | string[] | undefined, secret: string, rawBody: Buffer): { t: number } {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(header ?? ''))
  if (!m) throw new Error(`malformed x-chat-signature: ${header}`)
  const expected = createHmac('sha256', secret).update(`${m[1]}.`).update(rawBody).digest()
  if (!timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'))) throw new Error('x-chat-signature does not verify')
  return { t: Number(m[1]) }
}
