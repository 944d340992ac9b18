import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect } from '@nats-io/transport-node'
import { NatsMembership, type NatsMembershipOptions } from '../../src/cluster/membership-nats.js'
import { MemoryBus, MemoryMembership } from '../../src/cluster/membership-memory.js'
import type { MemberInfo, Membership, MembershipEvent } from '../../src/cluster/membership.js'
import { startNats, type NatsServer } from '../helpers/nats.js'
import { waitFor } from '../helpers/wait.js'

const HEARTBEAT_MS = 200
const DEAD_AFTER_MS = 800

const info = (id: string): MemberInfo => ({ id, http: `http://127.0.0.1:80/${id}`, grpc: `127.0.0.1:90/${id}` })
const ids = (m: { id: string }[]) => m.map((x) => x.id).sort()

/** Every event a member emits, with the time it arrived. */
function record(m: Membership): { e: MembershipEvent; at: number }[] {
  const seen: { e: MembershipEvent; at: number }[] = []
  m.on((e) => seen.push({ e, at: Date.now() }))
  return seen
}
const downs = (seen: { e: MembershipEvent }[]) => seen.flatMap(({ e }) => (e.type === 'down' ? [e.id] : []))

/** All of `ms` see exactly `want` in their record, at one version. */
function converged(ms: Membership[], want: string[]): boolean {
  const v = ms[0]!.ring().version
  return ms.every((m) => m.ring().version === v && ids(m.ring().members).join() === [...want].sort().join())
}

function allLive(ms: Membership[]): boolean {
  return ms.every((m) => ms.every((o) => m.isLive(o.self.id)))
}

function natsMember(t: Test, server: NatsServer, cluster: string, id: string, extra: Partial<NatsMembershipOptions> = {}) {
  const m = new NatsMembership({
    servers: server.url, cluster, self: info(id), heartbeatMs: HEARTBEAT_MS, deadAfterMs: DEAD_AFTER_MS,
    reconnectWaitMs: 100, ...extra,
  })
  t.teardown(() => m.stop())
  return m
}

