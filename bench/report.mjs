/**
 * The printed report: the comparison table (medians, ratio to the relay of the same run), the
 * goals of docs/PERFORMANCE.md, the per-workload details with every run, the overload run and the
 * stored-data run. `columns()` and `goals()` are also what the JSON carries.
 */
import { fmt, table } from './stats.mjs'

const kib = (v) => (v === null || v === undefined ? '-' : `${(v / 1024).toFixed(1)} KiB`)

/** The systems side by side: [{ key, title, workloads, idle }]. */
export function columns(results) {
  const cols = []
  if (results.relay?.workloads) cols.push({ key: 'relay', title: 'relay', workloads: results.relay.workloads, idle: results.relay.idle })
  if (results.standalone?.workloads) cols.push({ key: 'standalone', title: 'standalone', workloads: results.standalone.workloads, idle: results.standalone.idle })
  for (const [mode, w] of Object.entries(results.cluster?.modes ?? {})) {
    cols.push({ key: `cluster-${mode}`, title: `cluster ${mode === 'pinned' ? '1 core' : 'all cores'}`, workloads: w })
  }
  return cols
}

/** Rows of the comparison: how to read a figure from a column, and whether higher is better. */
const ROWS = [
  ['1:1 msgs/s', (c) => c.workloads.pairs?.median.messagesPerSec, fmt.rate, true],
  ['1:1 ack p50 / p99 ms', (c) => c.workloads.pairs?.median.ackMs, pair, false],
  ['group deliveries/s', (c) => c.workloads.group?.median.deliveriesPerSec, fmt.rate, true],
  ['light e2e p50 / p99 ms', (c) => c.workloads.light?.median.deliveryMs, pair, false],
  ['light ack p50 / p99 ms', (c) => c.workloads.light?.median.ackMs, pair, false],
  ['unloaded e2e p50 / p99 ms', (c) => c.workloads.unloaded?.median.deliveryMs, pair, false],
  ['unloaded ack p50 / p99 ms', (c) => c.workloads.unloaded?.median.ackMs, pair, false],
  ['idle memory per socket', (c) => c.idle?.median.bytesPerConnection, kib, false],
]

function pair(v) {
  return v && v.p50 !== null ? `${fmt.ms(v.p50)} / ${fmt.ms(v.p99)}` : '-'
}

function ratioText(v, base) {
  if (v === null || v === undefined || base === null || base === undefined) return ''
  if (typeof v === 'object') return v.p99 && base.p99 ? ` (p99 ${fmt.ratio(v.p99 / base.p99)})` : ''
  return base ? ` (${fmt.ratio(v / base)})` : ''
}

/** The goals of issue 12 as ratios to the relay in the same run: [{ goal, value, met }]. */
export function goals(results) {
  const relay = results.relay?.workloads
  const out = []
  const add = (goal, value, ok, shown) => {
    if (value === null || value === undefined || !Number.isFinite(value)) return
    out.push({ goal, value, met: ok(value), shown })
  }
  const s = results.standalone?.workloads
  const div = (a, b) => (a === null || a === undefined || !b ? null : a / b)
  if (relay && s) {
    add('standalone 1:1 >= 0.5x relay (stretch 0.75x)', div(s.pairs?.median.messagesPerSec, relay.pairs?.median.messagesPerSec), (v) => v >= 0.5, fmt.ratio)
    add('standalone group deliveries >= 0.5x relay', div(s.group?.median.deliveriesPerSec, relay.group?.median.deliveriesPerSec), (v) => v >= 0.5, fmt.ratio)
    add('standalone light e2e p99 <= 2x relay', div(s.light?.median.deliveryMs.p99, relay.light?.median.deliveryMs.p99), (v) => v <= 2, fmt.ratio)
    add('standalone idle memory per socket <= 1.3x relay', div(results.standalone.idle?.median.bytesPerConnection, results.relay.idle?.median.bytesPerConnection), (v) => v <= 1.3, fmt.ratio)
  }
  for (const [mode, w] of Object.entries(results.cluster?.modes ?? {})) {
    const where = mode === 'pinned' ? 'on 1 core' : 'on all cores'
    if (relay) add(`cluster ${where} 1:1 >= 0.3x relay`, div(w.pairs?.median.messagesPerSec, relay.pairs?.median.messagesPerSec), (v) => v >= 0.3, fmt.ratio)
    add(`cluster ${where} unloaded ack p50 < 5 ms`, w.unloaded?.median.ackMs.p50, (v) => v < 5, (v) => `${fmt.ms(v)} ms`)
  }
  return out
}

