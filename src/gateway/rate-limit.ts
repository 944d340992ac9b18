/** A token bucket: `ratePerSec` tokens a second, holding at most `burst`. No timers. */
export class TokenBucket {
  private tokens: number
  private at: number

  constructor(private readonly ratePerSec: number, private readonly burst: number, private readonly now: () => number = Date.now) {
    this.tokens = burst
    this.at = now()
  }

  take(): boolean {
    const t = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.at) * this.ratePerSec) / 1000)
    this.at = t
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}
