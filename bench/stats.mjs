/** Latency samples and the numbers printed from them. */

/** Keeps every sample (ms) in a growing typed array; percentiles by sorting once at the end. */
export class Samples {
  buf = new Float64Array(1 << 14)
  n = 0

  add(ms) {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2)
      next.set(this.buf)
      this.buf = next
    }
    this.buf[this.n++] = ms
  }

  /** {count, p50, p95, p99, max, mean} in ms, or nulls when there are no samples. */
  summary() {
    if (this.n === 0) return { count: 0, p50: null, p95: null, p99: null, max: null, mean: null }
    const sorted = this.buf.slice(0, this.n).sort()
    const at = (q) => sorted[Math.min(this.n - 1, Math.floor(q * this.n))]
    let sum = 0
    for (let i = 0; i < this.n; i++) sum += sorted[i]
    return { count: this.n, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[this.n - 1], mean: sum / this.n }
  }
}

/** CPU use of the servers and of this process over a window, in percent of one core. */
export class CpuWindow {
  constructor(read) {
    this.read = read // async () => server CPU seconds so far
  }

  async start() {
    this.t0 = performance.now()
    this.server0 = await this.read()
    this.self0 = process.cpuUsage()
  }

  async stop() {
    const secs = (performance.now() - this.t0) / 1000
    const server = (await this.read()) - this.server0
    const self = process.cpuUsage(this.self0)
    return { serverPct: (100 * server) / secs, clientPct: (100 * (self.user + self.system)) / 1e6 / secs }
  }
}

export const fmt = {
  ms: (v) => (v === null || v === undefined ? '-' : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)),
  rate: (v) => (v === null || v === undefined ? '-' : Math.round(v).toLocaleString('en-US')),
  int: (v) => (v === null || v === undefined ? '-' : String(v)),
  pct: (v) => (v === null || v === undefined ? '-' : `${Math.round(v)}%`),
  mib: (v) => (v === null || v === undefined ? '-' : `${(v / 1048576).toFixed(1)} MiB`),
  bytes: (v) => (v === null || v === undefined ? '-' : v >= 10240 ? `${(v / 1024).toFixed(1)} KiB` : `${Math.round(v)} B`),
  ratio: (v) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : `${v.toFixed(v < 0.1 ? 3 : 2)}x`),
}

/** A plain-text table: `columns` are [header, (row) => string]; numbers right-aligned. */
export function table(columns, rows) {
  const cells = [columns.map(([h]) => h), ...rows.map((r) => columns.map(([, get]) => String(get(r))))]
  const widths = columns.map((_, i) => Math.max(...cells.map((c) => c[i].length)))
  return cells.map((c, ri) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ') +
    (ri === 0 ? '\n' + widths.map((w) => '-'.repeat(w)).join('  ') : '')).join('\n')
}

/** Median of the numbers among `values` (nulls ignored), or null. */
export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = v.length >> 1
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

/**
 * One summary of several runs of a workload: each figure is the median of that figure over the
 * runs (so the p99 shown is the median run's p99, not a p99 over every sample); counts of things
 * that must not happen (lost, errors, gaps, closes) are summed over the runs.
 */
export function summarizeRuns(runs) {
  const m = (get) => median(runs.map(get))
  const sum = (get) => runs.reduce((a, r) => a + (get(r) ?? 0), 0)
  const errors = {}
  for (const r of runs) for (const [code, n] of Object.entries(r.errors ?? {})) errors[code] = (errors[code] ?? 0) + n
  return {
    runs: runs.length,
    messagesPerSec: m((r) => r.messagesPerSec),
    deliveriesPerSec: m((r) => r.deliveriesPerSec),
    ackMs: { p50: m((r) => r.ackMs.p50), p95: m((r) => r.ackMs.p95), p99: m((r) => r.ackMs.p99) },
    deliveryMs: { p50: m((r) => r.deliveryMs.p50), p95: m((r) => r.deliveryMs.p95), p99: m((r) => r.deliveryMs.p99) },
    serverPct: m((r) => r.serverPct),
    // Server CPU time per acknowledged message and per delivery (ms): the capacity model's unit costs.
    cpuMsPerMessage: m((r) => (r.messagesPerSec ? (10 * r.serverPct) / r.messagesPerSec : null)),
    cpuMsPerDelivery: m((r) => (r.deliveriesPerSec ? (10 * r.serverPct) / r.deliveriesPerSec : null)),
    clientPct: m((r) => r.clientPct),
    acked: sum((r) => r.acked),
    planned: sum((r) => r.planned),
    cappedRuns: runs.filter((r) => r.capped).length,
    lost: sum((r) => r.lost),
    unanswered: sum((r) => r.unanswered),
    errors,
    closes: runs.flatMap((r) => r.closes ?? []),
    outOfOrder: sum((r) => r.outOfOrder),
    strayPushes: sum((r) => r.strayPushes),
    inboxGaps: sum((r) => r.inboxGaps),
    inboxRepeats: sum((r) => r.inboxRepeats),
    undrained: runs.filter((r) => r.drainSecs === null).length,
  }
}