export function problems(m) {
  const parts = Object.entries(m.errors ?? {}).map(([code, n]) => `${code}:${n}`)
  if (m.lost) parts.push(`lost:${m.lost}`)
  if (m.unanswered) parts.push(`unanswered:${m.unanswered}`)
  if (m.closes?.length) parts.push(`closed:${m.closes.join('/')}`)
  if (m.outOfOrder) parts.push(`out-of-order:${m.outOfOrder}`)
  if (m.strayPushes) parts.push(`stray:${m.strayPushes}`)
  if (m.inboxGaps) parts.push(`inbox-gaps:${m.inboxGaps}`)
  if (m.inboxRepeats) parts.push(`inbox-repeats:${m.inboxRepeats}`)
  if (m.undrained) parts.push(`undrained:${m.undrained}`)
  return parts.length ? parts.join(' ') : '0'
}

function printComparison(results) {
  const cols = columns(results)
  if (cols.length === 0) return
  const base = cols.find((c) => c.key === 'relay')
  console.log(table([
    ['median of runs', (r) => r.label],
    ...cols.map((c) => [c.title, (r) => {
      const v = r.get(c)
      const shown = v === null || v === undefined ? '-' : r.format(v)
      return c === base || !base ? shown : shown + ratioText(v, r.get(base))
    }]),
  ], ROWS.map(([label, get, format]) => ({ label, get, format }))))
  console.log('(in brackets: this system / the relay; latencies are p50 / p99 of the median run, ms)')
}

function printGoals(results) {
  const gs = goals(results)
  if (gs.length === 0) return
  console.log('\n' + table([
    ['goal', (g) => g.goal],
    ['measured', (g) => g.shown(g.value)],
    ['', (g) => (g.met ? 'met' : 'MISSED')],
  ], gs))
}

function printDetails(results) {
  const rows = []
  for (const c of columns(results)) {
    for (const [key, w] of Object.entries(c.workloads)) {
      const m = w.median
      rows.push({ label: `${c.title} ${key}`, m, runs: w.runs })
    }
  }
  if (rows.length === 0) return
  console.log('\n' + table([
    ['workload (median)', (r) => r.label],
    ['msgs/s of each run', (r) => r.runs.map((x) => fmt.rate(x.messagesPerSec)).join(' / ')],
    ['deliv/s', (r) => fmt.rate(r.m.deliveriesPerSec)],
    ['ack p50', (r) => fmt.ms(r.m.ackMs.p50)],
    ['ack p99', (r) => fmt.ms(r.m.ackMs.p99)],
    ['e2e p50', (r) => fmt.ms(r.m.deliveryMs.p50)],
    ['e2e p99', (r) => fmt.ms(r.m.deliveryMs.p99)],
    ['srv cpu', (r) => fmt.pct(r.m.serverPct)],
    ['ms cpu/msg', (r) => fmt.ms(r.m.cpuMsPerMessage)],
    ['bench cpu', (r) => fmt.pct(r.m.clientPct)],
    ['acked', (r) => `${r.m.acked}/${r.m.planned}${r.m.cappedRuns ? ` (${r.m.cappedRuns} capped)` : ''}`],
    ['problems', (r) => problems(r.m)],
  ], rows))
  console.log('(ms; e2e = send to push on the other member\'s socket; cpu in % of one core; ms cpu/msg = server CPU time per acknowledged message; capped = stopped at --max-seconds)')
}

