/**
 * Fuzzing the WebSocket protocol against a live node (fast-check): random and mutated frames from
 * one user. Every reply is a contract frame or a contract error (never INTERNAL, never internal
 * text), the socket stays open, the node stays healthy, another user's session is unaffected,
 * and nothing is stored where the fuzzing user may not write. `npm run fuzz -- --runs N` runs more.
 */
import fc from 'fast-check'
import t from 'tap'
import { Device } from '../helpers/device.js'
import { NodeProcess, api, login } from '../helpers/node-process.js'
import { RUNS, SEED, TIME_MS, type World, frame } from './arbitraries.js'
import { badFrame, bugLines } from './check.js'

const node = await NodeProcess.start(t, { args: ['--rate-limit', '1000', '--rate-burst', '1000'] })
const [mallory, , alice, bob] = await Promise.all(['fz_mallory', 'fz_friend', 'fz_alice', 'fz_bob'].map((u) => login(node.url, u)))
const group = (await api(node.url, 'POST', '/v1/groups', { name: 'victims', members: ['fz_bob'] }, alice)).body.channel.id as string
const world: World = { self: 'fz_mallory', friend: 'fz_friend', victims: ['fz_alice', 'fz_bob'], group }

t.test(`random and mutated frames (${RUNS} runs)`, async (t) => {
  const m = await Device.open(t, node.wsUrl, mallory!, 'm')
  const b = await Device.open(t, node.wsUrl, bob!, 'b')
  const a = await Device.open(t, node.wsUrl, alice!, 'a')

  let probe = 0
  await fc.assert(fc.asyncProperty(frame(world), async (text) => {
    const from = m.pushes.length
    m.raw(text)
    // A ping after the frame: every reply to the frame has arrived once the pong has.
    const pong = await m.request({ op: 'ping', probe: ++probe }, 15_000)
    if (pong.op !== 'pong') throw new Error(`the probe got ${JSON.stringify(pong).slice(0, 200)}`)
    for (const f of m.pushes.slice(from)) {
      const bad = badFrame(f)
      if (bad) throw new Error(`${bad}: reply ${JSON.stringify(f).slice(0, 200)} to ${text.slice(0, 200)}`)
    }
    if (m.closed) throw new Error(`socket closed ${m.closed.code} after ${text.slice(0, 200)}`)
  }), { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), interruptAfterTimeLimit: TIME_MS })

  t.equal((await api(node.url, 'GET', '/healthz')).status, 200, 'the node is healthy')
  t.match(await b.request({ op: 'ping' }), { op: 'pong' }, "another user's socket still answers")
  t.equal((await a.send('dm:fz_alice:fz_bob', 'still here', 'after-fuzz')).op, 'ack', 'and chats')
  await b.waitPush((f) => f.op === 'message' && f.clientMsgId === 'after-fuzz', 'the message reaches bob')
  const dm = await api(node.url, 'GET', '/v1/channels/dm:fz_alice:fz_bob/messages?limit=200', undefined, alice)
  t.ok(dm.body.messages.every((x: any) => x.from === 'fz_alice' || x.from === 'fz_bob'), 'nothing from the fuzzer in a channel it is not in')
  const g = await api(node.url, 'GET', `/v1/channels/${group}/messages?limit=200`, undefined, alice)
  t.ok(g.body.messages.every((x: any) => x.from !== 'fz_mallory'), 'nor in a group it is not in')
  t.same((await api(node.url, 'GET', `/v1/channels/${group}/messages`, undefined, mallory)).status, 403, 'and it did not join the group')
  t.same(bugLines(node), [], 'no error lines in the node log')
})
