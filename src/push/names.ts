/**
 * Display names for notifications: the sender's display name and the group's name, so a
 * notification can read "Alice in Team" rather than "alice in g:Xk3...". Looked up once per
 * notification when it is first sent, through the actors, and cached for a while; a lookup that
 * fails leaves the names out (the receiver falls back to the ids), never the notification.
 */
import type { Actors } from '../actors/env.js'
import type { NotificationBody } from './types.js'

const TTL_MS = 5 * 60_000
const MAX_ENTRIES = 10_000

export class Names {
  private readonly cache = new Map<string, { value: string; at: number }>()

  constructor(private readonly actors: Actors, private readonly now: () => number = Date.now) {}

  async enrich(body: NotificationBody): Promise<NotificationBody> {
    if (body.fromName !== undefined) return body
    const [fromName, channelName] = await Promise.all([
      this.lookup(`u:${body.from}`, async () => (await this.actors.user(body.from, { kind: 'profile' })).displayName),
      body.channel.startsWith('g:')
        ? this.lookup(`c:${body.channel}`, async () => (await this.actors.channel(body.channel, { kind: 'info' })).view.name)
        : Promise.resolve(null),
    ])
    return { ...body, ...(fromName !== null ? { fromName } : {}), ...(channelName !== null ? { channelName } : {}) }
  }

  private async lookup(key: string, load: () => Promise<string>): Promise<string | null> {
    const hit = this.cache.get(key)
    if (hit && this.now() - hit.at < TTL_MS) return hit.value
    let value: string
    try {
      value = await load()
    } catch {
      return null // not cached: the next notification asks again
    }
    if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!)
    this.cache.set(key, { value, at: this.now() })
    return value
  }
}
