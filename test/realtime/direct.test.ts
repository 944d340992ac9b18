/**
 * 1:1 channels over real sockets: both directions, implicit `dm:<a>:<b>` ids and their errors,
 * gap-free seq, idempotent resend, and the text and clientMsgId limits of the contract.
 */
import t from 'tap'
import { Device } from '../helpers/device.js'
import { InProcessNode } from '../helpers/in-process.js'
import { api, login } from '../helpers/node-process.js'

const node = await InProcessNode.start(t)
const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((u) => login(node.url, u)))
const AB = 'dm:alice:bob'

/** Sends and returns the reply, whatever it is (ack or error). */
const attempt = (d: Device, channel: string, text: string, clientMsgId: string) =>
  d.request({ op: 'send', channel, text, clientMsgId }, 30_000)

t.test('1:1 both ways: each side and the sender\'s own device get every message, seq without gaps', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice!, 'a1')
  const b = await Device.open(t, node.wsUrl, bob!, 'b1')
  const seqs: number[] = []
  for (let i = 0; i < 6; i++) {
    const [from, to] = i % 2 === 0 ? [a, b] : [b, a]
    const ack = await from.send(AB, `msg ${i}`, `both-ways-${i}`)
    t.equal(ack.op, 'ack')
    seqs.push(ack.seq)
    const got = await to.waitPush((f) => f.op === 'message' && f.clientMsgId === `both-ways-${i}`, `message ${i} at the other side`)
    t.match(got, { channel: AB, seq: ack.seq, from: i % 2 === 0 ? 'alice' : 'bob', text: `msg ${i}`, ts: ack.ts })
  }
  t.same(seqs, [1, 2, 3, 4, 5, 6], 'the channel numbers its messages 1, 2, 3...')
  for (const d of [a, b]) {
    await d.waitPush(() => d.messages(AB).length === 6, 'all six pushed')
    t.same(d.messages(AB).map((m) => m.seq), seqs, `${d.deviceId} got all six, own ones included, in order`)
    const inbox = d.messages(AB).map((m) => m.inboxSeq)
    t.same(inbox, inbox.map((_, i) => inbox[0] + i), `${d.deviceId}: inboxSeq has no gaps`)
  }
  const history = await a.request({ op: 'history', channel: AB })
  t.same(history.messages.map((m: any) => m.text), seqs.map((_, i) => `msg ${i}`))
})

t.test('1:1 ids: canonical form, non-canonical accepted, self and unknown refused', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice!, 'a2')
  const c = await Device.open(t, node.wsUrl, carol!, 'c1')
  const flipped = await attempt(a, 'dm:carol:alice', 'flipped', 'ids-1')
  t.match(flipped, { op: 'ack', channel: 'dm:alice:carol', seq: 1 }, 'dm:carol:alice is answered as dm:alice:carol')
  const got = await c.waitPush((f) => f.op === 'message' && f.clientMsgId === 'ids-1', 'push to carol')
  t.equal(got.channel, 'dm:alice:carol', 'pushes use the canonical id')
  const hist = await c.request({ op: 'history', channel: 'dm:carol:alice' })
  t.equal(hist.channel, 'dm:alice:carol', 'history answers with the canonical id')

  t.match(await attempt(a, 'dm:alice:alice', 'me', 'ids-2'), { op: 'error', code: 'BAD_FRAME' }, 'a 1:1 with oneself')
  t.match(await attempt(a, 'dm:alice:nobody_here', 'x', 'ids-3'), { op: 'error', code: 'NOT_FOUND' }, 'a user that does not exist')
  for (const bad of ['dm:alice', 'dm:alice:bob:carol', 'dm:Alice:bob', 'dm:al:bob', 'alice', 'g:', 'g:has space', '']) {
    t.match(await attempt(a, bad, 'x', 'ids-4'), { op: 'error', code: 'BAD_FRAME' }, `malformed id ${JSON.stringify(bad)}`)
  }
  t.match(await attempt(a, 'g:doesnotexist', 'x', 'ids-5'), { op: 'error', code: 'NOT_FOUND' }, 'a group that does not exist')
  t.match(await attempt(c, AB, 'let me in', 'ids-6'), { op: 'error', code: 'FORBIDDEN' }, 'a 1:1 between two others')
  t.match(await c.request({ op: 'history', channel: AB }), { op: 'error', code: 'FORBIDDEN' }, 'its history too')

  const emptyHist = await Device.open(t, node.wsUrl, bob!, 'b2').then((b) => b.request({ op: 'history', channel: 'dm:carol:bob' }))
  t.same(emptyHist.messages, [], 'a 1:1 with no messages yet exists and is empty')
  t.equal(emptyHist.channel, 'dm:bob:carol')
  const httpHist = await api(node.url, 'GET', '/v1/channels/dm:carol:alice/messages', undefined, alice)
  t.equal(httpHist.status, 200)
  t.equal(httpHist.body.messages[0]?.channel, 'dm:alice:carol')
  t.equal((await api(node.url, 'GET', '/v1/channels/dm:alice:alice/messages', undefined, alice)).status, 400)
})

