import { pino } from 'pino'
import type { Actors } from '../../src/actors/env.js'
import { systemClock } from '../../src/clock.js'
import type { ChatService } from '../../src/gateway/chat-service.js'
import { DeviceSession, type SessionDeps } from '../../src/gateway/device-session.js'
import { SessionRegistry } from '../../src/gateway/sessions.js'
import { Metrics } from '../../src/metrics.js'
import { systemRandom } from '../../src/random.js'
import { FakeSocket } from './fake-socket.js'

/**
 * A DeviceSession of `user`'s device d1 on a FakeSocket, not started, for gateway unit tests: a
 * user actor that answers `connect` with an empty inbox, no chat service, default limits;
 * `deps` replace any of them. Its registry is closed at the end of the test.
 */
export function fakeSession(t: { teardown(fn: () => unknown): void }, user: string, deps: Partial<SessionDeps> = {}): { socket: FakeSocket; s: DeviceSession } {
  const socket = new FakeSocket()
  const registry = new SessionRegistry(60_000)
  t.teardown(() => registry.closeAll(1000, 'done'))
  const s = new DeviceSession(socket as never, user, 'd1', { tid: 't', gen: 0, exp: Date.now() + 60_000 }, {
    nodeId: 'n1', service: {} as ChatService, actors: { user: async () => ({ inboxSeq: 0 }) } as unknown as Actors, registry,
    metrics: new Metrics({ actors: () => 0, connections: () => 0 }), log: pino({ level: 'silent' }),
    rateLimitPerSec: 50, rateBurst: 200, maxQueuedBytes: 8 << 20, now: Date.now, clock: systemClock, random: systemRandom,
    ...deps,
  })
  return { socket, s }
}
