/**
 * Backing up a whole cluster (docs/OPERATIONS.md): one backup per node, taken while writes go on;
 * then every machine and the NATS store are lost; each node is restored from its backup onto a
 * fresh NATS. Every message acknowledged before the backups is served by every node, every
 * inbox holds what was delivered before them, and the cluster takes writes again. Restored keys
 * wait for all the replicas they had, so nodes may come back in any order.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { SECRET } from '../helpers/cluster.js'
import { chatNode } from '../helpers/chat-node-cli.js'
import { startNats } from '../helpers/nats.js'
import { NodeProcess, api } from '../helpers/node-process.js'
import { Traffic, fullHistory, fullInbox, missingFrom, workload } from '../helpers/traffic.js'
import { waitFor } from '../helpers/wait.js'

t.setTimeout(300_000)

const files = mkdtempSync(join(tmpdir(), 'chat-backup-cluster-'))
t.teardown(() => rmSync(files, { recursive: true, force: true }))
const started = Date.now()
const at = (what: string) => t.comment(`+${((Date.now() - started) / 1000).toFixed(1)} s ${what}`)

let nats = await startNats()
t.teardown(() => nats.stop())
const args = ['--replicas', '3', '--heartbeat-ms', '200', '--dead-after-ms', '1000', '--repair-interval-ms', '500', '--compact-interval-ms', '500', '--compact-max-lag', '0', '--rate-limit', '1000']
const nodes: NodeProcess[] = []
for (const id of ['b1', 'b2', 'b3']) nodes.push(await NodeProcess.start(t, { id, nats: nats.url, secret: SECRET, args }))
const list = () => nodes.filter((n) => n.proc && n.proc.exitCode === null && n.proc.signalCode === null).map((n) => ({ id: n.id, url: n.url }))
const liveMembers = async (n: NodeProcess) => (await api(n.url, 'GET', '/v1/cluster')).body.members.filter((m: any) => m.live).length
await waitFor(async () => (await liveMembers(nodes[0]!)) === 3, { timeout: 20_000, what: 'ring of 3' })
const users = ['eve', 'fay', 'gus', 'hal']
const { tokens, channels } = await workload(nodes.map((n) => n.url), users, [['eve', 'fay', 'gus']], [['eve', 'hal'], ['fay', 'gus']])
at('cluster up')

t.test('every acknowledged message survives the loss of every machine, through one backup per node', async (t) => {
  // Phase 1: traffic whose fan-out completes before the backups (every inbox holds it).
  let traffic = new Traffic({ tokens, channels, nodes: list, pauseMs: 10 })
  t.teardown(() => traffic.stop(5000))
  await traffic.progress(60, 60_000)
  await traffic.stop()
  const delivered = traffic.acked().slice()
  const inboxHolds = async (user: string, base: string) => {
    const ids = new Set((await fullInbox(base, tokens.get(user)!)).filter((e) => e.op === 'message').map((e) => `${e.channel}/${e.seq}`))
    return delivered.filter((s) => channels.get(s.channel)!.includes(user)).every((s) => ids.has(`${s.channel}/${s.seq}`))
  }
  for (const u of users) await waitFor(() => inboxHolds(u, nodes[0]!.url), { timeout: 30_000, what: `${u}'s inbox delivered` })
  at(`${delivered.length} messages delivered`)

  // Phase 2: a backup of every running node while writes go on.
  traffic = new Traffic({ tokens, channels, nodes: list, pauseMs: 10 })
  await traffic.progress(20, 60_000)
  const beforeBackups = traffic.acked().slice()
  for (const n of nodes) {
    const r = await chatNode(['backup', '--data-dir', n.dataDir, '--out', join(files, `${n.id}.backup`)])
    t.equal(r.code, 0, `${n.id} backed up: ${r.stdout.trim()}${r.stderr}`)
  }
  await traffic.stop()
  at('backups taken')

  // Disaster: every machine and the NATS store are lost.
  for (const n of nodes) await n.kill()
  await nats.stop()
  for (const n of nodes) rmSync(n.dataDir, { recursive: true, force: true })
  nats = await startNats()
  for (const n of nodes) {
    const r = await chatNode(['restore', '--data-dir', n.dataDir, '--in', join(files, `${n.id}.backup`)])
    t.equal(r.code, 0, `${n.id} restored: ${r.stdout.trim()}${r.stderr}`)
    n.options.nats = nats.url
  }
  at('restored')
  // Back one by one, last first: restored keys wait until every replica they had is back.
  for (const n of [...nodes].reverse()) await n.launch(30_000)
  await waitFor(async () => (await liveMembers(nodes[2]!)) === 3, { timeout: 20_000, what: 'restored ring of 3' })
  at('restarted')

  const all = [...delivered, ...beforeBackups]
  for (const n of nodes) {
    const histories = new Map<string, any[]>()
    for (const [channel, members] of channels) {
      histories.set(channel, await waitFor(() => fullHistory(n.url, channel, tokens.get(members[0]!)!), { timeout: 30_000, what: `history of ${channel} on ${n.id}` }))
    }
    t.same(missingFrom(all, histories), [], `${n.id} serves all ${all.length} messages acknowledged before the backups`)
  }
  for (const u of users) t.ok(await inboxHolds(u, nodes[1]!.url), `${u}'s inbox holds every message delivered before the backups`)
  at('checked')

  // And the restored cluster takes writes again.
  traffic = new Traffic({ tokens, channels, nodes: list, pauseMs: 10 })
  await traffic.progress(20, 60_000)
  await traffic.stop()
  t.same(traffic.sent.filter((s) => s.seq === null || s.refused).map((s) => s.clientMsgId), [], 'new writes are acknowledged')
})
