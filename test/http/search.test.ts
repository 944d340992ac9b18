/**
 * `GET /v1/search` and the WebSocket `search` op against a real node: words matched without
 * regard to case or accents, every word required, only the asker's channels (never another
 * user's, not a group they left, yes a group they joined late), deleted messages never found and
 * edited ones only by their newest text, newest first, paging by cursor without gaps or repeats,
 * and the limits on the query and the page.
 */
import t from 'tap'
import { type SearchKey, compareKeys } from '../../src/actors/search-index.js'
import { Device } from '../helpers/device.js'
import { NodeProcess, api, login } from '../helpers/node-process.js'

const node = await NodeProcess.start(t, { args: ['--rate-limit', '1000', '--rate-burst', '1000'] })
const users = ['alice', 'bob', 'carol', 'dave', 'erin'] as const
type User = (typeof users)[number]
const tok = Object.fromEntries(await Promise.all(users.map(async (u) => [u, await login(node.url, u)] as const))) as Record<User, string>
const newGroup = async (by: User, members: User[]) => (await api(node.url, 'POST', '/v1/groups', { name: 'g', members }, tok[by])).body.channel.id as string
const G1 = await newGroup('alice', ['bob', 'carol'])
const G2 = await newGroup('alice', ['dave'])
const G3 = await newGroup('bob', ['carol'])
const AB = 'dm:alice:bob'
const CD = 'dm:carol:dave'
const dev = Object.fromEntries(await Promise.all(users.map(async (u) => [u, await Device.open(t, node.wsUrl, tok[u], `${u}-1`)] as const))) as Record<User, Device>

let ids = 0
async function send(from: User, channel: string, text: string): Promise<number> {
  const ack = await dev[from].send(channel, text, `s-${++ids}`)
  if (ack.op !== 'ack') throw new Error(`send: ${JSON.stringify(ack)}`)
  return ack.seq
}

async function search(as: User, params: Record<string, string | number>): Promise<{ status: number; body: any }> {
  const q = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))
  return api(node.url, 'GET', `/v1/search?${q}`, undefined, tok[as])
}

/** Texts found, newest first. */
async function texts(as: User, q: string, extra: Record<string, string | number> = {}): Promise<string[]> {
  const r = await search(as, { q, limit: 100, ...extra })
  if (r.status !== 200) throw new Error(`search ${q}: ${r.status} ${JSON.stringify(r.body)}`)
  return r.body.messages.map((m: any) => m.text)
}

await send('alice', G1, 'Crème brûlée at the Café de Flore')
await send('bob', G1, 'the cafe is closed on Mondays')
await send('carol', G1, 'Łódź trip in June, Straße names everywhere')
await send('dave', G2, 'CAFE NOIR for alice and dave')
await send('bob', AB, 'just us two: cafe tomorrow?')
await send('carol', CD, 'cafe secret between carol and dave only')
await send('bob', G3, 'cafe plans without alice')
await send('alice', G1, '東京で会いましょう')

t.test('case and accents do not matter; every word must be there', async (t) => {
  t.same(await texts('alice', 'creme BRULEE'), ['Crème brûlée at the Café de Flore'], 'creme brulee finds Crème brûlée')
  t.same(await texts('alice', 'CRÈME'), ['Crème brûlée at the Café de Flore'], 'accents in the query are folded too')
  t.same(await texts('alice', 'lodz strasse'), ['Łódź trip in June, Straße names everywhere'], 'ł and ß fold to l and ss')
  t.same(await texts('alice', 'cafe closed'), ['the cafe is closed on Mondays'], 'all words must be in the message')
  t.same(await texts('alice', 'cafe mondays tuesday'), [], 'one missing word and nothing is found')
  t.same(await texts('alice', '東京'), ['東京で会いましょう'], 'Japanese words are found')
  t.same(await texts('alice', 'caf'), [], 'words match whole, not by their start')
})