function printOverload(o, opts, pinned) {
  if (!o) return
  const w = o.watch ?? {}
  const c = w.counters ?? {}
  const na = (v, f = fmt.int) => (v === null || v === undefined ? 'n/a (not in this build)' : f(v))
  const lc = o.liveCheck ?? {}
  console.log(`\noverload: ${opts.clusterNodes}-node cluster${pinned ? ' on 1 core' : ''}, ${opts.overloadPairs} pairs x ${opts.overloadWindow} in flight for ${opts.overloadSeconds} s` +
    `${o.admissionControl ? '' : ' (this build has no admission control: nothing is shed)'}`)
  console.log(table([['figure', (r) => r[0]], ['value', (r) => r[1]]], [
    ['acks/s', fmt.rate(o.messagesPerSec)],
    ['acked / sent', `${o.acked} / ${o.sent} (${o.retries} retries; ${o.gaveUp} given up at the end; ${o.unanswered} unanswered)`],
    ['refused UNAVAILABLE', fmt.int(o.refused)],
    ['ack p50 / p99 ms', `${fmt.ms(o.ackMs?.p50)} / ${fmt.ms(o.ackMs?.p99)}`],
    ['e2e p50 / p99 ms', `${fmt.ms(o.deliveryMs?.p50)} / ${fmt.ms(o.deliveryMs?.p99)}`],
    ['event-loop lag, max / p50 (chat_event_loop_lag_seconds)', w.gaugeMax?.eventLoopLagSeconds === null ? 'n/a (not in this build)' : `${fmt.ms(w.gaugeMax.eventLoopLagSeconds * 1000)} / ${fmt.ms(w.eventLoopLagP50Seconds * 1000)} ms`],
    ['event-loop delay max (nodejs_eventloop_lag_max_seconds)', na(w.gaugeMax?.nodejsEventLoopLagMaxSeconds, (v) => `${fmt.ms(v * 1000)} ms`)],
    ['writes in flight, max (chat_writes_in_flight)', na(w.gaugeMax?.writesInFlight)],
    ['peer push failures', na(c.peerPushFailures)],
    ['resync closes', na(c.resyncCloses)],
    ['overload bound hits', o.admissionControl ? na(c.overloadBoundHits) : na(null)],
    ['slow-consumer closes', na(c.slowConsumerCloses)],
    ['acked, never pushed (within the drain)', fmt.int(o.lost)],
    ['open sockets checked / closed', `${lc.checked} / ${lc.closed}${lc.closed ? ` (codes ${JSON.stringify(lc.closeCodes)})` : ''}`],
    ['events missing on open sockets', `${lc.missingEvents} on ${lc.socketsMissingEvents} sockets`],
    ['membership flapped', w.flapped ? `YES: ${[...w.notLiveMembers, `ring versions ${w.ringVersions.join(', ')}`].join('; ')}` : `no (ring version ${w.ringVersions?.join(', ')})`],
    ['peers declared down (chat_peers_declared_down_total)', na(w.counters?.peersDeclaredDown)],
    ['status polls unanswered in 2 s', `${w.pollTimeouts} of ${2 * (w.polls ?? 0)}`],
    ['server cpu / bench cpu', `${fmt.pct(o.serverPct)} / ${fmt.pct(o.clientPct)}`],
  ]))
}

function printStored(s) {
  if (!s) return
  if (s.error) return
  console.log(`\nstored data: ${s.method}`)
  console.log(table([
    ['node', (r) => r[0]], ['1:1 msgs/s of each run', (r) => r[1]], ['median', (r) => r[2]], ['data dir', (r) => r[3]],
  ], [
    ['empty', s.empty.runs.map((r) => fmt.rate(r.messagesPerSec)).join(' / '), fmt.rate(s.empty.median.messagesPerSec), fmt.mib(s.dataDirBytes.empty)],
    [`${s.stored.toLocaleString('en-US')} messages stored`, s.full.runs.map((r) => fmt.rate(r.messagesPerSec)).join(' / '), fmt.rate(s.full.median.messagesPerSec), fmt.mib(s.dataDirBytes.full)],
  ]))
  console.log(`full / empty: ${fmt.ratio(s.ratio)} (goal: within 10%); loaded at ${fmt.rate(s.stored / s.loadSecs)} msg/s in ${s.loadSecs.toFixed(0)} s`)
}

export function printReport(report) {
  const o = report.options
  const r = report.results
  const load = (l) => l.map((x) => x.toFixed(2)).join(' ')
  console.log(`\nchat benchmark, ${report.date}, ${report.machine.cpus} CPUs (${report.machine.model}), Node ${report.machine.node}`)
  console.log(`load average before ${load(report.machine.loadBefore)}, after ${load(report.machine.loadAfter)} (other work on the machine skews every figure)`)
  console.log(`${report.affinity.text}`)
  console.log(`${report.command}; ${o.runs} runs per workload; text ${o.textBytes} chars (${o.text}); measured build ${report.root}; total ${report.totalSeconds.toFixed(0)} s\n`)
  printComparison(r)
  printGoals(r)
  printDetails(r)
  printOverload(r.cluster?.overload, o, report.affinity.pinned)
  printStored(r.stored)
  const setup = Object.entries({ standalone: r.standalone, cluster: r.cluster }).filter(([, x]) => x?.signupSecs !== undefined)
  if (setup.length) {
    console.log('\n' + table([
      ['setup', ([n]) => n],
      ['sign-up + login', ([, x]) => `${x.signupSecs.toFixed(1)} s`],
      ['RSS at start', ([, x]) => fmt.mib(x.rssAtStart)],
      ['at end', ([, x]) => fmt.mib(x.rssAtEnd)],
    ], setup))
    console.log('(RSS summed over the chat processes; nats-server not included)')
  }
}
