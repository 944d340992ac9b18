import t from 'tap'
import {
  backoffCeiling, backoffDelay, canonicalChannelId, dmChannelId, isRetryableCode, LIMITS, MessageCache,
  newClientMsgId, TypedEmitter, type LiveMessage,
} from '../../src/client/index.js'

const msg = (seq: number, channel = 'dm:alice:bob'): LiveMessage =>
  ({ channel, seq, from: 'alice', text: `m${seq}`, ts: seq, clientMsgId: `c${seq}` })

t.test('backoff ceiling doubles from the base up to the cap', async (t) => {
  const opts = { baseMs: 200, capMs: 10_000 }
  t.same([0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffCeiling(a, opts)), [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000])
  t.equal(backoffCeiling(10_000, opts), 10_000, 'huge attempts stay at the cap')
})

t.test('backoff delays are full jitter: spread over [0, ceiling) and growing with attempts', async (t) => {
  const opts = { baseMs: 100, capMs: 5_000 }
  for (let attempt = 0; attempt < 10; attempt++) {
    const ceiling = backoffCeiling(attempt, opts)
    const delays = Array.from({ length: 500 }, () => backoffDelay(attempt, opts))
    t.ok(delays.every((d) => d >= 0 && d < ceiling), `attempt ${attempt}: all within [0, ${ceiling})`)
    t.ok(Math.min(...delays) < ceiling * 0.1, `attempt ${attempt}: some delays near 0 (full jitter)`)
    t.ok(Math.max(...delays) > ceiling * 0.9, `attempt ${attempt}: some delays near the ceiling`)
  }
  t.equal(backoffDelay(3, opts, () => 0), 0)
  t.equal(backoffDelay(3, opts, () => 0.999999), 799)
})

t.test('cache keeps the newest messages per channel, sorted by seq, once each', async (t) => {
  const cache = new MessageCache(5)
  for (const seq of [7, 3, 9, 1, 3, 8, 2, 10, 7, 4]) cache.add(msg(seq))
  t.same(cache.messages('dm:alice:bob').map((m) => m.seq), [4, 7, 8, 9, 10], 'bounded to the newest 5, ascending, no duplicates')
  t.notOk(cache.add(msg(2)), 'a message older than a full cache is not kept')
  t.notOk(cache.add({ ...msg(9), text: 'other' }), 'a duplicate seq is ignored')
  t.equal(cache.messages('dm:alice:bob')[3]?.text, 'm9', 'the first copy stays')
  t.ok(cache.add(msg(5)), 'a message inside the window is kept')
  t.same(cache.messages('dm:alice:bob').map((m) => m.seq), [5, 7, 8, 9, 10])
  cache.add(msg(1, 'g:x'))
  t.same(cache.messages('g:x').map((m) => m.seq), [1], 'channels are separate')
  t.equal(cache.oldestSeq('dm:alice:bob'), 5)
  t.equal(cache.newestSeq('dm:alice:bob'), 10)

  const big = new MessageCache(200)
  const seqs = Array.from({ length: 1000 }, (_, i) => i + 1).sort(() => Math.random() - 0.5)
  for (const seq of seqs) big.add(msg(seq))
  const kept = big.messages('dm:alice:bob').map((m) => m.seq)
  t.equal(kept.length, 200)
  t.same(kept, Array.from({ length: 200 }, (_, i) => 801 + i), 'random insertion order still keeps 801..1000 sorted')
})

t.test('client message ids fit the contract and do not repeat', async (t) => {
  const ids = new Set(Array.from({ length: 10_000 }, () => newClientMsgId()))
  t.equal(ids.size, 10_000)
  for (const id of ids) if (!LIMITS.clientMsgIdPattern.test(id)) t.fail(`bad id ${id}`)
})

t.test('dm channel ids are canonical', async (t) => {
  t.equal(dmChannelId('bob', 'alice'), 'dm:alice:bob')
  t.equal(canonicalChannelId('dm:bob:alice'), 'dm:alice:bob')
  t.equal(canonicalChannelId('g:abc'), 'g:abc')
  t.throws(() => dmChannelId('alice', 'alice'))
})

t.test('retryable codes follow the contract', async (t) => {
  for (const code of ['UNAVAILABLE', 'RATE_LIMITED', 'TIMEOUT', 'DISCONNECTED']) t.ok(isRetryableCode(code), code)
  for (const code of ['FORBIDDEN', 'BAD_FRAME', 'NOT_FOUND', 'MESSAGE_TOO_LARGE', 'CLOSED', 'SOMETHING_NEW']) t.notOk(isRetryableCode(code), code)
})

t.test('emitter isolates a throwing listener and supports unsubscribe', async (t) => {
  const errors: unknown[] = []
  const emitter = new TypedEmitter<{ n: number }>((err) => errors.push(err))
  const seen: number[] = []
  emitter.on('n', () => { throw new Error('boom') })
  const off = emitter.on('n', (n) => seen.push(n))
  emitter.once('n', (n) => seen.push(n * 10))
  emitter.emit('n', 1)
  off()
  emitter.emit('n', 2)
  t.same(seen, [1, 10])
  t.equal(errors.length, 2)
})
