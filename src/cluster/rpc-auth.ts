/**
 * Node-to-node request signatures: every gRPC call carries an HMAC-SHA256, under a key derived
 * from the cluster secret, over the method, the sender, a timestamp, a nonce and the request's
 * bytes. The receiving node checks it before it decodes the request, so a process without the
 * secret can make a node do nothing at all (it is answered UNAUTHENTICATED).
 *
 * Replays: a request is accepted only within CLOCK_WINDOW_MS of its timestamp (clocks of nodes
 * may differ that much), and each nonce once. A nonce is `<boot>:<counter>`: the sender draws a
 * random boot id when it starts and counts its requests; the receiver remembers, per sender boot,
 * the counters it saw among the newest NONCE_WINDOW, and refuses older ones. A boot not heard from
 * for two clock windows is forgotten: any request of it is too old by then anyway.
 *
 * This authenticates requests, not replies, and encrypts nothing: on a network others can read
 * or alter, use mutual TLS (`--tls-ca`, `--tls-cert`, `--tls-key`) as well (docs/SECURITY.md).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

export const CLOCK_WINDOW_MS = 30_000
const NONCE_WINDOW = 65_536

export const AUTH_HEADERS = { from: 'x-chat-from', ts: 'x-chat-ts', nonce: 'x-chat-nonce', sig: 'x-chat-sig' } as const

export interface SignedHeaders { from: string; ts: string; nonce: string; sig: string }

export type Verdict = { ok: true } | { ok: false; reason: string }

/** The request key: derived, so that the token-signing use of the secret and this one never mix. */
export function rpcKey(secret: string): Buffer {
  return createHmac('sha256', secret).update('chat-cluster grpc request signature v1').digest()
}

function mac(key: Buffer, method: string, h: Omit<SignedHeaders, 'sig'>, body: Uint8Array): string {
  return createHmac('sha256', key).update(`${method}\n${h.from}\n${h.ts}\n${h.nonce}\n`).update(body).digest('base64url')
}

/** Signs this node's outgoing requests. */
export class RequestSigner {
  private readonly boot = randomBytes(8).toString('hex')
  private counter = 0

  constructor(private readonly key: Buffer, private readonly self: string, private readonly now: () => number = Date.now) {}

  sign(method: string, body: Uint8Array): SignedHeaders {
    const h = { from: this.self, ts: String(this.now()), nonce: `${this.boot}:${++this.counter}` }
    return { ...h, sig: mac(this.key, method, h, body) }
  }
}

interface BootState { max: number; seen: Set<number>; lastAt: number }

/** Checks incoming requests: signature, time window, nonce never seen. */
export class RequestVerifier {
  private readonly boots = new Map<string, BootState>()
  private lastPrune = 0

  constructor(private readonly key: Buffer, private readonly now: () => number = Date.now) {}

  verify(method: string, h: Partial<SignedHeaders>, body: Uint8Array): Verdict {
    const { from, ts, nonce, sig } = h
    if (!from || !ts || !nonce || !sig) return { ok: false, reason: 'no cluster credentials' }
    const expected = Buffer.from(mac(this.key, method, { from, ts, nonce }, body))
    const given = Buffer.from(sig)
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'bad signature' }
    const at = Number(ts)
    const now = this.now()
    if (!Number.isSafeInteger(at) || Math.abs(now - at) > CLOCK_WINDOW_MS) return { ok: false, reason: 'timestamp outside the clock window' }
    const m = /^([0-9a-f]{16}):([1-9][0-9]{0,15})$/.exec(nonce)
    if (!m) return { ok: false, reason: 'malformed nonce' }
    return this.fresh(`${from}/${m[1]}`, Number(m[2]), now)
  }

  private fresh(boot: string, counter: number, now: number): Verdict {
    this.prune(now)
    let state = this.boots.get(boot)
    if (!state) this.boots.set(boot, (state = { max: 0, seen: new Set(), lastAt: now }))
    if (counter <= state.max - NONCE_WINDOW || state.seen.has(counter)) return { ok: false, reason: 'replayed request' }
    state.seen.add(counter)
    state.lastAt = now
    if (counter > state.max) state.max = counter
    if (state.seen.size > 2 * NONCE_WINDOW) {
      for (const c of state.seen) if (c <= state.max - NONCE_WINDOW) state.seen.delete(c)
    }
    return { ok: true }
  }

  private prune(now: number): void {
    if (now - this.lastPrune < CLOCK_WINDOW_MS) return
    this.lastPrune = now
    for (const [boot, state] of this.boots) if (state.lastAt < now - 2 * CLOCK_WINDOW_MS) this.boots.delete(boot)
  }
}
