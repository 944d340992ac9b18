/**
 * Push for one node, put together: the VAPID keys, the dispatcher (the node's notifier) with its
 * metrics, and the policy user actors follow. The node's composition root calls `startPush` and
 * plugs the parts in; everything push does lives below src/push/.
 */
import type { Logger } from 'pino'
import type { Actors } from '../actors/env.js'
import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import type { Metrics } from '../metrics.js'
import type { Random } from '../random.js'
import { PushDispatcher } from './dispatcher.js'
import { PushMetrics } from './metrics.js'
import { Names } from './names.js'
import type { Notifier, PushPolicy, PushReplies } from './types.js'
import { VapidSource } from './vapid.js'

export interface Push {
  notifier: Notifier
  policy: PushPolicy
  vapid: VapidSource
  stop(): void
}

export interface PushParts {
  config: Config
  /** The cluster's token secret: the key that seals the shared VAPID key in NATS derives from it. */
  secret: string
  actors: Actors
  metrics: Metrics
  log: Logger
  /** The node's time and randomness (backoff jitter). */
  clock: Clock
  random: Random
}

export function startPush({ config, secret, actors, metrics, log, clock, random }: PushParts): Push {
  const vapid = VapidSource.start(config, secret, log)
  let dispatcher: PushDispatcher | null = null
  const pushMetrics = new PushMetrics(metrics.registry, () => dispatcher?.queued ?? 0, () => dispatcher?.inFlight ?? 0)
  if (config.pushWebhook && !config.pushWebhookSecret) log.warn({}, '--push-webhook without --push-webhook-secret: its requests are not signed')
  dispatcher = new PushDispatcher({
    concurrency: config.pushConcurrency,
    maxQueued: config.pushQueueMax,
    retry: { baseMs: config.pushRetryBaseMs, maxMs: config.pushRetryMaxMs },
    giveUpMs: config.pushGiveUpMs,
    timeoutMs: config.pushTimeoutMs,
    ttlSeconds: config.pushTtlS,
    vapid: () => vapid.current(),
    operator: config.pushWebhook ? { url: config.pushWebhook, secret: config.pushWebhookSecret } : null,
    report: (user, results) => actors.user(user, { kind: 'push', op: { kind: 'settled', results } }) as Promise<PushReplies['settled']>,
    names: new Names(actors, () => clock.now()),
    onSubmitted: (n) => metrics.notifications.inc(n),
    metrics: pushMetrics,
    log,
    now: () => clock.now(),
    random: () => random.next(),
    clock,
  })
  const notifier = dispatcher
  return {
    notifier,
    policy: { maxSubscriptions: 10, coalesceMs: config.pushCoalesceMs },
    vapid,
    stop() {
      vapid.stop()
      notifier.stop()
    },
  }
}
