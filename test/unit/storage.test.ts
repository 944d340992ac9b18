/**
 * Storage on a real LevelDB in a temp dir: the Kv contract (get, getMany, atomic batches, ordered
 * ranges), the key encoding that makes byte order equal numeric order, an actor's prefixed view
 * that never reads a neighbour's keys, durability across a reopen, and the data-dir lock.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { HIGH, SEP, actorPrefix, nodeKey, num, parseNum } from '../../src/storage/keys.js'
import { LocalActorStorage, PrefixedStore } from '../../src/storage/actor-store.js'
import { StorageLockedError } from '../../src/storage/kv.js'
import { LevelKv } from '../../src/storage/leveldb.js'

interface Teardown { teardown(fn: () => unknown): void }

function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'chat-storage-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function openKv(t: Teardown, dir = tempDir(t)): Promise<LevelKv> {
  const kv = await LevelKv.open(dir)
  t.teardown(() => kv.close().catch(() => {}))
  return kv
}

t.test('get, getMany and JSON values', async (t) => {
  const kv = await openKv(t)
  t.equal(await kv.get('missing'), undefined, 'a missing key reads as undefined')
  await kv.batch([
    { type: 'put', key: 'a', value: { n: 1, list: ['x', 'y'], nested: { ok: true } } },
    { type: 'put', key: 'b', value: 'text' },
    { type: 'put', key: 'c', value: 0 },
  ])
  t.same(await kv.get('a'), { n: 1, list: ['x', 'y'], nested: { ok: true } })
  t.equal(await kv.get('b'), 'text')
  t.equal(await kv.get('c'), 0, 'a falsy value is still a value')
  t.same(await kv.getMany(['c', 'nope', 'b']), [0, undefined, 'text'], 'getMany keeps the order of the keys asked')
  t.same(await kv.getMany([]), [])
  await kv.batch([])
  await kv.batch([{ type: 'del', key: 'b' }])
  t.equal(await kv.get('b'), undefined, 'del removes')
})

t.test('a batch applies every op or none', async (t) => {
  const kv = await openKv(t)
  await kv.batch([{ type: 'put', key: 'keep', value: 1 }])
  await kv.batch([
    { type: 'put', key: 'x', value: 1 },
    { type: 'del', key: 'keep' },
    { type: 'put', key: 'y', value: 2 },
  ])
  t.same(await kv.getMany(['x', 'y', 'keep']), [1, 2, undefined], 'puts and deletes of one batch all land')

  // A value JSON cannot encode makes the whole batch fail before anything is written.
  const circular: Record<string, unknown> = {}
  circular.self = circular
  await t.rejects(kv.batch([
    { type: 'put', key: 'first', value: 'written?' },
    { type: 'del', key: 'x' },
    { type: 'put', key: 'bad', value: circular },
  ]))
  t.same(await kv.getMany(['first', 'x', 'bad']), [undefined, 1, undefined], 'a failed batch leaves no trace')
})

t.test('batches of one turn share a write; a bad one fails alone; a prefix qualifies every key', async (t) => {
  const kv = await openKv(t)
  await kv.batch([{ type: 'put', key: 'p/gone', value: 0 }])
  const circular: Record<string, unknown> = {}
  circular.self = circular
  const settled = await Promise.allSettled([
    kv.batch([{ type: 'put', key: 'one', value: 1 }]),
    kv.batch([{ type: 'put', key: 'two', value: 2 }, { type: 'put', key: 'bad', value: circular }]),
    kv.batch([{ type: 'put', key: 'three', value: 3 }, { type: 'del', key: 'gone' }], 'p/'),
  ])
  t.same(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled'], 'only the batch with the bad value fails')
  t.same(await kv.getMany(['one', 'two', 'bad', 'p/three', 'three', 'p/gone']), [1, undefined, undefined, 3, undefined, undefined],
    'the others landed, the prefixed one under its prefix (its delete too)')
})

t.test('a batch on a closed store is a rejection, never a throw, with every fsync mode', async (t) => {
  for (const fsync of ['never', 'batch', 'always'] as const) {
    const kv = await LevelKv.open(tempDir(t), { fsync })
    await kv.close()
    let outcome: Promise<void> | undefined
    t.doesNotThrow(() => { outcome = kv.batch([{ type: 'put', key: 'late', value: 1 }]) }, `${fsync}: no synchronous throw`)
    await t.rejects(outcome!, { code: 'LEVEL_DATABASE_NOT_OPEN' }, `${fsync}: the write is refused`)
  }
})

t.test('ranges follow numeric order with padded numbers, reverse and limits', async (t) => {
  const kv = await openKv(t)
  const seqs = [1, 2, 9, 10, 11, 99, 100, 101, 1000, 123456789]
  // Written out of order so the store, not insertion order, decides the result.
  await kv.batch([...seqs].reverse().map((n) => ({ type: 'put' as const, key: `m${SEP}${num(n)}`, value: n })))
  await kv.batch([{ type: 'put', key: 'l', value: 'below' }, { type: 'put', key: 'n', value: 'above' }])
  const all = await kv.range<number>({ gt: `m${SEP}`, lt: `m${SEP}${HIGH}` })
  t.same(all.map(([, v]) => v), seqs, 'ascending by number, not by string')
  t.same(all.map(([k]) => parseNum(k.slice(2))), seqs, 'keys decode to their numbers')

  const rev = await kv.range<number>({ gt: `m${SEP}`, lt: `m${SEP}${HIGH}`, reverse: true })
  t.same(rev.map(([, v]) => v), [...seqs].reverse(), 'reverse is descending')

  t.same((await kv.range<number>({ gt: `m${SEP}`, lt: `m${SEP}${HIGH}`, limit: 3 })).map(([, v]) => v), [1, 2, 9], 'limit takes from the start')
  t.same((await kv.range<number>({ gt: `m${SEP}`, lt: `m${SEP}${HIGH}`, limit: 3, reverse: true })).map(([, v]) => v), [123456789, 1000, 101], 'reverse limit takes from the end')

  const window = await kv.range<number>({ gt: `m${SEP}${num(9)}`, lt: `m${SEP}${num(101)}` })
  t.same(window.map(([, v]) => v), [10, 11, 99, 100], 'gt/lt are exclusive')
  const closed = await kv.range<number>({ gte: `m${SEP}${num(9)}`, lte: `m${SEP}${num(101)}` })
  t.same(closed.map(([, v]) => v), [9, 10, 11, 99, 100, 101], 'gte/lte are inclusive')
  t.same(await kv.range({ gt: `m${SEP}${num(5000)}`, lt: `m${SEP}${num(6000)}` }), [], 'an empty window is empty')
})

t.test('key encoding', async (t) => {
  t.equal(num(0), '0000000000000000')
  t.equal(num(42), '0000000000000042')
  t.equal(num(Number.MAX_SAFE_INTEGER).length, 16, 'every safe integer fits the width')
  t.equal(parseNum(num(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER)
  for (const bad of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, Infinity]) {
    t.throws(() => num(bad), RangeError, `num(${bad}) is refused`)
  }
  const sample = [0, 1, 7, 10, 99, 100, 65535, 1e9, 2 ** 40, Number.MAX_SAFE_INTEGER]
  const shuffled = [...sample].reverse().map(num)
  t.same(shuffled.sort().map(parseNum), sample, 'string order of encoded numbers is numeric order')

  t.equal(actorPrefix('user:alice'), `a${SEP}user:alice${SEP}`)
  t.throws(() => actorPrefix(`user:a${SEP}b`), RangeError, 'an actor key with the separator is refused')
  t.equal(nodeKey('token-secret'), `n${SEP}token-secret`)
  t.ok(SEP < ' ' && HIGH > '~', 'the separator sorts below, HIGH above, printable characters')
  t.ok(actorPrefix('user:al') + HIGH < actorPrefix('user:alice'), 'one actor\'s key space ends before a longer key that shares its start')
})

t.test('a PrefixedStore never reads outside its prefix', async (t) => {
  const kv = await openKv(t)
  // Neighbours on both sides: a shorter key, a longer key sharing the start, and raw keys.
  const keys = ['user:al', 'user:alice', 'user:alicex', 'user:alicf']
  for (const k of keys) {
    const store = new PrefixedStore(kv, k)
    await store.commit([
      { type: 'put', key: 'p', value: `${k}/p` },
      { type: 'put', key: `i${SEP}${num(1)}`, value: `${k}/i1` },
      { type: 'put', key: `i${SEP}${num(2)}`, value: `${k}/i2` },
    ])
  }
  await kv.batch([{ type: 'put', key: 'a', value: 'raw-low' }, { type: 'put', key: 'b', value: 'raw-high' }, { type: 'put', key: nodeKey('x'), value: 'node' }])

  const alice = new PrefixedStore(kv, 'user:alice')
  const everything = await alice.range<string>({})
  t.same(everything, [[`i${SEP}${num(1)}`, 'user:alice/i1'], [`i${SEP}${num(2)}`, 'user:alice/i2'], ['p', 'user:alice/p']], 'an unbounded range is the actor\'s own keys, sub-keys stripped')
  t.same((await alice.range<string>({ reverse: true })).map(([, v]) => v), ['user:alice/p', 'user:alice/i2', 'user:alice/i1'])
  t.same((await alice.range<string>({ gt: `i${SEP}` })).map(([, v]) => v), ['user:alice/i1', 'user:alice/i2', 'user:alice/p'], 'a lower bound alone stops at the prefix end')
  t.same((await alice.range<string>({ lt: `i${SEP}${HIGH}` })).map(([, v]) => v), ['user:alice/i1', 'user:alice/i2'], 'an upper bound alone starts at the prefix')
  t.same((await alice.range<string>({ gte: `i${SEP}${num(2)}`, limit: 5 })).map(([, v]) => v), ['user:alice/i2', 'user:alice/p'])
  t.equal(await alice.get('p'), 'user:alice/p')
  t.same(await alice.getMany(['p', 'zz']), ['user:alice/p', undefined])
  t.same(alice.qualify([{ type: 'del', key: 'p' }]), [{ type: 'del', key: `${actorPrefix('user:alice')}p` }])

  const short = new PrefixedStore(kv, 'user:al')
  t.same((await short.range<string>({})).map(([, v]) => v), ['user:al/i1', 'user:al/i2', 'user:al/p'], 'a key that is a prefix of another sees only its own')

  const opened = await new LocalActorStorage(kv).open('user:alicex')
  t.equal(opened.actorKey, 'user:alicex')
  t.same((await opened.range<string>({})).map(([, v]) => v), ['user:alicex/i1', 'user:alicex/i2', 'user:alicex/p'])
  t.same(await new PrefixedStore(kv, 'user:nobody').range({}), [], 'an actor with no data sees nothing')
})

t.test('reopening a data dir keeps everything', async (t) => {
  const dir = tempDir(t)
  const first = await LevelKv.open(dir)
  const store = new PrefixedStore(first, 'channel:g:abc')
  await store.commit([{ type: 'put', key: 'i', value: { name: 'team' } }, { type: 'put', key: `m${SEP}${num(1)}`, value: { text: 'hi' } }])
  await first.batch([{ type: 'put', key: nodeKey('token-secret'), value: 's3cret' }])
  await first.close()

  const second = await openKv(t, dir)
  t.same(await new PrefixedStore(second, 'channel:g:abc').get('i'), { name: 'team' })
  t.same(await new PrefixedStore(second, 'channel:g:abc').range({}), [['i', { name: 'team' }], [`m${SEP}${num(1)}`, { text: 'hi' }]])
  t.equal(await second.get(nodeKey('token-secret')), 's3cret')
})

t.test('a second open of the same dir fails with StorageLockedError', async (t) => {
  const dir = tempDir(t)
  const first = await openKv(t, dir)
  await first.batch([{ type: 'put', key: 'k', value: 'v' }])
  const err = await LevelKv.open(dir).then(() => null, (e: unknown) => e)
  t.ok(err instanceof StorageLockedError, 'the error is a StorageLockedError')
  t.match((err as Error).message, dir, 'it names the dir')
  t.match((err as Error).message, /lock/i, 'it says the dir is locked')
  t.equal(await first.get('k'), 'v', 'the first handle still works')
  await first.close()
  const again = await openKv(t, dir)
  t.equal(await again.get('k'), 'v', 'once closed, the dir opens again')
})
