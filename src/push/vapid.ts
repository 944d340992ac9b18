/**
 * The cluster's VAPID key pair (RFC 8292): browsers bind each subscription to the public key, so
 * every node must sign with the same pair, for as long as subscriptions live.
 *
 * Where the pair comes from, first match wins:
 * 1. `--vapid-public-key` and `--vapid-private-key` (or `--vapid-keys-file`, JSON as written by
 *    `npx web-push generate-vapid-keys --json`);
 * 2. standalone: `vapid.json` in the data dir, generated on first start (mode 0600);
 * 3. cluster: the key `vapid` of the NATS KV bucket `<cluster>-push`. The first node to start
 *    generates a pair and stores it with compare-and-set (create fails if another node was
 *    first; then it reads theirs), so the cluster agrees on one pair with no operator step. The
 *    private key is stored encrypted (AES-256-GCM, key derived from the cluster secret), so read
 *    access to NATS alone does not give it away. docs/PUSH.md says why this over required flags.
 */
import { createCipheriv, createDecipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto'
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect } from '@nats-io/transport-node'
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import type { Logger } from 'pino'
import webpush from 'web-push'
import { type NatsCredentials, natsAuthOptions } from '../cluster/nats-auth.js'
import type { VapidKeys } from './send.js'

export interface VapidConfig extends NatsCredentials {
  vapidPublicKey: string | null
  vapidPrivateKey: string | null
  vapidKeysFile: string | null
  vapidSubject: string
  dataDir: string
  nats: string[]
  cluster: string
}

type KeyPair = Omit<VapidKeys, 'subject'>

const KV_KEY = 'vapid'

/** Holds the pair once known; in a cluster it may arrive after start if NATS was slow. */
export class VapidSource {
  private keys: VapidKeys | null = null
  private stopped = false

  private constructor(private readonly subject: string) {}

  current(): VapidKeys | null {
    return this.keys
  }

  stop(): void {
    this.stopped = true
  }

  /**
   * Resolves the pair. A cluster node does not wait for it: it loads in the background (a start
   * must not depend on one more NATS round trip), and until it is there `GET /v1/push/vapid`
   * answers 503 and Web Push requests wait in their retries.
   */
  static start(config: VapidConfig, secret: string, log: Logger): VapidSource {
    const source = new VapidSource(config.vapidSubject)
    const given = configuredPair(config)
    if (given) source.set(given)
    else if (config.nats.length === 0) source.set(standalonePair(config.dataDir))
    else void source.fromNats(config, secret, log)
    return source
  }

  private set(pair: KeyPair): void {
    checkPair(pair)
    this.keys = { ...pair, subject: this.subject }
  }

  private async fromNats(config: VapidConfig, secret: string, log: Logger): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        this.set(await sharedPair(config, secret))
        log.debug({}, 'cluster VAPID keys loaded')
        return
      } catch (err) {
        if (err instanceof VapidError) {
          log.error({ err: err.message }, 'the cluster VAPID keys cannot be used; Web Push is off')
          return
        }
        log.warn({ err: (err as Error).message, attempt }, 'loading the cluster VAPID keys failed; retrying')
        await sleep(Math.min(10_000, 500 * attempt), undefined, { ref: false })
      }
    }
  }
}

export class VapidError extends Error {
  override readonly name = 'VapidError'
}

function configuredPair(config: VapidConfig): KeyPair | null {
  if (config.vapidPublicKey && config.vapidPrivateKey) return { publicKey: config.vapidPublicKey, privateKey: config.vapidPrivateKey }
  if (!config.vapidKeysFile) return null
  let parsed: Partial<KeyPair>
  try {
    parsed = JSON.parse(readFileSync(config.vapidKeysFile, 'utf8')) as Partial<KeyPair>
  } catch (err) {
    throw new VapidError(`--vapid-keys-file ${config.vapidKeysFile}: ${(err as Error).message}`)
  }
  if (typeof parsed.publicKey !== 'string' || typeof parsed.privateKey !== 'string') {
    throw new VapidError(`--vapid-keys-file ${config.vapidKeysFile} must hold {"publicKey": ..., "privateKey": ...}`)
  }
  return { publicKey: parsed.publicKey, privateKey: parsed.privateKey }
}