t.test('nats', async (t) => {
  const server = await startNats()
  t.teardown(() => server.stop())
  const trio = async (t: Test, extra: Partial<NatsMembershipOptions> = {}) => {
    const cluster = `c${randomUUID().slice(0, 8)}`
    const ms = ['a', 'b', 'c'].map((id) => natsMember(t, server, cluster, id, extra))
    for (const m of ms) await m.start()
    await waitFor(() => converged(ms, ['a', 'b', 'c']) && allLive(ms), { what: 'three members joined and live' })
    return Object.assign(ms as [NatsMembership, NatsMembership, NatsMembership], { cluster })
  }

  t.test('three members join and converge on one record', async (t) => {
    const cluster = `c${randomUUID().slice(0, 8)}`
    const [a, b, c] = ['a', 'b', 'c'].map((id) => natsMember(t, server, cluster, id))
    const seenByA = record(a!)
    await a!.start()
    t.same(ids(a!.ring().members), ['a'], 'start() resolves with self in the record')
    await b!.start()
    await c!.start()
    await waitFor(() => converged([a!, b!, c!], ['a', 'b', 'c']), { what: 'one record on every member' })
    t.same(b!.ring(), a!.ring())
    t.same(c!.ring(), a!.ring())
    t.same(a!.ring().members.find((m) => m.id === 'b'), info('b'), 'addresses are stored')
    const versions = seenByA.flatMap(({ e }) => (e.type === 'ring' ? [e.ring.version] : []))
    t.ok(versions.length >= 3, `a saw the record change (${versions})`)
    t.ok(versions.every((v, i) => i === 0 || v > versions[i - 1]!), 'versions only increase')
  })

  t.test('a newcomer has heard every member by the time start() resolves, long before the next beat', async (t) => {
    const cluster = `c${randomUUID().slice(0, 8)}`
    // Beats every 30 s: only the answer to the newcomer's first beat can make the peers live to it.
    const slow = { heartbeatMs: 30_000, deadAfterMs: 90_000 }
    const [a, b] = ['a', 'b'].map((id) => natsMember(t, server, cluster, id, slow))
    await a!.start()
    await b!.start()
    t.ok(b!.isLive('a'), 'b hears a before it joins')
    const c = natsMember(t, server, cluster, 'c', slow)
    await c.start()
    t.same(['a', 'b'].filter((id) => !c.isLive(id)), [], 'no member of the record is down to the newcomer')
  })

  t.test('heartbeats make members live; a silent member goes down but stays in the record', async (t) => {
    const [a, b, c] = await trio(t)
    const seenByA = record(a)
    a.setLoad({ connections: 5, actors: 7 })
    await waitFor(() => b.live().find((m) => m.id === 'a')?.connections === 5, { what: 'load carried by heartbeats' })
    t.equal(b.live().find((m) => m.id === 'a')?.actors, 7)
    const stoppedAt = Date.now()
    await c.stop()
    await waitFor(() => !a.isLive('c') && !b.isLive('c'), { timeout: 4 * DEAD_AFTER_MS, what: 'c declared down' })
    const down = seenByA.find(({ e }) => e.type === 'down' && e.id === 'c')
    t.ok(down, 'a emitted down for c')
    t.ok(down!.at - stoppedAt >= DEAD_AFTER_MS - HEARTBEAT_MS, `not before the timeout (${down!.at - stoppedAt} ms)`)
    t.same(ids(a.ring().members), ['a', 'b', 'c'], 'liveness never changes the record')
    t.same(ids(b.ring().members), ['a', 'b', 'c'])
    t.same(ids(a.live()), ['a', 'b'])
  })

  t.test('leave() removes self from the record and peers see it down at once', async (t) => {
    const [a, b, c] = await trio(t)
    const seenByA = record(a)
    const leftAt = Date.now()
    await b.leave()
    t.notOk(b.isLive('b'), 'a leaving member no longer counts itself live')
    await waitFor(() => converged([a, b, c], ['a', 'c']), { what: 'record without b everywhere' })
    await waitFor(() => downs(seenByA).includes('b'), { what: 'down for b' })
    const down = seenByA.find(({ e }) => e.type === 'down' && e.id === 'b')!
    t.ok(down.at - leftAt < DEAD_AFTER_MS / 2, `down came from the announcement, not the timeout (${down.at - leftAt} ms)`)
  })

  t.test('remove(id) takes another member out of the record', async (t) => {
    const [a, b, c] = await trio(t)
    await c.stop()
    await a.remove('c')
    await waitFor(() => converged([a, b], ['a', 'b']), { what: 'record without c' })
    const v = a.ring().version
    await a.remove('c')
    t.equal(a.ring().version, v, 'removing an absent member changes nothing')
  })

  t.test('concurrent joins all land', async (t) => {
    const cluster = `c${randomUUID().slice(0, 8)}`
    const names = ['n1', 'n2', 'n3', 'n4', 'n5']
    const ms = names.map((id) => natsMember(t, server, cluster, id))
    await Promise.all(ms.map((m) => m.start()))
    await waitFor(() => converged(ms, names), { what: 'all five in one record' })
    t.ok(ms[0]!.ring().version >= 5, 'each join was its own compare-and-set')
  })

  t.test('members not in the record are tracked; malformed heartbeats are ignored', async (t) => {
    const members = await trio(t)
    const [a] = members
    const nc = await connect({ servers: server.url })
    t.teardown(() => nc.close())
    const subject = `${members.cluster}.members.heartbeat`
    nc.publish(subject, 'not json')
    nc.publish(subject, JSON.stringify({ id: 'x' }))
    const ghost = { ...info('ghost'), connections: 1, actors: 0, leaving: false }
    const beat = setInterval(() => nc.publish(subject, JSON.stringify(ghost)), HEARTBEAT_MS)
    t.teardown(() => clearInterval(beat))
    await waitFor(() => a.isLive('ghost'), { what: 'ghost live' })
    t.notOk(a.ring().members.some((m) => m.id === 'ghost'), 'live without being in the record')
    t.notOk(a.isLive('x'))
    clearInterval(beat)
    await waitFor(() => !a.isLive('ghost'), { timeout: 4 * DEAD_AFTER_MS, what: 'ghost down' })
  })

  t.test('autoRemoveAfterMs removes a long-down member', async (t) => {
    const [a, b, c] = await trio(t, { autoRemoveAfterMs: 400 })
    const stoppedAt = Date.now()
    await c.stop()
    await waitFor(() => converged([a, b], ['a', 'b']), { timeout: 10 * DEAD_AFTER_MS, what: 'c auto-removed' })
    t.ok(Date.now() - stoppedAt >= DEAD_AFTER_MS + 400 - HEARTBEAT_MS, 'not before it was down that long')
  })

  t.test('membership survives a NATS crash without declaring anyone down', async (t) => {
    const own = await startNats()
    t.teardown(() => own.stop())
    const cluster = `c${randomUUID().slice(0, 8)}`
    const ms = ['a', 'b', 'c'].map((id) => natsMember(t, own, cluster, id))
    const seen = ms.map(record)
    for (const m of ms) await m.start()
    await waitFor(() => converged(ms, ['a', 'b', 'c']) && allLive(ms), { what: 'three live members' })
    const natsEvents = (i: number) => seen[i]!.flatMap(({ e }) => (e.type === 'nats' ? [e.connected] : []))

    await own.kill()
    await waitFor(() => ms.every((_, i) => natsEvents(i).includes(false)), { what: 'disconnect noticed' })
    await sleep(2 * DEAD_AFTER_MS)
    t.same(seen.flatMap(downs), [], 'nobody declared down during the outage')
    t.ok(allLive(ms), 'everybody still live')

    await own.restart()
    const restartedAt = Date.now()
    await waitFor(() => ms.every((_, i) => natsEvents(i).at(-1) === true), { timeout: 5000, what: 'reconnected' })
    await waitFor(() => ms.every((m) => m.live().every((p) => p.id === m.self.id || p.lastSeen > restartedAt)),
      { what: 'heartbeats resumed' })
    await sleep(DEAD_AFTER_MS + 2 * HEARTBEAT_MS)
    t.same(seen.flatMap(downs), [], 'nobody declared down after the restart')
    t.ok(allLive(ms), 'everybody still live')

    await ms[2]!.leave()
    await waitFor(() => converged(ms.slice(0, 2), ['a', 'b']), { what: 'record changes flow again' })
  })
})

