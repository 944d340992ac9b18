// Pushes to another node keep their order: one push call per node is in flight at a time, and
// what is pushed meanwhile waits and leaves as one batch once the call is answered. Concurrent
// calls could be handled out of order by the receiving node (a device would then see inbox event
// 3 before event 2: a gap and a repeat).
import t from 'tap'
import { pino } from 'pino'
import { systemClock } from '../../src/clock.js'
import { ClusterPusher } from '../../src/cluster/pusher.js'
import { MemoryNetwork, MemoryTransport } from '../../src/cluster/transport-memory.js'
import type { PushBatch, Reply, TransportHandlers } from '../../src/cluster/transport.js'
import type { ClusterView } from '../../src/cluster/view.js'
import { SessionRegistry } from '../../src/gateway/sessions.js'
import { systemRandom } from '../../src/random.js'
import { waitFor } from '../helpers/wait.js'

const device = { node: 'n2', sessionId: 's1', deviceId: 'd' }
const frame = (inboxSeq: number) => `{"op":"message","inboxSeq":${inboxSeq}}`

t.test('a push waits for the call before it, then everything waiting leaves in one batch, in order', async (t) => {
  const network = new MemoryNetwork()
  const received: PushBatch[] = []
  const gates: Array<() => void> = []
  let concurrent = 0
  let maxConcurrent = 0
  const handlers: TransportHandlers = {
    async call(): Promise<Reply> { return { ok: true, body: null } },
    async callMany(): Promise<Reply[]> { return [] },
    async push(batch) {
      concurrent++
      maxConcurrent = Math.max(maxConcurrent, concurrent)
      received.push(batch)
      // The receiving node is slow: each call is answered only when the test opens its gate.
      await new Promise<void>((resolve) => gates.push(resolve))
      concurrent--
    },
    async peer() { return { ok: true, body: null } },
  }
  const n2 = new MemoryTransport(network)
  t.teardown(() => n2.close())
  const address = `mem:${await n2.listen('mem', 0, handlers)}`
  const view = { self: 'n1', version: 1, address: () => address, isLive: () => true } as unknown as ClusterView
  const transport = new MemoryTransport(network)
  t.teardown(() => transport.close())
  const registry = new SessionRegistry(60_000)
  t.teardown(() => registry.closeAll(1000, 'done'))
  const counts = { failed: 0, dropped: 0 }
  const pusher = new ClusterPusher(view, registry, transport, pino({ level: 'silent' }), systemClock, systemRandom, {
    failed: (n) => { counts.failed += n }, dropped: (n) => { counts.dropped += n }, abandoned: () => {},
  })
  t.teardown(() => pusher.stop())

  pusher.push([device], frame(1))
  await waitFor(() => received.length === 1, { what: 'the first call' })
  // Three more ticks of pushes while the first call is unanswered.
  for (const seq of [2, 3, 4]) {
    pusher.push([device], frame(seq))
    await new Promise((r) => setImmediate(r))
  }
  await new Promise((r) => setTimeout(r, 50))
  t.equal(received.length, 1, 'no second call while the first is in flight')
  gates.shift()!()
  await waitFor(() => received.length === 2, { what: 'the second call' })
  t.same(received[1]!.pushes.map((p) => p.frame), [frame(2), frame(3), frame(4)], 'what waited left as one batch, in order')
  gates.shift()!()
  pusher.push([device], frame(5))
  await waitFor(() => received.length === 3, { what: 'the third call' })
  gates.shift()!()
  const order = received.flatMap((b) => b.pushes.map((p) => p.frame))
  t.same(order, [1, 2, 3, 4, 5].map(frame), 'every frame arrived once, in the order pushed')
  t.equal(maxConcurrent, 1, 'never two calls to one node at once')
  t.equal(counts.failed + counts.dropped, 0)
})
