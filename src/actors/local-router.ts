/** Routes every actor call into this process's runtime: the standalone node's router. */
import { asChatError } from '../errors.js'
import type { Router, Settled } from './env.js'
import type { ActorRequest, ActorRuntime } from './runtime.js'

export class LocalRouter implements Router {
  constructor(private readonly runtime: ActorRuntime) {}

  call(key: string, req: ActorRequest): Promise<unknown> {
    return this.runtime.call(key, req)
  }

  callMany(keys: string[], req: ActorRequest): Promise<Array<Settled<unknown>>> {
    return settleAll(keys.map((key) => this.runtime.call(key, req)))
  }
}

export function settleAll(calls: Array<Promise<unknown>>): Promise<Array<Settled<unknown>>> {
  return Promise.all(calls.map((p) => p.then(
    (value): Settled<unknown> => ({ ok: true, value }),
    (err): Settled<unknown> => ({ ok: false, error: asChatError(err) }),
  )))
}
