/**
 * The overload run: a cluster driven past saturation, and what a user would see. Many pipelining
 * senders (a large window each) keep far more sends outstanding than the cluster can commit, for
 * a fixed time; a send refused with UNAVAILABLE (admission control: nothing stored) is retried
 * with the same clientMsgId after a pause, as clients do. Meanwhile every node's /v1/cluster and
 * /metrics are polled (cluster-watch.mjs).
 *
 * Afterwards, once acks and pushes have settled (nothing pushed for 3 s), every socket of the run that is still open is
 * asked for its whole inbox since its `ready` (sync, on the same socket) and compared with the
 * events pushed to it: a live socket must have got every event of its inbox. A socket the cluster
 * closed (1013: reconnect and sync) is counted apart, since that is the contract's other outcome.
 */
import { pool, request } from './clients.mjs'
import { ClusterWatch } from './cluster-watch.mjs'
import { closePopulation, cpuOf, freshTag, openPairs } from './scenarios.mjs'
import { runMessaging, sleep } from './workload.mjs'

const SYNC_PAGE = 1000
const RECHECK_MS = 5000
const QUIET_MS = 3000
const QUIET_MAX_MS = 60_000

/** Waits (bounded) until no socket has been pushed anything for QUIET_MS: the backlog has drained. */
async function quiet(conns) {
  const pushed = () => conns.reduce((a, c) => a + c.pushed.size, 0)
  const deadline = performance.now() + QUIET_MAX_MS
  let last = pushed()
  let since = performance.now()
  while (performance.now() < deadline && performance.now() - since < QUIET_MS) {
    await sleep(250)
    const now = pushed()
    if (now !== last) {
      last = now
      since = performance.now()
    }
  }
}

/** The inboxSeqs of `conn`'s inbox after its ready, read by sync on the socket itself; null if it closed. */
async function inboxSince(conn) {
  const seqs = []
  let since = conn.readyInboxSeq
  for (let page = 0; page < 10_000; page++) {
    const r = await request(conn, { op: 'sync', since, limit: SYNC_PAGE }, 30_000)
    if (!r || r.op !== 'sync') return null
    for (const e of r.events) if (typeof e.inboxSeq === 'number') seqs.push(e.inboxSeq)
    since = r.next
    if (!r.more) return seqs
  }
  return null
}

/** Events of the inbox never pushed to the socket, for every socket still open. */
async function missingOnOpenSockets(conns) {
  const out = new Map() // conn -> missing inboxSeqs
  await pool(conns.filter((c) => c.closed === null), 16, async (conn) => {
    const inbox = await inboxSince(conn)
    if (inbox === null) return
    out.set(conn, inbox.filter((s) => !conn.pushed.has(s)))
  })
  return out
}

export async function overloadRun(target, users, opts, log) {
  const population = await openPairs(target, users, opts.overloadPairs, { device: 'overload', track: true })
  const watch = new ClusterWatch(target.nodes, 250).start()
  let result
  try {
    result = await runMessaging({
      channels: population.channels,
      window: opts.overloadWindow,
      perSender: Infinity,
      maxMs: opts.overloadSeconds * 1000,
      textBytes: opts.textBytes, textKind: opts.text,
      cpu: cpuOf(target),
      drainMs: Math.max(opts.drain, 15) * 1000,
      tag: freshTag('overload'),
      retryUnavailableMs: opts.overloadBackoffMs,
    })
  } finally {
    result = { ...result, watch: await watch.stop() }
  }
  log(`overload: ${result.acked} acked, ${result.refused} UNAVAILABLE; checking every open socket's inbox`)

  // Pushes still on their way get a second chance before they count as missing.
  await quiet(population.conns)
  const missing = await missingOnOpenSockets(population.conns)
  const suspects = [...missing].filter(([, m]) => m.length > 0).map(([c]) => c)
  if (suspects.length > 0) {
    await sleep(RECHECK_MS)
    const again = await missingOnOpenSockets(suspects)
    for (const c of suspects) missing.set(c, again.get(c) ?? [])
  }
  const closed = population.conns.filter((c) => c.closed !== null)
  const closeCodes = {}
  for (const c of closed) closeCodes[c.closed] = (closeCodes[c.closed] ?? 0) + 1
  const withMissing = [...missing].filter(([, m]) => m.length > 0)
  result.liveCheck = {
    sockets: population.conns.length,
    checked: missing.size,
    closed: closed.length,
    closeCodes,
    socketsMissingEvents: withMissing.length,
    missingEvents: withMissing.reduce((a, [, m]) => a + m.length, 0),
    examples: withMissing.slice(0, 5).map(([c, m]) => ({ user: c.user, missing: m.slice(0, 10) })),
  }
  await closePopulation(population)
  return result
}
