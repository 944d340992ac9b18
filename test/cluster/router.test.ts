// The cluster router and pusher over the in-process transport: one request per destination node
// for a fan-out, misplaced keys retried against a refreshed view, bounded retries, batched pushes.
import { systemClock } from '../../src/clock.js'
import { systemRandom } from '../../src/random.js'
import t, { type Test } from 'tap'
import { pino } from 'pino'
import { ClusterRouter, PLACEMENT_CODES } from '../../src/cluster/router.js'
import { ClusterPusher } from '../../src/cluster/pusher.js'
import { MemoryNetwork, MemoryTransport } from '../../src/cluster/transport-memory.js'
import type { ActorMultiCall, Reply, TransportHandlers } from '../../src/cluster/transport.js'
import type { ActorRuntime } from '../../src/actors/runtime.js'
import type { ClusterView } from '../../src/cluster/view.js'
import { SessionRegistry } from '../../src/gateway/sessions.js'

const log = pino({ level: 'silent' })

interface Peer { address: string; calls: number; multiCalls: ActorMultiCall[]; pushes: number; owns: (key: string) => boolean }

async function setup(t: Test, owners: (key: string) => string) {
  const network = new MemoryNetwork()
  const peers = new Map<string, Peer>()
  for (const id of ['n2', 'n3']) {
    const transport = new MemoryTransport(network)
    t.teardown(() => transport.close())
    const peer: Peer = { address: '', calls: 0, multiCalls: [], pushes: 0, owns: (key) => owners(key) === id }
    const handlers: TransportHandlers = {
      async call(req): Promise<Reply> {
        peer.calls++
        if (!peer.owns(req.key)) return { ok: false, error: { code: PLACEMENT_CODES.wrongOwner, message: 'not mine' } }
        return { ok: true, body: { key: req.key, on: id } }
      },
      async callMany(req): Promise<Reply[]> {
        peer.multiCalls.push(req)
        return req.keys.map((key) => (peer.owns(key) ? { ok: true, body: { key, on: id } } : { ok: false, error: { code: PLACEMENT_CODES.wrongOwner, message: 'not mine' } }))
      },
      async push() { peer.pushes++ },
      async peer() { return { ok: true, body: null } },
    }
    const port = await transport.listen('mem', 0, handlers)
    peer.address = `mem:${port}`
    peers.set(id, peer)
  }
  const view = {
    self: 'n1', version: 7,
    owner: (key: string) => owners(key),
    address: (id: string) => peers.get(id)?.address,
    isLive: () => true,
    membership: { refresh: async () => ({ version: 7, members: [] }) },
  } as unknown as ClusterView
  const local: string[] = []
  const runtime = { call: async (key: string) => { local.push(key); return { key, on: 'n1' } } } as unknown as ActorRuntime
  const transport = new MemoryTransport(network)
  t.teardown(() => transport.close())
  return { router: new ClusterRouter(view, runtime, transport, log, systemClock, systemRandom), peers, local, view, transport, network }
}

const spread = (key: string) => ['n1', 'n2', 'n3'][Number(key.slice(5)) % 3]!

t.test('a fan-out to 100 users is one request per destination node', async (t) => {
  const { router, peers, local } = await setup(t, spread)
  const keys = Array.from({ length: 100 }, (_, i) => `user:${i}`)
  const results = await router.callMany(keys, { kind: 'deliver' })
  t.equal(results.length, 100)
  results.forEach((r, i) => t.ok(r.ok && (r.value as { key: string }).key === keys[i], `result ${i} in order`))
  t.equal(peers.get('n2')!.multiCalls.length, 1, 'one request to n2')
  t.equal(peers.get('n3')!.multiCalls.length, 1, 'one request to n3')
  t.equal(peers.get('n2')!.multiCalls[0]!.keys.length, 33, 'carrying all of its keys')
  t.equal(peers.get('n2')!.multiCalls[0]!.ringVersion, 7, 'with the ring version')
  t.equal(local.length, 34, 'local keys went into the runtime')
  t.equal(peers.get('n2')!.calls + peers.get('n3')!.calls, 0, 'no per-key requests')
})

t.test('a key the peer does not own is retried against the refreshed view', async (t) => {
  let moved = false
  const { router, peers } = await setup(t, (key) => (key === 'user:x' ? (moved ? 'n3' : 'n2') : 'n1'))
  // n2 answers WRONG_OWNER for user:x once the key has moved; the router's view catches up.
  peers.get('n2')!.owns = () => false
  setTimeout(() => { moved = true }, 30)
  const r = await router.call('user:x', { kind: 'profile' }) as { on: string }
  t.equal(r.on, 'n3', 'answered by the new owner')
  t.ok(peers.get('n2')!.calls >= 1, 'the old owner was asked first')
})

t.test('gives up with UNAVAILABLE after bounded retries', async (t) => {
  const { router, peers } = await setup(t, () => 'n2')
  peers.get('n2')!.owns = () => false
  const started = Date.now()
  await t.rejects(router.call('user:y', { kind: 'profile' }), { code: 'UNAVAILABLE' })
  t.ok(peers.get('n2')!.calls <= 8, `bounded attempts (${peers.get('n2')!.calls})`)
  t.ok(Date.now() - started < 8000, 'within a bounded time')
})

t.test('an unreachable owner is UNAVAILABLE, not a hang', async (t) => {
  const { router, peers, network } = await setup(t, () => 'n3')
  network.setDown(peers.get('n3')!.address, true)
  await t.rejects(router.call('user:z', { kind: 'profile' }), { code: 'UNAVAILABLE' })
})

t.test('pushes to another node are batched: one request per node per tick', async (t) => {
  const { view, transport, peers } = await setup(t, spread)
  const registry = new SessionRegistry(60_000)
  t.teardown(() => registry.closeAll(1000, 'done'))
  const pusher = new ClusterPusher(view, registry, transport, log, systemClock, systemRandom)
  for (let i = 0; i < 50; i++) pusher.push([{ node: 'n2', sessionId: `s${i}`, deviceId: 'd' }, { node: 'n3', sessionId: `t${i}`, deviceId: 'd' }], `{"op":"message","n":${i}}`)
  await new Promise((r) => setTimeout(r, 50))
  t.equal(peers.get('n2')!.pushes, 1, 'one push request to n2 for 50 frames')
  t.equal(peers.get('n3')!.pushes, 1, 'one push request to n3 for 50 frames')
})
