/**
 * What an actor may use of the world around it. Actors never know whether another actor or a
 * device is local or remote: they call through `Actors` and push through `Pusher`, and the node
 * plugs in a local or a cluster implementation.
 */
import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
import type { Random } from '../random.js'
import { asChatError } from '../errors.js'
import type { ChannelReplies, ChannelRequest, DeviceRef, UserReplies, UserRequest } from './messages.js'
import { channelKey, userKey } from './messages.js'
import type { ActorRequest, Settled } from './runtime.js'
import type { Notifier, PushPolicy } from '../push/types.js'

export type { Settled } from './runtime.js'

/** Delivers a request to the actor that owns `key`, wherever it lives. */
export interface Router {
  call(key: string, req: ActorRequest): Promise<unknown>
  /** The same request to many keys; batched per destination node. One result per key, in order. */
  callMany(keys: string[], req: ActorRequest): Promise<Array<Settled<unknown>>>
}

/**
 * Not for the client (sessions consume it; a client that ever saw it ignores an unknown op): tells
 * a device's session that its user actor is going away (the ring moved, the node is leaving) and
 * that it must register again with the key's next owner.
 */
export const REREGISTER_FRAME = '{"op":"_reregister"}'

/**
 * Not for the client either: tells a session that its token was revoked; the session closes its
 * socket with 4401. Sent to the sessions of the revoked token (or all of the user's).
 */
export const REVOKED_FRAME = '{"op":"_revoked"}'

/** Sends pre-serialized frames to devices' sockets on whichever node holds them. Never blocks. */
export interface Pusher {
  push(devices: readonly DeviceRef[], frame: string): void
}

/** Sends push notifications for users with no live device (src/push/types.ts). Never blocks. */
export type { Notifier } from '../push/types.js'

type UserKind = UserRequest['kind']
type ChannelKind = ChannelRequest['kind']

/** Typed calls to user and channel actors over a Router. */
export class Actors {
  constructor(readonly router: Router) {}

  user<K extends UserKind>(username: string, req: Extract<UserRequest, { kind: K }>): Promise<UserReplies[K]> {
    return this.router.call(userKey(username), req) as Promise<UserReplies[K]>
  }

  channel<K extends ChannelKind>(id: string, req: Extract<ChannelRequest, { kind: K }>): Promise<ChannelReplies[K]> {
    return this.router.call(channelKey(id), req) as Promise<ChannelReplies[K]>
  }

  /** The same request to many channels; batched per destination node. One result per channel, in order. */
  async channels<K extends ChannelKind>(ids: string[], req: Extract<ChannelRequest, { kind: K }>): Promise<Array<Settled<ChannelReplies[K]>>> {
    try {
      return (await this.router.callMany(ids.map(channelKey), req)) as Array<Settled<ChannelReplies[K]>>
    } catch (err) {
      const error = asChatError(err)
      return ids.map(() => ({ ok: false, error }))
    }
  }

  async users<K extends UserKind>(usernames: string[], req: Extract<UserRequest, { kind: K }>): Promise<Array<Settled<UserReplies[K]>>> {
    try {
      return (await this.router.callMany(usernames.map(userKey), req)) as Array<Settled<UserReplies[K]>>
    } catch (err) {
      const error = asChatError(err)
      return usernames.map(() => ({ ok: false, error }))
    }
  }
}

export interface ActorConfig {
  nodeId: string
  maxGroupSize: number
  /** Push limits and coalescing window; DEFAULT_PUSH_POLICY when absent. */
  push?: PushPolicy
  /** Open sockets per user (PROTOCOL.md 4.2). */
  maxDevices: number
}

export interface ActorEnv {
  actors: Actors
  pusher: Pusher
  notifier: Notifier
  /**
   * Asks for `key` to be activated again soon, wherever it lives then: an actor deactivated with
   * background work unfinished (fenced, or handed over) calls it for itself. Never blocks.
   */
  wake(key: string): void
  config: ActorConfig
  log: Logger
  /** The time stamped on messages and events: the clock's `now`. */
  now(): number
  /** Timers of background work (fan-out retries). */
  clock: Clock
  /** Ids made by actors (notification ids). */
  random: Random
  /** A channel's fan-out queue reached its bound (its events wait in the log): for the metric. */
  onFanoutSpill?: () => void
}
