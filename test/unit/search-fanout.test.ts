/**
 * The merge of many channels' search answers, against fake channels: pages equal a brute-force
 * merge whatever the wave size, the recency hint skips only channels that cannot add anything,
 * a channel that refuses is skipped unless it was asked for by name, and a page is cut at 1 MiB.
 */
import t from 'tap'
import { Actors, type Router } from '../../src/actors/env.js'
import type { ActorRequest } from '../../src/actors/runtime.js'
import { type SearchKey, compareKeys } from '../../src/actors/search-index.js'
import { CHANNELS_PER_WAVE, PAGE_BYTES, searchChannels } from '../../src/actors/search.js'
import { errors } from '../../src/errors.js'
import { Rng } from '../chaos/rng.js'

interface Msg { ts: number; seq: number; bytes: number }

/** Channels as a router sees them: each answers `search` from its messages, and `messages` with bodies. */
class FakeChannels implements Router {
  readonly asked: string[] = []
  constructor(readonly data: Map<string, Msg[]>, readonly refuse = new Map<string, string>()) {}

  async call(key: string, req: ActorRequest): Promise<unknown> {
    const id = key.slice('channel:'.length)
    const r = req as any
    if (r.kind === 'messages') return r.seqs.map((seq: number) => ({ channel: id, seq, from: 'x', text: `w m${seq}`, ts: this.data.get(id)!.find((m) => m.seq === seq)!.ts, clientMsgId: `c${seq}` }))
    this.asked.push(id)
    const code = this.refuse.get(id)
    if (code === 'FORBIDDEN') throw errors.forbidden('no')
    if (code === 'UNAVAILABLE') throw errors.unavailable('down')
    const msgs = this.data.get(id) ?? []
    const place = (m: Msg): SearchKey => ({ ts: m.ts, channel: id, seq: m.seq })
    const found = msgs.filter((m) => (!r.below || compareKeys(place(m), r.below) > 0) && (!r.above || compareKeys(place(m), r.above) < 0))
      .sort((a, b) => compareKeys(place(a), place(b))).slice(0, r.limit)
    return { found, lastTs: msgs.length > 0 ? Math.max(...msgs.map((m) => m.ts)) : null }
  }

  async callMany(keys: string[], req: ActorRequest) {
    return Promise.all(keys.map((k) => this.call(k, req).then((value) => ({ ok: true as const, value }), (error) => ({ ok: false as const, error }))))
  }
}

function world(channels: number, perChannel: (i: number) => number, seed = 1): Map<string, Msg[]> {
  const rng = new Rng(seed)
  const data = new Map<string, Msg[]>()
  for (let c = 0; c < channels; c++) {
    const n = perChannel(c)
    data.set(`g:c${String(c).padStart(3, '0')}`, Array.from({ length: n }, (_, i) => ({ seq: i + 1, ts: rng.int(1000, 6000), bytes: 10 })))
  }
  return data
}

function everything(data: Map<string, Msg[]>): SearchKey[] {
  return [...data].flatMap(([channel, msgs]) => msgs.map((m) => ({ ts: m.ts, channel, seq: m.seq }))).sort(compareKeys)
}

async function allPages(fake: FakeChannels, channels: string[], limit: number, recency?: Map<string, number>): Promise<SearchKey[]> {
  const out: SearchKey[] = []
  let before: SearchKey | undefined
  for (let page = 0; page < 10_000; page++) {
    const r = await searchChannels(new Actors(fake), 'me', channels, { words: ['w'], before, limit }, recency)
    out.push(...r.messages.map((m) => ({ ts: m.ts, channel: m.channel, seq: m.seq })))
    if (!r.more) return out
    before = r.next!
  }
  throw new Error('paging did not end')
}

t.test('pages equal a brute-force merge, for many channels and page sizes, with or without the hint', async (t) => {
  const data = world(3 * CHANNELS_PER_WAVE + 5, (c) => (c % 7 === 0 ? 0 : 1 + (c % 5)))
  const ids = [...data.keys()]
  for (const limit of [1, 5, 20, 100]) {
    t.same(await allPages(new FakeChannels(data), ids, limit), everything(data), `limit ${limit}, no hint`)
    const recency = new Map<string, number>()
    t.same(await allPages(new FakeChannels(data), ids, limit, recency), everything(data), `limit ${limit}, hint learned while paging`)
    t.same(await allPages(new FakeChannels(data), ids, limit, recency), everything(data), `limit ${limit}, hint known from the start`)
  }
})

