/**
 * Watches a cluster while it is loaded: every `everyMs` each node's `/v1/cluster` (did any node
 * see a member not live, did the ring version change: membership flapping) and `/metrics` (event
 * loop lag, writes in flight, and counters read as differences between the first and the last
 * scrape). A poll that a busy node does not answer within its timeout is counted, not fatal:
 * slow answers are part of what is measured.
 *
 * Metrics absent from the build (admission control's gauges and counters exist only where it is
 * built in) are reported as null, never as 0.
 */
const POLL_TIMEOUT_MS = 2000

/** Counters read as (last - first), summed over the nodes. */
const COUNTERS = {
  peerPushFailures: 'chat_peer_push_failures_total',
  resyncCloses: 'chat_resync_closes_total',
  overloadBoundHits: 'chat_bound_hits_total{bound="overload"}',
  slowConsumerCloses: 'chat_slow_consumer_closes_total',
  messages: 'chat_messages_total',
}

/** Counters with one series per label value, summed over the series and the nodes. */
const LABELLED_COUNTERS = {
  // Liveness flaps between two polls of /v1/cluster are seen here.
  peersDeclaredDown: 'chat_peers_declared_down_total',
}

/** Gauges whose largest value seen on any node is kept. */
const GAUGES = {
  eventLoopLagSeconds: 'chat_event_loop_lag_seconds',
  writesInFlight: 'chat_writes_in_flight',
  // prom-client's own: the largest delay since its previous scrape (it resets on each scrape).
  nodejsEventLoopLagMaxSeconds: 'nodejs_eventloop_lag_max_seconds',
}

/**
 * `name{labels} value` lines of Prometheus text into a Map (label order as the exporter wrote it);
 * `families` holds every metric name declared by `# TYPE`, so that a labelled counter with no
 * sample yet (no bound hit) reads as 0 where the build has it, and as absent where it does not.
 */
export function parseMetrics(text) {
  const out = new Map()
  out.families = new Set()
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) out.families.add(line.split(' ')[2])
    if (!line || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    const value = Number(line.slice(at + 1))
    if (Number.isFinite(value)) out.set(line.slice(0, at), value)
  }
  return out
}

async function getJson(url) {
  const r = await fetch(url, { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) })
  return r.json()
}

async function getText(url) {
  const r = await fetch(url, { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) })
  return r.text()
}

export class ClusterWatch {
  constructor(nodes, everyMs = 500) {
    this.nodes = nodes
    this.everyMs = everyMs
    this.polls = 0
    this.timeouts = 0
    this.notLive = [] // { observer, member, atSec }
    this.ringVersions = new Set()
    this.first = new Map() // node id -> metrics Map
    this.last = new Map()
    this.gaugeMax = Object.fromEntries(Object.keys(GAUGES).map((k) => [k, null]))
    this.lagSamples = [] // chat_event_loop_lag_seconds readings, every node
    this.stopped = false
  }

  start() {
    this.t0 = performance.now()
    this.loop = (async () => {
      while (!this.stopped) {
        const started = performance.now()
        await Promise.all(this.nodes.map((n) => this.pollNode(n)))
        const wait = this.everyMs - (performance.now() - started)
        if (wait > 0 && !this.stopped) await new Promise((r) => setTimeout(r, wait))
      }
    })()
    return this
  }

  async pollNode(node) {
    this.polls++
    const atSec = (performance.now() - this.t0) / 1000
    const [view, metrics] = await Promise.allSettled([getJson(`${node.http}/v1/cluster`), getText(`${node.http}/metrics`)])
    if (view.status === 'fulfilled') {
      this.ringVersions.add(view.value.ringVersion)
      for (const m of view.value.members ?? []) if (!m.live) this.notLive.push({ observer: node.id, member: m.id, atSec })
    } else this.timeouts++
    if (metrics.status === 'fulfilled') {
      const parsed = parseMetrics(metrics.value)
      if (!this.first.has(node.id)) this.first.set(node.id, parsed)
      this.last.set(node.id, parsed)
      for (const [key, name] of Object.entries(GAUGES)) {
        if (!parsed.has(name)) continue
        const v = parsed.get(name)
        this.gaugeMax[key] = Math.max(this.gaugeMax[key] ?? 0, v)
        if (key === 'eventLoopLagSeconds') this.lagSamples.push(v)
      }
    } else this.timeouts++
  }

  async stop() {
    this.stopped = true
    await this.loop
    // One last scrape, so counters cover everything up to now.
    await Promise.all(this.nodes.map((n) => this.pollNode(n)))
    const counters = {}
    for (const [key, name] of Object.entries(COUNTERS)) {
      let total = null
      const family = name.replace(/\{.*$/, '')
      for (const [id, last] of this.last) {
        if (!last.has(name) && !last.families.has(family)) continue
        total = (total ?? 0) + (last.get(name) ?? 0) - (this.first.get(id)?.get(name) ?? 0)
      }
      counters[key] = total
    }
    // Summed over every series of the family (one per label value), as (last - first) per node.
    const sumFamily = (m, family) => (m ? [...m].filter(([k]) => k === family || k.startsWith(`${family}{`)).reduce((a, [, v]) => a + v, 0) : 0)
    for (const [key, family] of Object.entries(LABELLED_COUNTERS)) {
      let total = null
      for (const [id, last] of this.last) {
        if (!last.families.has(family)) continue
        total = (total ?? 0) + sumFamily(last, family) - sumFamily(this.first.get(id), family)
      }
      counters[key] = total
    }
    const lag = [...this.lagSamples].sort((a, b) => a - b)
    return {
      polls: this.polls,
      pollTimeouts: this.timeouts,
      notLive: this.notLive,
      notLiveMembers: [...new Set(this.notLive.map((x) => `${x.observer} saw ${x.member}`))],
      ringVersions: [...this.ringVersions].sort((a, b) => a - b),
      ringChanged: this.ringVersions.size > 1,
      flapped: this.notLive.length > 0 || this.ringVersions.size > 1 || (counters.peersDeclaredDown ?? 0) > 0,
      counters,
      gaugeMax: this.gaugeMax,
      eventLoopLagP50Seconds: lag.length ? lag[lag.length >> 1] : null,
    }
  }
}
