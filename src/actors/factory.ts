/** Builds the actor for a key: `user:<name>` or `channel:<id>`. */
import { errors } from '../errors.js'
import type { ActorStorage } from '../storage/actor-store.js'
import { ChannelActor } from './channel.js'
import type { ActorEnv } from './env.js'
import type { Actor, ActorFactory } from './runtime.js'
import { UserActor } from './user.js'

export function actorFactory(storage: ActorStorage, env: ActorEnv): ActorFactory {
  return async (key: string): Promise<Actor> => {
    const store = await storage.open(key)
    if (key.startsWith('user:')) return new UserActor(key.slice(5), store, env) as Actor
    if (key.startsWith('channel:')) return new ChannelActor(key.slice(8), store, env) as Actor
    throw errors.badRequest(`no actor kind for key ${key}`)
  }
}