t.test('once the page is full, channels whose newest message is older are not asked', async (t) => {
  // Ten busy recent channels and a hundred quiet old ones.
  const data = new Map<string, Msg[]>()
  for (let c = 0; c < 110; c++) {
    const recent = c < 10
    data.set(`g:c${String(c).padStart(3, '0')}`, Array.from({ length: 30 }, (_, i) => ({ seq: i + 1, ts: (recent ? 10_000_000 : 1_000_000) + i * 1000 + c, bytes: 10 })))
  }
  const ids = [...data.keys()].reverse() // the quiet ones first in the user's list
  const recency = new Map<string, number>()
  const cold = new FakeChannels(data)
  const first = await searchChannels(new Actors(cold), 'me', ids, { words: ['w'], limit: 20 }, recency)
  t.equal(cold.asked.length, 110, 'without a hint every channel is asked')
  const warm = new FakeChannels(data)
  const second = await searchChannels(new Actors(warm), 'me', ids, { words: ['w'], limit: 20 }, recency)
  t.same(second, first, 'the same page')
  t.same(warm.asked.map((c) => Number(c.slice(3))).sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'with the hint only the ten recent channels are asked, none of the quiet ones')
  t.same(first.messages.map((m) => m.channel).every((c) => Number(c.slice(3)) < 10), true, 'the page is from the recent channels')
  // A channel the hint says nothing of is always asked: it may be the newest.
  const fresh = new Map(data)
  fresh.set('g:new', [{ seq: 1, ts: 99_000_000, bytes: 10 }])
  const withNew = new FakeChannels(fresh)
  const third = await searchChannels(new Actors(withNew), 'me', [...ids, 'g:new'], { words: ['w'], limit: 20 }, recency)
  t.equal(third.messages[0]?.channel, 'g:new', 'an unknown channel is asked, and here holds the newest')
})

t.test('refusals: skipped from the user\'s list, the answer when asked by name', async (t) => {
  const data = world(40, () => 3)
  const ids = [...data.keys()]
  const fake = new FakeChannels(data, new Map([[ids[3]!, 'FORBIDDEN']]))
  const r = await searchChannels(new Actors(fake), 'me', ids, { words: ['w'], limit: 200 })
  t.equal(r.messages.length, 39 * 3, 'a channel that says the user is not a member is skipped')
  await t.rejects(searchChannels(new Actors(fake), 'me', [ids[3]!], { words: ['w'], limit: 20, channel: ids[3]! }), { code: 'FORBIDDEN' })
  const down = new FakeChannels(data, new Map([[ids[5]!, 'UNAVAILABLE']]))
  await t.rejects(searchChannels(new Actors(down), 'me', ids, { words: ['w'], limit: 20 }), { code: 'UNAVAILABLE' }, 'an unavailable channel fails the page rather than skip its matches')
})

t.test('a page stops before 1 MiB of text, and never comes back empty', async (t) => {
  const big = Math.floor(PAGE_BYTES / 3)
  const data = new Map([['g:big', Array.from({ length: 10 }, (_, i) => ({ seq: i + 1, ts: 1000 + i, bytes: big }))], ['g:huge', [{ seq: 1, ts: 5000, bytes: 2 * PAGE_BYTES }]]])
  const r = await searchChannels(new Actors(new FakeChannels(data)), 'me', ['g:big'], { words: ['w'], limit: 10 })
  t.equal(r.messages.length, 3, 'three messages of a third of a MiB each')
  t.equal(r.more, true)
  const h = await searchChannels(new Actors(new FakeChannels(data)), 'me', ['g:huge'], { words: ['w'], limit: 10 })
  t.equal(h.messages.length, 1, 'one message always fits')
})

t.test('a message edited between the two rounds so that it lost a word is left out', async (t) => {
  const data = new Map([['g:one', [{ seq: 1, ts: 1000, bytes: 10 }, { seq: 2, ts: 2000, bytes: 10 }]]])
  const fake = new FakeChannels(data)
  const real = fake.call.bind(fake)
  fake.call = async (key, req) => {
    const r = await real(key, req)
    // The body of seq 2 no longer holds the word (edited after the index was read).
    return (req as any).kind === 'messages' ? (r as any[]).map((m) => (m.seq === 2 ? { ...m, text: 'edited away' } : m)) : r
  }
  const page = await searchChannels(new Actors(fake), 'me', ['g:one'], { words: ['w'], limit: 10 })
  t.same(page.messages.map((m) => m.seq), [1])
  t.same(page.next, { ts: 1000, channel: 'g:one', seq: 1 })
})
