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
import { type SearchKey, SearchIndex, compareKeys } from '../../src/actors/search-index.js'
import { fold, queryWords, words } from '../../src/actors/search-text.js'
import { PrefixedStore } from '../../src/storage/actor-store.js'
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
  const indexes = new Map(channels.map((c) => [c, new SearchIndex(new PrefixedStore(kv, `channel:${c}`), c)]))
  /** What brute force searches: channel/seq -> {ts, words} of live messages. */
  const live = new Map<string, { channel: string; seq: number; ts: number; words: string[] }>()
  const seqs = new Map(channels.map((c) => [c, 0]))
  // Few distinct times, so that many messages share one and the channel and seq order decides.
  const time = () => 1000 + Math.floor(random() * 40)
  const pick = () => [...new Set(Array.from({ length: 1 + Math.floor(random() * 4) }, () => vocabulary[Math.floor(random() * vocabulary.length)]!))]
  for (let i = 0; i < 600; i++) {
    const channel = channels[Math.floor(random() * channels.length)]!
    const index = indexes.get(channel)!
    const roll = random()
    const existing = [...live.values()].filter((m) => m.channel === channel)
    if (roll < 0.15 && existing.length > 0) {
      const m = existing[Math.floor(random() * existing.length)]!
      const next = pick()
      await kv.batch((await index.edit(m.seq, m.ts, next.join(' '))).map((op) => ({ ...op, key: `a\0channel:${channel}\0${op.key}` })))
      m.words = next
    } else if (roll < 0.25 && existing.length > 0) {
      const m = existing[Math.floor(random() * existing.length)]!
      await kv.batch((await index.remove(m.seq, m.ts)).map((op) => ({ ...op, key: `a\0channel:${channel}\0${op.key}` })))
      live.delete(`${channel}/${m.seq}`)
    } else {
      const seq = seqs.get(channel)! + 1
      seqs.set(channel, seq)
      const m = { channel, seq, ts: time(), words: pick() }
      await kv.batch(index.add(seq, m.ts, m.words.join(' ')).map((op) => ({ ...op, key: `a\0channel:${channel}\0${op.key}` })))
      live.set(`${channel}/${seq}`, m)
    }
  }
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
