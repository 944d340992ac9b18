/**
 * The in-memory Kv the simulator and fast tests run on, held to LevelDB's behaviour: the same
 * random batches applied to both, then the same random ranges (bounds, reverse, limits) read from
 * both must agree. Then what a handle does when its process dies: unwritten batches are lost,
 * calls stop answering, the disk keeps what was written; and an injected write failure stores none
 * of the batches it carried.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { VirtualTime } from '../../src/clock-virtual.js'
import { SeededRandom } from '../../src/random.js'
import { num } from '../../src/storage/keys.js'
import type { KvOp, RangeOptions } from '../../src/storage/kv.js'
import { LevelKv } from '../../src/storage/leveldb.js'
import { MemoryDisk, MemoryKv } from '../../src/storage/memory-kv.js'

t.test('agrees with LevelDB on random batches and ranges', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-memkv-'))
  const level = await LevelKv.open(dir)
  t.teardown(async () => {
    await level.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const memory = new MemoryKv()
  const rng = new SeededRandom(42)
  const key = () => `${rng.pick(['a', 'l', 'r'])}\x00${rng.pick(['k1', 'k2', 'k10', 'user:x'])}\x00${num(rng.int(0, 60))}`
  for (let i = 0; i < 300; i++) {
    const ops: KvOp[] = Array.from({ length: rng.int(1, 8) }, () => (rng.chance(0.25) ? { type: 'del', key: key() } : { type: 'put', key: key(), value: { i, v: rng.int(0, 9) } }))
    await Promise.all([level.batch(ops), memory.batch(ops)])
  }
  let compared = 0
  for (let i = 0; i < 300; i++) {
    const [x, y] = [key(), key()].sort()
    const options: RangeOptions = {}
    if (rng.chance(0.7)) options[rng.chance(0.5) ? 'gt' : 'gte'] = x
    if (rng.chance(0.7)) options[rng.chance(0.5) ? 'lt' : 'lte'] = y
    if (rng.chance(0.4)) options.limit = rng.int(0, 20)
    if (rng.chance(0.4)) options.reverse = true
    t.same(await memory.range(options), await level.range(options), `range ${JSON.stringify(options)}`)
    compared++
    const k = key()
    t.same(await memory.get(k), await level.get(k), `get ${JSON.stringify(k)}`)
  }
  t.equal(compared, 300)
  // Snapshots: taken on both, then more writes; each snapshot still reads what was there when taken.
  const snaps = [memory.snapshot(), level.snapshot()]
  const later: KvOp[] = [{ type: 'put', key: key(), value: 'later' }, { type: 'del', key: key() }]
  await Promise.all([level.batch(later), memory.batch(later)])
  const whole: RangeOptions = {}
  t.same(await snaps[0]!.range(whole), await snaps[1]!.range(whole), 'snapshots agree, and neither sees the later writes')
  t.same(await snaps[0]!.rawRange({ limit: 5 }), await snaps[1]!.rawRange({ limit: 5 }), 'raw rows too')
  t.notSame(await memory.range(whole), await snaps[0]!.range(whole), 'while the store itself moved on')
  await Promise.all(snaps.map((s) => s.close()))
})

t.test('a killed handle loses what it had not written and stops answering; the disk keeps the rest', async (t) => {
  const time = new VirtualTime()
  const disk = new MemoryDisk()
  const kv = new MemoryKv(disk, { clock: time.clock('p1') })
  const first = kv.batch([{ type: 'put', key: 'a', value: 1 }])
  await time.advance(1)
  await first
  const lost = kv.batch([{ type: 'put', key: 'b', value: 2 }])
  let settled = false
  void lost.then(() => (settled = true), () => (settled = true))
  kv.kill()
  time.halt('p1')
  await time.advance(1000)
  t.notOk(settled, 'the batch in flight at the kill never settles')
  const reopened = new MemoryKv(disk, { clock: time.clock('p2') })
  t.equal(await reopened.get('a'), 1, 'a written batch survives')
  t.equal(await reopened.get('b'), undefined, 'the unwritten one does not')
})

t.test('an injected write failure rejects every batch of that write and stores none', async (t) => {
  const time = new VirtualTime()
  let fail = true
  const kv = new MemoryKv(new MemoryDisk(), { clock: time.clock(), failWrites: () => fail })
  const a = t.rejects(kv.batch([{ type: 'put', key: 'a', value: 1 }]), /write failed/)
  const b = t.rejects(kv.batch([{ type: 'put', key: 'b', value: 2 }]), /write failed/)
  await time.advance(1)
  await Promise.all([a, b])
  t.same(await kv.range({}), [], 'nothing stored')
  fail = false
  const c = kv.batch([{ type: 'put', key: 'c', value: 3 }])
  await time.advance(1)
  await c
  t.same(await kv.range({}), [['c', 3]])
})
