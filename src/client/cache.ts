/**
 * The SDK's local cache of recent messages, per channel.
 */
import type { Message } from '../protocol/frames.js'

export const DEFAULT_CACHE_PER_CHANNEL = 200

/**
 * Keeps, for each channel, at most `perChannel` messages with the highest `seq`, ascending by
 * `seq`, one per `seq`. Older messages fall out first, so a page of old history inserted into a
 * full channel is not kept: callers that page backwards keep what they fetched themselves.
 */
export class MessageCache {
  private readonly channels = new Map<string, Message[]>()

  constructor(readonly perChannel: number = DEFAULT_CACHE_PER_CHANNEL) {
    if (!Number.isInteger(perChannel) || perChannel < 1) throw new RangeError('perChannel must be a positive integer')
  }

  /** Inserts one message; a message with a `seq` already cached is ignored. Returns whether it was kept. */
  add(message: Message): boolean {
    let list = this.channels.get(message.channel)
    if (list === undefined) {
      list = []
      this.channels.set(message.channel, list)
    }
    const at = lowerBound(list, message.seq)
    if (list[at]?.seq === message.seq) return false
    if (list.length >= this.perChannel && at === 0) return false
    list.splice(at, 0, message)
    if (list.length > this.perChannel) list.splice(0, list.length - this.perChannel)
    return true
  }

  /**
   * Replaces the cached message `seq` of `channel` with `change(message)`. Returns the message
   * now cached, or undefined when that message is not in the cache.
   */
  update(channel: string, seq: number, change: (message: Message) => Message): Message | undefined {
    const list = this.channels.get(channel)
    if (list === undefined) return undefined
    const at = lowerBound(list, seq)
    const current = list[at]
    if (current?.seq !== seq) return undefined
    const next = change(current)
    list[at] = next
    return next
  }

  addAll(messages: Iterable<Message>): void {
    for (const message of messages) this.add(message)
  }

  /** The cached messages of a channel, ascending by `seq` (a copy). */
  messages(channel: string): Message[] {
    return [...(this.channels.get(channel) ?? [])]
  }

  oldestSeq(channel: string): number | undefined {
    return this.channels.get(channel)?.[0]?.seq
  }

  newestSeq(channel: string): number | undefined {
    const list = this.channels.get(channel)
    return list?.[list.length - 1]?.seq
  }

  channelIds(): string[] {
    return [...this.channels.keys()]
  }

  clear(channel?: string): void {
    if (channel === undefined) this.channels.clear()
    else this.channels.delete(channel)
  }
}

/** Index of the first message whose seq is >= `seq`. */
function lowerBound(list: readonly Message[], seq: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((list[mid] as Message).seq < seq) lo = mid + 1
    else hi = mid
  }
  return lo
}
