/**
 * Search without a node: words folded for case, accents and compatibility forms; queries checked
 * for length and word count; and the per-channel index on a real LevelDB, compared with a brute
 * force search over the same messages, across channels, edits and deletes, for every page size
 * and cursor (a seeded random workload, so a failure replays).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { SEAL_POSTINGS, type SearchKey, SearchIndex, compareKeys } from '../../src/actors/search-index.js'
import { fold, queryWords, words } from '../../src/actors/search-text.js'
import { PrefixedStore } from '../../src/storage/actor-store.js'
import type { KvOp } from '../../src/storage/kv.js'
import { LevelKv } from '../../src/storage/leveldb.js'
import { Rng } from '../chaos/rng.js'

t.test('words are folded for case, accents and compatibility forms', async (t) => {
  t.same(words('Crème BRÛLÉE at the Café!'), ['creme', 'brulee', 'at', 'the', 'cafe'])
  t.same(words('Łódź, Straße, Ærø, Œuvre, Øresund'), ['lodz', 'strasse', 'aero', 'oeuvre', 'oresund'])
  t.same(words('ﬁnal ＡＢＣ ①'), ['final', 'abc', '1'], 'ligatures, full-width letters and circled digits')
  t.same(words('Привет МИР, Ελληνικά'), ['привет', 'мир', 'ελληνικα'], 'other alphabets are lower-cased and lose their accents')
  t.same(words("don't stop-me now, it's 10:30"), ['dont', 'stop', 'me', 'now', 'its', '10', '30'], 'an apostrophe inside a word joins it')
  t.same(words('hello hello HELLO'), ['hello'], 'each word once')
  t.same(words('👍 🎉 -- !!'), [], 'no words in emoji and punctuation')
  t.ok(words('東京で会いましょう').includes('東京'), 'Japanese is cut into dictionary words')
  t.ok(words('我们明天在北京见面').length >= 3, 'Chinese is cut into words, not kept as one run')
  t.equal(words('x'.repeat(500))[0]!.length, 64, 'a very long word is cut')
  t.equal(words(Array.from({ length: 3000 }, (_, i) => `w${i}`).join(' ')).length, 1000, 'at most 1000 words per message')
  t.equal(fold('İSTANBUL'), fold('istanbul'))
})

t.test('queries: words, length and count limits', async (t) => {
  t.same(queryWords('Café  CRÈME café', 200, 10), { words: ['cafe', 'creme'] })
  t.match(queryWords('x'.repeat(201), 200, 10), { problem: /longer than 200/ })
  t.same(queryWords('é'.repeat(200), 200, 10), { words: ['e'.repeat(64)] }, '200 code points are allowed')
  t.match(queryWords('a b c d e f g h i j k', 200, 10), { problem: /more than 10 words/ })
  t.same(queryWords('a b c d e f g h i j', 200, 10), { words: 'abcdefghij'.split('') })
  t.match(queryWords('?! 👍', 200, 10), { problem: /no words/ })
})

t.test('the index finds what a brute-force search finds, page by page, across channels', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-index-'))
  const kv = await LevelKv.open(dir)
  t.teardown(async () => {
    await kv.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const rng = new Rng(20240501)
  const random = () => rng.next()
  const vocabulary = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'zeta']
  const channels = ['dm:ann:bob', 'g:aaa', 'g:zzz']
  const stores = new Map(channels.map((c) => [c, new PrefixedStore(kv, `channel:${c}`)]))
  // Small blocks, so that most messages end up in blocks and edits and deletes reach both kinds.
  const BLOCK_SIZE = 5
  const open = (c: string) => new SearchIndex(stores.get(c)!, c, BLOCK_SIZE)
  const indexes = new Map(channels.map((c) => [c, open(c)]))
  /** What brute force searches: channel/seq -> {ts, words} of live messages. */
  const live = new Map<string, { channel: string; seq: number; ts: number; words: string[] }>()
  const seqs = new Map(channels.map((c) => [c, 0]))
  const times = new Map(channels.map((c) => [c, 1000]))
  // Few distinct times, so that many messages share one and the channel and seq order decides.
  // A channel's times never go back (the channel actor keeps them so).
  const time = (c: string) => {
    const ts = times.get(c)! + (random() < 0.15 ? 1 : 0)
    times.set(c, ts)
    return ts
  }
  const pick = () => [...new Set(Array.from({ length: 1 + Math.floor(random() * 4) }, () => vocabulary[Math.floor(random() * vocabulary.length)]!))]
  const write = (channel: string, ops: KvOp[]) => kv.batch(ops.map((op) => ({ ...op, key: `a\0channel:${channel}\0${op.key}` })))
  // 'g:zzz' starts with an index written before blocks: a posting row per word and a bare word list.
  for (let i = 0; i < 30; i++) {
    const seq = seqs.get('g:zzz')! + 1
    seqs.set('g:zzz', seq)
    const m = { channel: 'g:zzz', seq, ts: time('g:zzz'), words: pick() }
    const bytes = Buffer.byteLength(m.words.join(' '))
    const at = `${String(m.ts).padStart(16, '0')}\0${String(seq).padStart(16, '0')}`
    await write('g:zzz', [...m.words.map((w): KvOp => ({ type: 'put', key: `x\0${w}\0${at}`, value: bytes })), { type: 'put', key: `t\0${String(seq).padStart(16, '0')}`, value: m.words }])
    live.set(`g:zzz/${seq}`, m)
  }
  // Changes before any send: an edit of the newest message and of an older one, and a delete, on
  // the index from before blocks; then the actor passivates and comes back.
  for (const [seq, words] of [[30, ['alpha', 'beta', 'gamma']], [10, ['zeta']]] as const) {
    await write('g:zzz', await indexes.get('g:zzz')!.edit(seq, live.get(`g:zzz/${seq}`)!.ts, words.join(' ')))
    live.get(`g:zzz/${seq}`)!.words = [...words]
  }
  await write('g:zzz', await indexes.get('g:zzz')!.remove(20, live.get('g:zzz/20')!.ts))
  live.delete('g:zzz/20')
  indexes.set('g:zzz', open('g:zzz'))
  let failed = 0
  let reopened = 0
  for (let i = 0; i < 600; i++) {
    const channel = channels[Math.floor(random() * channels.length)]!
    if (random() < 0.04) {
      // The channel actor passivates and comes back: the index reads its mark again.
      indexes.set(channel, open(channel))
      reopened++
    }
    const index = indexes.get(channel)!
    const roll = random()
    const existing = [...live.values()].filter((m) => m.channel === channel)
    if (roll < 0.15 && existing.length > 0) {
      const m = existing[Math.floor(random() * existing.length)]!
      const next = pick()
      await write(channel, await index.edit(m.seq, m.ts, next.join(' ')))
      m.words = next
    } else if (roll < 0.25 && existing.length > 0) {
      const m = existing[Math.floor(random() * existing.length)]!
      await write(channel, await index.remove(m.seq, m.ts))
      live.delete(`${channel}/${m.seq}`)
    } else {
      // A batch of one to three sends, as the channel actor commits them.
      const batch = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, k) => ({ channel, seq: seqs.get(channel)! + 1 + k, ts: time(channel), words: pick() }))
      const ops = batch.flatMap((m) => index.add(m.seq, m.ts, m.words.join(' ')))
      ops.push(...(await index.seal(batch[batch.length - 1]!.seq)))
      if (random() < 0.05) {
        // The commit fails: nothing is stored and the seqs are used again.
        index.settle(false)
        failed++
        continue
      }
      await write(channel, ops)
      index.settle(true)
      seqs.set(channel, batch[batch.length - 1]!.seq)
      for (const m of batch) live.set(`${channel}/${m.seq}`, m)
    }
  }
  t.ok(failed > 0 && reopened > 0, `failed commits (${failed}) and reactivations (${reopened}) were exercised`)
  const rows = await kv.range<unknown>({ gte: 'a\0', lt: 'a\xff' })
  const postingRows = rows.filter(([k]) => k.includes('\0x\0'))
  t.ok(postingRows.some(([, v]) => Array.isArray(v) && v.length > 3), 'blocks of several postings were written')
  // A row is keyed at its newest posting: no key keeps the place of a posting taken out.
  t.same(postingRows.filter(([, v]) => Array.isArray(v) && (v[0] !== 0 || v[1] !== 0)).map(([k]) => k), [], 'every row is keyed at its newest posting')
  const keyOf = (m: { channel: string; seq: number; ts: number }): SearchKey => ({ ts: m.ts, channel: m.channel, seq: m.seq })
  let wrongSizes = 0
  const queries = [['alpha'], ['beta', 'gamma'], ['delta', 'omega', 'zeta'], ['nothing'], ['alpha', 'nothing']]
  for (const q of queries) {
    const expected = [...live.values()].filter((m) => q.every((w) => m.words.includes(w))).map(keyOf).sort(compareKeys)
    for (const limit of [1, 3, 7, 50]) {
      const got: SearchKey[] = []
      let before: SearchKey | undefined
      for (let page = 0; page < 1000; page++) {
        // The user actor's merge, in short: each channel's newest `limit` below the cursor.
        const found: SearchKey[] = []
        for (const c of channels) {
          const hits = await indexes.get(c)!.find(q, { below: before }, limit)
          for (const h of hits) if (h.bytes !== Buffer.byteLength(live.get(`${c}/${h.seq}`)!.words.join(' '))) wrongSizes++
          found.push(...hits.map((h) => keyOf(live.get(`${c}/${h.seq}`)!)))
        }
        const pageKeys = found.sort(compareKeys).slice(0, limit)
        got.push(...pageKeys)
        if (pageKeys.length < limit) break
        before = pageKeys[pageKeys.length - 1]
      }
      t.same(got, expected, `${q.join('+')} in pages of ${limit}: every match once, newest first (${expected.length})`)
    }
  }
  t.equal(wrongSizes, 0, 'every hit carries the UTF-8 size of its text')
  // `above`: only what is newer than a key, as a later wave of a search asks.
  const all = [...live.values()].filter((m) => m.words.includes('alpha')).map(keyOf).sort(compareKeys)
  const pivot = all[Math.floor(all.length / 2)]!
  const newer: SearchKey[] = []
  for (const c of channels) newer.push(...(await indexes.get(c)!.find(['alpha'], { above: pivot }, 1000)).map((h) => keyOf(live.get(`${c}/${h.seq}`)!)))
  t.same(newer.sort(compareKeys), all.slice(0, Math.floor(all.length / 2)), 'above a key: exactly the newer matches')
  // A bare time as cursor: everything strictly older.
  const older: SearchKey[] = []
  for (const c of channels) older.push(...(await indexes.get(c)!.find(['alpha'], { below: { ts: 1020, channel: '', seq: 0 } }, 1000)).map((h) => keyOf(live.get(`${c}/${h.seq}`)!)))
  t.same(older.sort(compareKeys), all.filter((k) => k.ts < 1020), 'below a bare time: exactly the older matches')
})