t.test('send is idempotent on (channel, clientMsgId)', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice!, 'a3')
  const b = await Device.open(t, node.wsUrl, bob!, 'b3')
  const first = await a.send(AB, 'once only', 'idem-1')
  const again = await a.send(AB, 'once only', 'idem-1')
  const changed = await a.send(AB, 'different text, same id', 'idem-1')
  t.same(again, { ...first, ref: again.ref }, 'a resend returns the first seq and ts')
  t.equal(changed.seq, first.seq, 'even with other text')
  const other = await Device.open(t, node.wsUrl, alice!, 'a4')
  t.equal((await other.send(AB, 'once only', 'idem-1')).seq, first.seq, 'and from another device of the sender')
  const elsewhere = await a.send('dm:alice:carol', 'same id, other channel', 'idem-1')
  t.equal(elsewhere.op, 'ack', 'the same clientMsgId in another channel is another message')
  t.not(elsewhere.channel, first.channel)

  const barrier = await a.send(AB, 'after the resends', 'idem-2')
  t.equal(barrier.seq, first.seq + 1, 'resends consumed no seq')
  await b.waitPush((f) => f.clientMsgId === 'idem-2', 'barrier message')
  t.equal(b.messages(AB).filter((m) => m.clientMsgId === 'idem-1').length, 1, 'the receiver got it once')
  const history = await b.request({ op: 'history', channel: AB, after: first.seq - 1 })
  t.same(history.messages.map((m: any) => [m.seq, m.text]), [[first.seq, 'once only'], [barrier.seq, 'after the resends']])
  const events = await b.syncAll(b.ready.inboxSeq)
  t.equal(events.filter((e) => e.clientMsgId === 'idem-1').length, 1, 'one inbox event')
})

t.test('text is 1..100000 code points; astral characters count once', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice!, 'a5')
  const b = await Device.open(t, node.wsUrl, bob!, 'b5')
  const astral = '\u{1F600}'.repeat(100_000)
  t.equal(astral.length, 200_000, '200,000 UTF-16 units')
  const ack = await attempt(a, AB, astral, 'big-astral')
  t.equal(ack.op, 'ack', '100,000 astral code points are accepted')
  const pushed = await b.waitPush((f) => f.clientMsgId === 'big-astral', 'the big message pushed', 20_000)
  t.ok(pushed.text === astral, 'and pushed intact')
  const [stored] = (await b.request({ op: 'history', channel: AB, after: ack.seq - 1, limit: 1 })).messages
  t.ok(stored.text === astral, 'and stored intact')

  const mixed = '\u{1F600}'.repeat(99_999) + 'x'
  t.equal((await attempt(a, AB, mixed, 'mixed-edge')).op, 'ack', '99,999 astral plus one ASCII is exactly the limit')
  t.equal((await attempt(a, AB, 'y'.repeat(100_000), 'ascii-edge')).op, 'ack', '100,000 ASCII characters')

  const tooLong = await attempt(a, AB, 'z'.repeat(100_001), 'too-long')
  t.match(tooLong, { op: 'error', code: 'MESSAGE_TOO_LARGE' }, '100,001 characters are refused')
  t.match(await attempt(a, AB, astral + '\u{1F600}', 'too-long-astral'), { op: 'error', code: 'MESSAGE_TOO_LARGE' }, '100,001 astral code points too')
  t.match(await attempt(a, AB, '', 'empty'), { op: 'error', code: 'BAD_FRAME' }, 'empty text is BAD_FRAME')
  t.match(await a.request({ op: 'send', channel: AB, text: 42, clientMsgId: 'num' }), { op: 'error', code: 'BAD_FRAME' }, 'text must be a string')
  const after = await a.send(AB, 'still fine', 'after-limits')
  const refused = ['too-long', 'too-long-astral', 'empty', 'num']
  const hist = await a.request({ op: 'history', channel: AB, after: ack.seq - 1 })
  t.equal(hist.messages.length, 4, 'refused sends stored nothing')
  t.equal(after.seq, ack.seq + 3, 'and took no seq')
  t.notOk(hist.messages.some((m: any) => refused.includes(m.clientMsgId)))
})

t.test('clientMsgId is 1..64 characters of [A-Za-z0-9_-]', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice!, 'a6')
  t.equal((await attempt(a, AB, 'ok', 'A'.repeat(64))).op, 'ack', '64 characters')
  t.equal((await attempt(a, AB, 'ok', 'aZ09_-')).op, 'ack', 'every allowed class')
  for (const bad of ['', 'A'.repeat(65), 'has space', 'dot.ted', 'ünï', 'semi;colon']) {
    t.match(await attempt(a, AB, 'x', bad), { op: 'error', code: 'BAD_FRAME' }, `clientMsgId ${JSON.stringify(bad.slice(0, 12))}`)
  }
  t.match(await a.request({ op: 'send', channel: AB, text: 'x', clientMsgId: 7 }), { op: 'error', code: 'BAD_FRAME' }, 'a number')
  t.match(await a.request({ op: 'send', channel: AB, text: 'x' }), { op: 'error', code: 'BAD_FRAME' }, 'missing')
})
