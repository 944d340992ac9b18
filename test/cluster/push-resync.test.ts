// Pushes between nodes are never silently lost: a push that fails, or that cannot be sent, is
// followed by a resync request naming its sessions, retried until the node has it; the node
// closes those sockets with 1013 so that their devices reconnect and sync.
import t, { type Test } from 'tap'
import { pino } from 'pino'
import { systemClock } from '../../src/clock.js'
import { ClusterPusher } from '../../src/cluster/pusher.js'
import { systemRandom } from '../../src/random.js'
import { MemoryNetwork, MemoryTransport } from '../../src/cluster/transport-memory.js'
import type { PushBatch, Reply, TransportHandlers } from '../../src/cluster/transport.js'
import type { ClusterView } from '../../src/cluster/view.js'
import type { DeviceSession } from '../../src/gateway/device-session.js'
import { SessionRegistry } from '../../src/gateway/sessions.js'
import { waitFor } from '../helpers/wait.js'

const log = pino({ level: 'silent' })

async function setup(t: Test) {
  const network = new MemoryNetwork()
  const received: PushBatch[] = []
  const n2 = new MemoryTransport(network)
  t.teardown(() => n2.close())
  const handlers: TransportHandlers = {
    async call(): Promise<Reply> { return { ok: true, body: null } },
    async callMany(): Promise<Reply[]> { return [] },
    async push(batch) { received.push(batch) },
    async peer() { return { ok: true, body: null } },
  }
  const address = `mem:${await n2.listen('mem', 0, handlers)}`
  let live = true
  const view = {
    self: 'n1', version: 1,
    address: (id: string) => (id === 'n2' ? address : undefined),
    isLive: (id: string) => id !== 'n2' || live,
  } as unknown as ClusterView
  const transport = new MemoryTransport(network)
  t.teardown(() => transport.close())
  const counts = { failed: 0, dropped: 0, abandoned: 0 }
  const registry = new SessionRegistry(60_000)
  t.teardown(() => registry.closeAll(1000, 'done'))
  const pusher = new ClusterPusher(view, registry, transport, log, systemClock, systemRandom, {
    failed: (n) => { counts.failed += n },
    dropped: (n) => { counts.dropped += n },
    abandoned: (n) => { counts.abandoned += n },
  })
  t.teardown(() => pusher.stop())
  return { pusher, received, network, address, counts, setLive: (v: boolean) => { live = v } }
}

const device = (sessionId: string) => ({ node: 'n2', sessionId, deviceId: 'd' })

t.test('a push to an unreachable node is followed by a resync request once it answers', async (t) => {
  const { pusher, received, network, address, counts } = await setup(t)
  network.setDown(address, true)
  pusher.push([device('s1'), device('s2')], '{"op":"message","inboxSeq":7}')
  pusher.push([device('s3')], '{"op":"message","inboxSeq":3}')
  await waitFor(() => counts.failed === 2, { what: 'the failed push counted' })
  t.equal(received.length, 0, 'nothing arrived while the node was cut off')
  await waitFor(() => pusher.resyncBacklog === 3, { what: 'sessions waiting for their resync' })
  network.setDown(address, false)
  await waitFor(() => received.some((b) => (b.resync ?? []).length > 0), { timeout: 10_000, what: 'a resync request' })
  const named = received.flatMap((b) => b.resync ?? []).sort()
  t.same(named, ['s1', 's2', 's3'], 'every session of the lost pushes is named once')
  t.equal(pusher.resyncBacklog, 0, 'nothing left to resync')
  t.equal(counts.abandoned, 0)
})

t.test('a push to a node that looks dead is not dropped silently', async (t) => {
  const { pusher, received, counts, setLive } = await setup(t)
  setLive(false)
  pusher.push([device('s9')], '{"op":"message","inboxSeq":1}')
  await waitFor(() => counts.failed === 1, { what: 'the unsent push counted' })
  setLive(true)
  await waitFor(() => received.some((b) => b.resync?.includes('s9')), { timeout: 10_000, what: 'the resync request' })
  t.equal(received.filter((b) => b.pushes.length > 0).length, 0, 'the frame itself was not sent late')
})

t.test('pushes that arrive are not followed by any resync', async (t) => {
  const { pusher, received, counts } = await setup(t)
  pusher.push([device('s1')], '{"op":"message","inboxSeq":1}')
  await waitFor(() => received.length === 1, { what: 'the push' })
  await new Promise((r) => setTimeout(r, 300))
  t.equal(received.length, 1, 'one batch, no resync request')
  t.equal(counts.failed, 0)
  t.equal(pusher.resyncBacklog, 0)
})

t.test('the receiving registry closes the named sessions with 1013 and counts them', async (t) => {
  let counted = 0
  const registry = new SessionRegistry(60_000, undefined, (n) => { counted += n })
  t.teardown(() => registry.closeAll(1000, 'done'))
  const closed: Array<[string, number]> = []
  const stub = (id: string) => ({ id, close: (code: number) => { closed.push([id, code]) } }) as unknown as DeviceSession
  registry.add(stub('a'))
  registry.add(stub('b'))
  t.equal(registry.resync(['a', 'gone']), 1, 'one of the named sessions was open here')
  t.same(closed, [['a', 1013]], 'closed with 1013 (reconnect and sync)')
  t.equal(counted, 1)
})