t.test('a block is written newest first even if times went back within it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-index-'))
  const kv = await LevelKv.open(dir)
  t.teardown(async () => {
    await kv.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const store = new PrefixedStore(kv, 'channel:g:x')
  const index = new SearchIndex(store, 'g:x', 3)
  const ops = [index.add(1, 500, 'word one'), index.add(2, 300, 'word two'), index.add(3, 400, 'word three')].flat()
  ops.push(...(await index.seal(3)))
  await store.commit(ops)
  index.settle(true)
  const rows = await store.range<unknown>({ gte: 'x\0word\0', lt: 'x\0word\0\xff' })
  t.equal(rows.length, 1, 'one row for the word')
  t.equal(rows[0]![0], `x\0word\0${String(500).padStart(16, '0')}\0${String(1).padStart(16, '0')}`, 'keyed at its newest posting')
  t.same((await index.find(['word'], {}, 10)).map((f) => f.seq), [1, 3, 2], 'newest first by time')
  t.same((await index.find(['word'], { below: { ts: 400, channel: 'g:x', seq: 3 } }, 10)).map((f) => f.seq), [2], 'below a place inside the block')
})

t.test('one seal writes at most SEAL_POSTINGS postings; the messages past them wait for the next', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-index-'))
  const kv = await LevelKv.open(dir)
  t.teardown(async () => {
    await kv.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const store = new PrefixedStore(kv, 'channel:g:x')
  const index = new SearchIndex(store, 'g:x', 20)
  // 20 messages of 1,000 distinct words each: 20,000 postings.
  const text = (seq: number) => Array.from({ length: 1000 }, (_, i) => `m${seq}w${i}`).join(' ')
  const ops = Array.from({ length: 20 }, (_, i) => index.add(i + 1, 1000 + i, text(i + 1))).flat()
  ops.push(...(await index.seal(20)))
  await store.commit(ops)
  index.settle(true)
  const kept = Math.floor(SEAL_POSTINGS / 1000)
  t.equal(await store.get('xs'), kept, `the mark stops at the last message within ${SEAL_POSTINGS} postings`)
  t.equal((await store.range({ gte: 'x\0', lt: 'x\0\xff' })).length, kept * 1000, 'their postings, and no more')
  for (const seq of [1, kept, kept + 1, 20]) {
    t.same((await index.find([`m${seq}w999`], {}, 10)).map((f) => f.seq), [seq], `message ${seq} is found`)
  }
})
