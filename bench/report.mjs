/** The printed tables and the headline ratios of a benchmark run. */
import { fmt, table } from './stats.mjs'

/** Chat node against the relay, on the 1:1 workload (and the group one when both ran it). */
export function ratios(results) {
  const relay = results.relay ?? {}
  const out = {}
  for (const name of ['standalone', 'cluster']) {
    for (const kind of ['probe', 'pairs', 'group']) {
      const a = results[name]?.[kind]
      const b = relay[kind]
      if (!a || !b) continue
      out[`${name}_${kind}`] = {
        throughput: a.messagesPerSec / b.messagesPerSec,
        ackP50: a.ackMs.p50 / b.ackMs.p50,
        ackP99: a.ackMs.p99 / b.ackMs.p99,
        deliveryP50: a.deliveryMs.p50 / b.deliveryMs.p50,
        deliveryP99: a.deliveryMs.p99 / b.deliveryMs.p99,
      }
    }
  }
  return out
}

function errorsText(r) {
  const parts = Object.entries(r.errors).map(([code, n]) => `${code}:${n}`)
  if (r.unanswered) parts.push(`unanswered:${r.unanswered}`)
  if (r.closes.length) parts.push(`closed:${r.closes.join('/')}`)
  if (r.outOfOrder) parts.push(`out-of-order:${r.outOfOrder}`)
  if (r.strayPushes) parts.push(`stray:${r.strayPushes}`)
  if (r.inboxGaps) parts.push(`inbox-gaps:${r.inboxGaps}`)
  if (r.inboxRepeats) parts.push(`inbox-repeats:${r.inboxRepeats}`)
  if (r.drainSecs === null) parts.push('undrained')
  return parts.length ? parts.join(' ') : '0'
}

export function printReport(report) {
  const o = report.options
  const rows = []
  for (const [name, r] of Object.entries(report.results)) {
    if (r.probe) rows.push({ label: `${name} 1:1 unloaded (1 pair, W=1)`, ...r.probe })
    if (r.pairs) rows.push({ label: `${name} 1:1 (${o.pairs} pairs, W=${o.window})`, ...r.pairs })
    if (r.group) rows.push({ label: `${name} group (${o.groupSize} members, ${o.groupSenders} senders, W=${o.window})`, ...r.group })
  }
  console.log(`\nchat benchmark, ${report.date}, ${report.machine.cpus} CPUs (${report.machine.model}), Node ${report.machine.node}`)
  const load = (l) => l.map((x) => x.toFixed(1)).join(' ')
  console.log(`load average before ${load(report.machine.loadBefore)}, after ${load(report.machine.loadAfter)} (other work on the machine skews every figure)`)
  console.log(`${report.command}; ${o.seconds} s measured after ${o.warmup} s warm-up per workload; text ${o.textBytes} B; total ${report.totalSeconds.toFixed(0)} s\n`)
  if (rows.length) {
    console.log(table([
      ['workload', (r) => r.label],
      ['msg/s', (r) => fmt.rate(r.messagesPerSec)],
      ['deliv/s', (r) => fmt.rate(r.deliveriesPerSec)],
      ['ack p50', (r) => fmt.ms(r.ackMs.p50)],
      ['ack p95', (r) => fmt.ms(r.ackMs.p95)],
      ['ack p99', (r) => fmt.ms(r.ackMs.p99)],
      ['e2e p50', (r) => fmt.ms(r.deliveryMs.p50)],
      ['e2e p99', (r) => fmt.ms(r.deliveryMs.p99)],
      ['lost', (r) => fmt.int(r.lost)],
      ['errors', errorsText],
      ['srv cpu', (r) => fmt.pct(r.serverPct)],
      ['bench cpu', (r) => fmt.pct(r.clientPct)],
    ], rows))
    console.log('(latencies in ms; e2e = send to push on the other member\'s socket; cpu in % of one core)')
  }

  const mem = Object.entries(report.results).filter(([, r]) => r.memory).map(([name, r]) => ({ name, ...r.memory }))
  if (mem.length) {
    console.log('\n' + table([
      ['idle sockets', (m) => m.name],
      ['count', (m) => fmt.int(m.connections)],
      ['RSS before', (m) => fmt.mib(m.rssBefore)],
      ['RSS after', (m) => fmt.mib(m.rssAfter)],
      ['per connection', (m) => fmt.bytes(m.bytesPerConnection)],
      ['connects/s', (m) => fmt.rate(m.connectsPerSec)],
    ], mem))
  }

  const rs = Object.entries(report.ratios)
  if (rs.length) {
    console.log('\n' + table([
      ['chat node vs relay', ([k]) => k.replace('_probe', ' 1:1 unloaded').replace('_pairs', ' 1:1').replace('_group', ' group')],
      ['throughput', ([, v]) => fmt.ratio(v.throughput)],
      ['ack p50', ([, v]) => fmt.ratio(v.ackP50)],
      ['ack p99', ([, v]) => fmt.ratio(v.ackP99)],
      ['e2e p50', ([, v]) => fmt.ratio(v.deliveryP50)],
      ['e2e p99', ([, v]) => fmt.ratio(v.deliveryP99)],
    ], rs))
    console.log('(throughput: node / relay, higher is better; latency: node / relay, lower is better)')
  }

  const started = Object.entries(report.results).filter(([, r]) => r.signupSecs !== undefined)
  if (started.length) {
    console.log('\n' + table([
      ['target', ([n]) => n],
      ['users', () => fmt.int(Math.max(2 * o.pairs, o.groupSize, 2))],
      ['sign-up + login', ([, r]) => `${r.signupSecs.toFixed(1)} s`],
      ['RSS at start', ([, r]) => fmt.mib(r.rssAtStart)],
      ['after sign-ups', ([, r]) => fmt.mib(r.rssAfterSignup)],
      ['at end', ([, r]) => fmt.mib(r.rssAtEnd)],
    ], started))
    console.log('(RSS summed over the target\'s chat processes; nats-server not included)')
  }
}
