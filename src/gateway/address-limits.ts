/**
 * Sign-ups and logins per client address (PROTOCOL.md 4.2): a token bucket per address, refilled
 * at `perMinute` and holding `burst`. Addresses on the allow list (by default the loopback range,
 * so local tests and benchmarks are never throttled) are exempt. At most MAX_TRACKED addresses are
 * remembered; past that the least recently seen are forgotten, so a spray of addresses costs a
 * bounded amount of memory (a forgotten address starts again with a full bucket).
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net'
import { TokenBucket } from './rate-limit.js'

const MAX_TRACKED = 100_000

export class AddressLimits {
  private readonly allow = new BlockList()
  private readonly buckets = new Map<string, TokenBucket>()

  constructor(private readonly perMinute: number, private readonly burst: number, allow: readonly string[], private readonly now: () => number = Date.now) {
    for (const entry of allow) {
      const [address, bits] = entry.split('/') as [string, string | undefined]
      const type = isIPv6(address) ? 'ipv6' : 'ipv4'
      if (bits === undefined) this.allow.addAddress(address, type)
      else this.allow.addSubnet(address, Number(bits), type)
    }
  }

  /** Takes one attempt for `address`; false when it must be refused. */
  take(address: string): boolean {
    const ip = plain(address)
    if (this.allowed(ip)) return true
    let bucket = this.buckets.get(ip)
    if (bucket) this.buckets.delete(ip)
    else bucket = new TokenBucket(this.perMinute / 60, this.burst, this.now)
    // Re-inserted last: the Map's order is least recently seen first.
    this.buckets.set(ip, bucket)
    if (this.buckets.size > MAX_TRACKED) this.buckets.delete(this.buckets.keys().next().value!)
    return bucket.take()
  }

  /** Seconds until the next attempt from `address` would pass (at least 1). */
  retryAfterSec(): number {
    return Math.max(1, Math.ceil(60 / this.perMinute))
  }

  private allowed(ip: string): boolean {
    if (isIPv4(ip)) return this.allow.check(ip, 'ipv4')
    if (isIPv6(ip)) return this.allow.check(ip, 'ipv6')
    return false
  }
}

/** `::ffff:127.0.0.1` (an IPv4 client on a dual-stack socket) is `127.0.0.1`. */
function plain(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return m ? m[1]! : address
}
