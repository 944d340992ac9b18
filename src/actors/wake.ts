/**
 * Wakes the actors this node's storage flags as having unfinished background work (a channel
 * whose fan-out a crash interrupted). Run after a start and, in a cluster, after a node died: the
 * router takes each wake to the key's current owner, whose activation finishes the work.
 */
import type { Logger } from 'pino'
import { WAKE_INDEX_RANGE } from '../storage/keys.js'
import type { Kv } from '../storage/kv.js'
import type { Router } from './env.js'

const PAGE = 500
const PARALLEL = 8

export async function wakePending(kv: Kv, router: Router, log: Logger): Promise<number> {
  let woken = 0
  let after: string = WAKE_INDEX_RANGE.gt
  for (;;) {
    const page = await kv.range<number>({ gt: after, lt: WAKE_INDEX_RANGE.lt, limit: PAGE })
    if (page.length === 0) break
    after = page[page.length - 1]![0]
    const keys = page.map(([k]) => k.slice(2))
    for (let i = 0; i < keys.length; i += PARALLEL) {
      await Promise.all(keys.slice(i, i + PARALLEL).map((key) => router.call(key, { kind: 'wake' }).then(
        () => { woken++ },
        (err) => log.debug({ err, key }, 'wake failed; the next pass retries'),
      )))
    }
  }
  if (woken > 0) log.info({ woken }, 'woke actors with unfinished work')
  return woken
}
