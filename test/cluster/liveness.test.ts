import t from 'tap'
import { LivenessView } from '../../src/cluster/liveness.js'
import { parseHeartbeat } from '../../src/cluster/membership-nats.js'
import type { Heartbeat } from '../../src/cluster/membership.js'

const DEAD = 1000
const hb = (id: string, leaving = false): Heartbeat =>
  ({ id, http: `http://127.0.0.1:80/${id}`, grpc: `127.0.0.1:90/${id}`, connections: 0, actors: 0, leaving })

/** A view on a clock the test moves by hand; self is 'me'. */
function setup() {
  let clock = 10_000
  const view = new LivenessView('me', DEAD, () => clock)
  const advance = (ms: number) => { clock += ms }
  const echo = () => view.observe(hb('me'))
  return { view, advance, echo }
}

t.test('a heartbeat brings a member up; silence longer than deadAfterMs takes it down', async (t) => {
  const { view, advance, echo } = setup()
  t.same(view.observe(hb('p')).map((e) => e.type), ['up'])
  t.same(view.observe(hb('p')), [], 'no second up')
  t.ok(view.isLive('p'))
  advance(DEAD)
  echo()
  t.same(view.sweep(), [], 'exactly deadAfterMs is not yet down')
  advance(1)
  echo()
  t.same(view.sweep(), [{ type: 'down', id: 'p' }])
  t.notOk(view.isLive('p'))
  t.same(view.sweep(), [], 'down is reported once')
  t.equal(view.known('p')?.id, 'p', 'addresses stay known')
  t.same(view.observe(hb('p')).map((e) => e.type), ['up'], 'a member can come back')
})

t.test('a leaving heartbeat takes a member down at once', async (t) => {
  const { view } = setup()
  view.observe(hb('p'))
  t.same(view.observe(hb('p', true)), [{ type: 'down', id: 'p' }])
  t.same(view.observe(hb('p', true)), [], 'repeated announcements say nothing new')
  t.notOk(view.isLive('p'))
  t.same(view.live(), [])
})

t.test('while disconnected nobody goes down; after reconnecting peers get a full grace period', async (t) => {
  const { view, advance, echo } = setup()
  view.observe(hb('p'))
  view.setConnected(false)
  advance(10 * DEAD)
  t.same(view.sweep(), [], 'frozen')
  t.ok(view.isLive('p'))
  view.setConnected(true)
  advance(DEAD - 1)
  echo()
  t.same(view.sweep(), [], 'grace counts from the reconnect')
  advance(2)
  echo()
  t.same(view.sweep(), [{ type: 'down', id: 'p' }], 'then the usual timeout applies')
})

t.test('when our own heartbeats stop returning, the view freezes until they do', async (t) => {
  const { view, advance, echo } = setup()
  echo()
  view.observe(hb('p'))
  advance(5 * DEAD)
  t.ok(view.frozen(), 'no echo for longer than deadAfterMs')
  t.same(view.sweep(), [])
  echo()
  t.notOk(view.frozen())
  advance(DEAD - 1)
  t.same(view.sweep(), [], 'grace counts from the returning echo')
  echo()
  advance(2)
  t.same(view.sweep(), [{ type: 'down', id: 'p' }])
})

t.test('self is never tracked as a peer', async (t) => {
  const { view, echo } = setup()
  echo()
  t.notOk(view.isLive('me'))
  t.same(view.live(), [])
})

t.test('silentFor counts from the view start for members never heard', async (t) => {
  const { view, advance } = setup()
  advance(500)
  t.equal(view.silentFor('never'), 500)
  view.observe(hb('p'))
  advance(200)
  t.equal(view.silentFor('p'), 200)
})

t.test('parseHeartbeat accepts only well-formed heartbeats', async (t) => {
  const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v))
  t.same(parseHeartbeat(enc({ ...hb('p'), connections: 3, actors: 4, region: 'eu', extra: 1 })),
    { ...hb('p'), connections: 3, actors: 4, region: 'eu' })
  t.equal(parseHeartbeat(enc('not json')), undefined)
  t.equal(parseHeartbeat(enc(null)), undefined)
  t.equal(parseHeartbeat(enc({ id: 'p' })), undefined, 'addresses are required')
  t.equal(parseHeartbeat(enc({ ...hb('p'), id: 7 })), undefined)
  const odd = parseHeartbeat(enc({ ...hb('p'), connections: -5, actors: 'many', leaving: 'yes' }))
  t.same(odd, hb('p'), 'bad numbers read as 0, leaving only when true')
})