t.test('only the asker\'s channels, newest first', async (t) => {
  const found = (await search('alice', { q: 'cafe' })).body.messages as any[]
  t.same(found.map((m) => m.text), [
    'just us two: cafe tomorrow?', 'CAFE NOIR for alice and dave', 'the cafe is closed on Mondays', 'Crème brûlée at the Café de Flore',
  ], 'alice finds cafe in her groups and her 1:1, newest first, and nothing of others')
  t.same(Object.keys(found[0]).sort(), ['channel', 'clientMsgId', 'from', 'seq', 'text', 'ts'], 'results are message objects')
  t.same(await texts('alice', 'secret'), [], 'never a 1:1 channel of two other users')
  t.same(await texts('alice', 'without'), [], 'never a group she is not in')
  t.equal((await search('alice', { q: 'cafe', channel: CD })).status, 403, 'asking for another pair\'s 1:1 channel: 403')
  t.equal((await search('alice', { q: 'cafe', channel: G3 })).status, 403, 'asking for a group she is not in: 403')
  t.equal((await search('alice', { q: 'cafe', channel: 'g:nosuchgroup' })).status, 404, 'a group that does not exist: 404')
  t.equal((await search('alice', { q: 'cafe', channel: 'dm:alice:nobody_here' })).status, 404, 'a 1:1 with a user that does not exist: 404')
  t.equal((await search('alice', { q: 'cafe', channel: 'dm:alice:alice' })).status, 400, 'a malformed channel id: 400')
  t.same(await texts('alice', 'cafe', { channel: G1 }), ['the cafe is closed on Mondays', 'Crème brûlée at the Café de Flore'], 'channel narrows to one channel')
  t.same(await texts('bob', 'cafe', { channel: 'dm:bob:alice' }), ['just us two: cafe tomorrow?'], 'a 1:1 id in either order')
  t.same((await texts('dave', 'cafe')).sort(), ['CAFE NOIR for alice and dave', 'cafe secret between carol and dave only'].sort(), 'dave sees his own channels')
})

t.test('membership changes: a member who left finds nothing more; one who joined late finds the past', async (t) => {
  t.equal((await api(node.url, 'DELETE', `/v1/groups/${G2}/members/dave`, undefined, tok.alice)).status, 200)
  await dev.dave.waitPush((f) => f.op === 'member_removed' && f.channel === G2, 'dave removed')
  t.same(await texts('dave', 'noir'), [], 'dave no longer finds the group\'s messages')
  t.equal((await search('dave', { q: 'noir', channel: G2 })).status, 403, 'nor by naming it')
  t.equal((await api(node.url, 'POST', `/v1/groups/${G1}/members`, { username: 'erin' }, tok.bob)).status, 200)
  await dev.erin.waitPush((f) => f.op === 'member_added' && f.channel === G1, 'erin added')
  t.same(await texts('erin', 'brulee'), ['Crème brûlée at the Café de Flore'], 'erin, added later, finds what was said before (as history shows her)')
})

t.test('a deleted message is never found; an edited one only by its newest text', async (t) => {
  const gone = await send('alice', G1, 'ephemeral zanzibar note')
  const edited = await send('alice', G1, 'original kilimanjaro wording')
  t.same(await texts('bob', 'zanzibar'), ['ephemeral zanzibar note'])
  t.equal((await dev.alice.request({ op: 'delete', channel: G1, seq: gone })).op, 'ok')
  t.equal((await dev.alice.request({ op: 'edit', channel: G1, seq: edited, text: 'revised serengeti wording' })).op, 'ok')
  t.same(await texts('bob', 'zanzibar'), [], 'the deleted message is not found')
  t.same(await texts('bob', 'ephemeral'), [], 'by none of its words')
  t.same(await texts('bob', 'kilimanjaro'), [], 'the edited message is not found by its old words')
  const byNew = (await search('bob', { q: 'serengeti' })).body.messages
  t.match(byNew, [{ seq: edited, text: 'revised serengeti wording', editedAt: Number }], 'but by its new ones, with editedAt')
  t.same(await texts('bob', 'wording'), ['revised serengeti wording'], 'a word in both versions finds it once')
})

