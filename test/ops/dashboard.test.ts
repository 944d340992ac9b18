/**
 * The Grafana dashboard and the alert rules in deploy/ use only metrics a node exports: every
 * metric name in their queries is checked against a live cluster node's /metrics.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { SECRET } from '../helpers/cluster.js'
import { startNats } from '../helpers/nats.js'
import { NodeProcess, ROOT } from '../helpers/node-process.js'

/** Names PromQL uses that are not metrics. */
const PROMQL = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'count_values', 'rate', 'irate', 'increase', 'histogram_quantile', 'predict_linear', 'delta', 'deriv',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'abs', 'clamp_min', 'label_values',
])
/** Prometheus's own series, not the node's. */
const PROMETHEUS = new Set(['up'])

/** Metric names in a PromQL expression. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // label lists
    .replace(/\[[^\]]*\]/g, '') // ranges
    .replace(/\$\w+/g, '')
    .replace(/label_values\(\s*([^,)]+)(,[^)]*)?\)/g, '$1') // Grafana: label_values(metric, label)
  return [...bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)].map((m) => m[0]).filter((w) => !PROMQL.has(w) && !/^\d/.test(w))
}

function dashboardExprs(): string[] {
  const dash = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/chat-cluster.json'), 'utf8'))
  const exprs: string[] = []
  const walk = (o: unknown): void => {
    if (Array.isArray(o)) o.forEach(walk)
    else if (o && typeof o === 'object') {
      for (const [k, v] of Object.entries(o)) {
        if ((k === 'expr' || (k === 'query' && typeof v === 'string' && v.includes('('))) && typeof v === 'string') exprs.push(v)
        else walk(v)
      }
    }
  }
  walk(dash)
  return exprs
}

function alertExprs(): string[] {
  return readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8').split('\n')
    .map((l) => /^\s*expr:\s*(.+)$/.exec(l)?.[1]).filter((e): e is string => e !== undefined)
}

t.test('the query parser finds metric names and nothing else', async (t) => {
  t.same(metricNames('histogram_quantile(0.99, sum by (le) (rate(chat_message_ack_seconds_bucket{instance=~"$instance"}[5m])))'), ['chat_message_ack_seconds_bucket'])
  t.same(metricNames('max(chat_ring_members{state="all"}) - min(chat_ring_members{state="live"}) > 0'), ['chat_ring_members', 'chat_ring_members'])
  t.same(metricNames('count(count by (chat_ring_version) (chat_ring_version)) > 1'), ['chat_ring_version'])
  t.same(metricNames('label_values(chat_node_info, instance)'), ['chat_node_info'])
})

t.test('every metric in the dashboard and the alerts is exported by a live node', async (t) => {
  const nats = await startNats()
  t.teardown(() => nats.stop())
  const node = await NodeProcess.start(t, { id: 'dash1', nats: nats.url, secret: SECRET, args: ['--replicas', '1'] })
  const text = await (await fetch(`${node.url}/metrics`)).text()
  const families = new Map<string, string>()
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1]!, m[2]!)
  const exported = (name: string) => {
    if (families.has(name)) return true
    const base = name.replace(/_(bucket|sum|count)$/, '')
    return base !== name && families.get(base) === 'histogram'
  }
  const dashboard = dashboardExprs()
  const alerts = alertExprs()
  t.ok(dashboard.length >= 20, `the dashboard has queries (${dashboard.length})`)
  t.ok(alerts.length >= 10, `the alert rules have expressions (${alerts.length})`)
  for (const [what, exprs] of [['dashboard', dashboard], ['alerts', alerts]] as const) {
    const names = [...new Set(exprs.flatMap(metricNames))]
    const unknown = names.filter((n) => !exported(n) && !PROMETHEUS.has(n))
    t.same(unknown, [], `${what}: all ${names.length} metric names are exported by the node`)
  }
  // The metrics the issue asks for are there.
  for (const name of [
    'chat_replication_lag_entries', 'chat_replication_quorum_failures_total', 'chat_replication_takeovers_total', 'chat_ring_version',
    'chat_actor_activations_total', 'chat_actor_passivations_total', 'chat_message_ack_seconds', 'chat_message_delivery_seconds',
    'chat_ws_connections', 'chat_storage_bytes',
  ]) t.ok(families.has(name), `${name} is exported`)
  t.match(text, /^chat_storage_bytes [1-9]\d*$/m, 'storage bytes are measured')
})