t.test('memory', async (t) => {
  const FAST = { heartbeatMs: 50, deadAfterMs: 200, opTimeoutMs: 300 }
  const group = async (t: Test, bus: MemoryBus, names: string[], extra = {}) => {
    const ms = names.map((id) => new MemoryMembership({ bus, cluster: 'mem', self: info(id), ...FAST, ...extra }))
    for (const m of ms) t.teardown(() => m.stop())
    await Promise.all(ms.map((m) => m.start()))
    await waitFor(() => converged(ms, names) && allLive(ms), { what: `${names} joined and live` })
    return ms
  }

  t.test('join, liveness, leave and remove', async (t) => {
    const [a, b, c, d] = await group(t, new MemoryBus(), ['a', 'b', 'c', 'd'])
    const seenByA = record(a!)
    await d!.stop()
    await waitFor(() => downs(seenByA).includes('d'), { what: 'd down' })
    t.same(ids(a!.ring().members), ['a', 'b', 'c', 'd'], 'still in the record')
    await c!.leave()
    await waitFor(() => converged([a!, b!], ['a', 'b', 'd']), { what: 'c left' })
    t.ok(downs(seenByA).includes('c'))
    await b!.remove('d')
    await waitFor(() => converged([a!, b!], ['a', 'b']), { what: 'd removed' })
  })

  t.test('a newcomer has heard every member by the time start() resolves; one never heard delays it at most dead-after', async (t) => {
    const bus = new MemoryBus()
    const slow = { heartbeatMs: 30_000, deadAfterMs: 400, opTimeoutMs: 300 }
    const [a, b] = await group(t, bus, ['a', 'b'], slow)
    const c = new MemoryMembership({ bus, cluster: 'mem', self: info('c'), ...slow })
    t.teardown(() => c.stop())
    await c.start()
    t.same([a!, b!].filter((m) => !c.isLive(m.self.id)).map((m) => m.self.id), [], 'no member of the record is down to the newcomer')
    // b is gone without a word; a newcomer cannot hear it, waits dead-after and joins anyway.
    await b!.stop()
    const d = new MemoryMembership({ bus, cluster: 'mem', self: info('d'), ...slow })
    t.teardown(() => d.stop())
    const started = Date.now()
    await d.start()
    const waited = Date.now() - started
    t.ok(waited >= slow.deadAfterMs - 50 && waited < 5 * slow.deadAfterMs, `joined after waiting about dead-after for b (${waited} ms)`)
    t.ok(d.isLive('a') && d.isLive('c') && !d.isLive('b'), 'a and c are live to it, b is not')
  })

  t.test('a bus outage freezes liveness; afterwards peers get a full grace period', async (t) => {
    const bus = new MemoryBus()
    const ms = await group(t, bus, ['a', 'b', 'c'])
    const seen = ms.map(record)
    bus.setConnected(false)
    await sleep(3 * FAST.deadAfterMs)
    t.same(seen.flatMap(downs), [])
    t.ok(allLive(ms))
    await t.rejects(ms[0]!.remove('c').then(() => 'removed'), 'record changes fail while the bus is down')
    bus.setConnected(true)
    await sleep(2 * FAST.deadAfterMs)
    t.same(seen.flatMap(downs), [])
    t.ok(allLive(ms))
    t.ok(seen.every((s) => s.some(({ e }) => e.type === 'nats' && e.connected)), 'reconnect reported')
  })

  t.test('autoRemoveAfterMs and a throwing listener', async (t) => {
    const [a, b, c] = await group(t, new MemoryBus(), ['a', 'b', 'c'], { autoRemoveAfterMs: 100 })
    a!.on(() => { throw new Error('listener bug') })
    const seenByA = record(a!)
    await c!.stop()
    await waitFor(() => converged([a!, b!], ['a', 'b']), { what: 'c auto-removed' })
    t.ok(downs(seenByA).includes('c'), 'later listeners still ran')
  })
})