t.test('paging: every match once, newest first, across channels', async (t) => {
  const channels = [G1, AB, G2]
  const sent: Array<SearchKey & { text: string }> = []
  for (let i = 0; i < 31; i++) {
    const text = `pagingword number ${i}`
    const ack = await dev.alice.send(channels[i % 3]!, text, `s-${++ids}`)
    sent.push({ ts: ack.ts, channel: channels[i % 3]!, seq: ack.seq, text })
  }
  // Newest first; messages sent within the same millisecond in the order of their places.
  const expected = sent.sort(compareKeys).map((m) => m.text)
  for (const limit of [1, 7, 10, 31, 50]) {
    const got: string[] = []
    let before: string | undefined
    let pages = 0
    for (; pages < 100; pages++) {
      const r = await search('alice', { q: 'pagingword', limit, ...(before ? { before } : {}) })
      t.equal(r.status, 200)
      got.push(...r.body.messages.map((m: any) => m.text))
      if (r.body.messages.length > 0) t.equal(r.body.next, `${r.body.messages.at(-1).ts}.${r.body.messages.at(-1).channel}.${r.body.messages.at(-1).seq}`, 'next names the last message')
      if (!r.body.more) break
      t.equal(r.body.messages.length, limit, 'a page with more after it is full')
      before = r.body.next
    }
    t.same(got, expected, `pages of ${limit}: all 31, newest first, none twice`)
    t.equal(pages + 1, Math.ceil(31 / limit), `pages of ${limit}: ${Math.ceil(31 / limit)} pages, no empty one at the end`)
  }
  const all = (await search('alice', { q: 'pagingword', limit: 100 })).body.messages as any[]
  const cut = all[10]
  t.same(await texts('alice', 'pagingword', { before: String(cut.ts) }), all.filter((m) => m.ts < cut.ts).map((m) => m.text), 'before a bare time: older messages')
  t.equal((await search('alice', { q: 'pagingword', before: 'nonsense' })).status, 400, 'a malformed cursor: 400')
})

t.test('limits: query length and words, page size', async (t) => {
  const seq0 = await send('bob', AB, 'bulkword 0')
  for (let i = 1; i < 105; i++) dev.bob.raw(JSON.stringify({ op: 'send', channel: AB, clientMsgId: `bulk-${i}`, text: `bulkword ${i}` }))
  await dev.bob.waitPush((f) => f.op === 'message' && f.text === 'bulkword 104', 'the last bulk message')
  const def = await search('alice', { q: 'bulkword' })
  t.equal(def.body.messages.length, 20, 'limit defaults to 20')
  t.equal(def.body.more, true)
  const max = await search('alice', { q: 'bulkword', limit: 500 })
  t.equal(max.body.messages.length, 100, 'limit is capped at 100')
  t.equal(max.body.more, true, 'and says more remain')
  const rest = await search('alice', { q: 'bulkword', limit: 100, before: max.body.next })
  t.equal(rest.body.messages.length, 5, 'the rest on the next page')
  t.equal(rest.body.more, false)
  t.equal(rest.body.messages.at(-1).seq, seq0, 'ending with the oldest')

  for (const [q, why] of [['x'.repeat(201), 'over 200 characters'], ['a b c d e f g h i j k', 'more than 10 words'], ['?!', 'no words'], ['', 'empty']] as const) {
    const r = await search('alice', { q })
    t.equal(r.status, 400, `q ${why}: 400`)
    t.equal(r.body.error.code, 'BAD_REQUEST')
  }
  t.equal((await search('alice', { q: 'é'.repeat(200) })).status, 200, '200 code points are allowed')
  t.equal((await api(node.url, 'GET', '/v1/search', undefined, tok.alice)).status, 400, 'no q: 400')
  t.equal((await search('alice', { q: 'cafe', limit: 0 })).status, 400, 'limit 0: 400')
  t.equal((await api(node.url, 'GET', '/v1/search?q=cafe')).status, 401, 'no token: 401')
})

t.test('the WebSocket search op answers the same', async (t) => {
  const r = await dev.alice.request({ op: 'search', q: 'Cafe', limit: 2 })
  t.same(Object.keys(r).sort(), ['messages', 'more', 'next', 'op', 'ref'])
  const http = (await search('alice', { q: 'Cafe', limit: 2 })).body
  t.same({ messages: r.messages, more: r.more, next: r.next }, http, 'same page as over HTTP')
  const page2 = await dev.alice.request({ op: 'search', q: 'cafe', limit: 2, before: r.next })
  t.same(page2.messages, (await search('alice', { q: 'cafe', limit: 2, before: r.next })).body.messages, 'paging with the cursor')
  const byTime = await dev.alice.request({ op: 'search', q: 'cafe', before: r.messages[0].ts })
  t.ok(byTime.messages.every((m: any) => m.ts < r.messages[0].ts), 'before as a number is a time')
  t.same((await dev.alice.request({ op: 'search', q: 'cafe', channel: CD })).code, 'FORBIDDEN')
  for (const frame of [{ op: 'search' }, { op: 'search', q: 5 }, { op: 'search', q: '!!' }, { op: 'search', q: 'x', limit: 0 }, { op: 'search', q: 'x', before: {} }]) {
    t.equal((await dev.alice.request(frame)).code, 'BAD_FRAME', `BAD_FRAME for ${JSON.stringify(frame)}`)
  }
})