/** The data dir's pair, made on first start; only this node's user may read it. */
function standalonePair(dataDir: string): KeyPair {
  const file = join(dataDir, 'vapid.json')
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as KeyPair
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new VapidError(`${file}: ${(err as Error).message}`)
  }
  const pair = webpush.generateVAPIDKeys()
  writeFileSync(file, JSON.stringify(pair) + '\n', { mode: 0o600, flag: 'wx' })
  chmodSync(file, 0o600)
  return pair
}

async function sharedPair(config: VapidConfig, secret: string): Promise<KeyPair> {
  const nc = await connect({ servers: config.nats, name: `${config.cluster}/vapid`, timeout: 5000, ...natsAuthOptions(config) })
  try {
    const kv = await new Kvm(nc).create(`${config.cluster}-push`, { history: 1 })
    for (let round = 0; round < 3; round++) {
      const entry = await kv.get(KV_KEY)
      if (entry && entry.operation === 'PUT') return open(entry.json<Sealed>(), secret)
      const pair = webpush.generateVAPIDKeys()
      try {
        await kv.create(KV_KEY, JSON.stringify(seal(pair, secret)))
        return pair
      } catch (err) {
        // Another node stored its pair first: use that one.
        if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence)) throw err
      }
    }
    throw new Error('the VAPID key changed under us repeatedly')
  } finally {
    await nc.close().catch(() => undefined)
  }
}

interface Sealed { publicKey: string; privateKey: { iv: string; data: string; tag: string } }

function keyFrom(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'chat-cluster', 'vapid private key', 32))
}

function seal(pair: KeyPair, secret: string): Sealed {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', keyFrom(secret), iv)
  cipher.setAAD(Buffer.from(pair.publicKey))
  const data = Buffer.concat([cipher.update(pair.privateKey, 'utf8'), cipher.final()])
  return { publicKey: pair.publicKey, privateKey: { iv: iv.toString('base64url'), data: data.toString('base64url'), tag: cipher.getAuthTag().toString('base64url') } }
}

function open(sealed: Sealed, secret: string): KeyPair {
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFrom(secret), Buffer.from(sealed.privateKey.iv, 'base64url'))
    decipher.setAAD(Buffer.from(sealed.publicKey))
    decipher.setAuthTag(Buffer.from(sealed.privateKey.tag, 'base64url'))
    const privateKey = Buffer.concat([decipher.update(Buffer.from(sealed.privateKey.data, 'base64url')), decipher.final()]).toString('utf8')
    return { publicKey: sealed.publicKey, privateKey }
  } catch {
    throw new VapidError('the VAPID key stored in NATS was sealed with another cluster secret (nodes must share --secret)')
  }
}

/** A usable pair: a P-256 public key (65 bytes), its 32-byte private key, and the two match. */
export function checkPair(pair: KeyPair): void {
  const pub = Buffer.from(pair.publicKey, 'base64url')
  const priv = Buffer.from(pair.privateKey, 'base64url')
  if (pub.length !== 65 || pub[0] !== 4) throw new VapidError('the VAPID public key must be 65 bytes (an uncompressed P-256 point), base64url')
  if (priv.length !== 32) throw new VapidError('the VAPID private key must be 32 bytes, base64url')
  const ecdh = createECDH('prime256v1')
  try {
    ecdh.setPrivateKey(priv)
  } catch {
    throw new VapidError('the VAPID private key is not a P-256 key')
  }
  if (!ecdh.getPublicKey().equals(pub)) throw new VapidError('the VAPID public key does not belong to the private key')
}
