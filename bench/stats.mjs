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
