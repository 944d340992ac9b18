/**
 * A socket's send queue is counted in bytes including the frame being written: a frame that would
 * take the unsent bytes past --max-queued-bytes closes the socket with 1013 instead of being
 * queued (the device reconnects and syncs); a frame into an empty queue always goes.
 */
import { systemClock } from '../../src/clock.js'
import { systemRandom } from '../../src/random.js'
import { pino } from 'pino'
import { FakeSocket } from '../helpers/fake-socket.js'
import t from 'tap'
import type { Actors } from '../../src/actors/env.js'
import { DeviceSession } from '../../src/gateway/device-session.js'
import type { ChatService } from '../../src/gateway/chat-service.js'
import { SessionRegistry } from '../../src/gateway/sessions.js'
import { Metrics } from '../../src/metrics.js'


const KiB = 1024

async function session(t: { teardown(fn: () => unknown): void }, maxQueuedBytes: number) {
  const socket = new FakeSocket()
  const registry = new SessionRegistry(60_000)
  t.teardown(() => registry.closeAll(1000, 'done'))
  const actors = { user: async () => ({ inboxSeq: 0 }) } as unknown as Actors
  const s = new DeviceSession(socket as never, 'alice', 'd1', { tid: 't', gen: 0, exp: Date.now() + 60_000 }, {
    nodeId: 'n1', service: {} as ChatService, actors, registry, metrics: new Metrics({ actors: () => 0, connections: () => 0 }),
    log: pino({ level: 'silent' }), rateLimitPerSec: 50, rateBurst: 200, maxQueuedBytes, now: Date.now, clock: systemClock, random: systemRandom,
  })
  await s.start()
  return { socket, s }
}

t.test('a frame that would pass the bound closes the socket with 1013 instead of queueing', async (t) => {
  const { socket, s } = await session(t, 1024 * KiB)
  t.equal(socket.sent.length, 1, 'ready was sent')
  socket.bufferedAmount = 600 * KiB
  s.push(JSON.stringify({ op: 'message', text: 'x'.repeat(500 * KiB) }))
  t.equal(socket.closed, 1013, 'closed with 1013')
  t.equal(socket.sent.length, 1, 'the frame was not queued: unsent bytes stay within the bound')
})

t.test('a frame that fits is queued; a large frame into an empty queue always goes', async (t) => {
  const { socket, s } = await session(t, 1024 * KiB)
  socket.bufferedAmount = 100 * KiB
  s.push(JSON.stringify({ op: 'message', text: 'x'.repeat(500 * KiB) }))
  t.equal(socket.closed, null, 'fits: not closed')
  t.equal(socket.sent.length, 2)
  socket.bufferedAmount = 0
  s.push(JSON.stringify({ op: 'message', text: 'y'.repeat(2048 * KiB) }))
  t.equal(socket.closed, null, 'a frame larger than the bound still goes out into an empty queue')
  t.equal(socket.sent.length, 3)
})
