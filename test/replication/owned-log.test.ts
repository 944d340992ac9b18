// Replication's owner and replica sides together, in one process: three replicas on real LevelDB
// stores, wired by direct calls that a test can cut. Fencing, takeover, catch-up, majority rules.
import t from 'tap'
import { OwnedLog } from '../../src/cluster/replication/owner.js'
import type { ReplicaStore } from '../../src/cluster/replication/replica.js'
import { ReplicatedActorStorage } from '../../src/cluster/replication/storage.js'
import { VirtualTime } from '../../src/clock-virtual.js'
import { PEER_KINDS, type AppendRequest } from '../../src/cluster/replication/types.js'
import { KEY, NODES, put, state, world } from '../helpers/replication-world.js'
import { waitFor } from '../helpers/wait.js'
import { WAKE_SUB, wakeIndexKey } from '../../src/storage/keys.js'

t.test('a commit is on a majority before it resolves, and followers apply it', async (t) => {
  const w = await world(t)
  const log = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  t.teardown(() => log.close())
  await log.commit(put('m1', 'hello'))
  const held = await Promise.all(NODES.map(async (n) => (await w.replicas.get(n)!.meta(KEY)).last))
  t.ok(held.filter((last) => last >= 2).length >= 2, `marker and entry on a majority (${held})`)
  await log.applied()
  t.equal(await state(w, 'a', 'm1'), 'hello', 'the owner applied it')
  await log.commit(put('m2', 'again'))
  // The next append told the followers that m1 is committed.
  const applied = await Promise.all(['b', 'c'].map(async (n) => state(w, n, 'm1')))
  t.ok(applied.includes('hello'), 'a follower applied the committed entry')
})

t.test('while writes go on, followers learn commits from the appends; a pause brings one notice each', async (t) => {
  const w = await world(t)
  const time = new VirtualTime()
  const log = await OwnedLog.takeover({ ...w.ctx('a'), clock: time.clock('a') }, KEY, () => {})
  t.teardown(() => log.close())
  const noticesTo = (node: string) => w.received.filter((r) => r.node === node && r.kind === PEER_KINDS.append && (r.body as AppendRequest).entries.length === 0).length
  const before = { b: noticesTo('b'), c: noticesTo('c') }
  for (let i = 1; i <= 20; i++) {
    await log.commit(put(`m${i}`, i))
    await time.advance(30)
  }
  t.same({ b: noticesTo('b') - before.b, c: noticesTo('c') - before.c }, { b: 0, c: 0 }, 'a write every 30 ms: no commit-only append')
  t.notOk(await state(w, 'b', 'm20'), 'the last write waits on the followers for the notice')
  await time.advance(100)
  await waitFor(async () => (await state(w, 'b', 'm20')) === 20 && (await state(w, 'c', 'm20')) === 20, { timeout: 5000, what: 'the followers applied the last write' })
  t.same({ b: noticesTo('b') - before.b, c: noticesTo('c') - before.c }, { b: 1, c: 1 }, 'after the pause: one notice to each follower')
  t.equal(await state(w, 'b', 'm19'), 19, 'each earlier write was applied with the next append')
})

t.test('a paused old owner cannot commit after a new owner took over (fencing)', async (t) => {
  const w = await world(t)
  let fenced = ''
  const old = await OwnedLog.takeover(w.ctx('a'), KEY, (reason) => { fenced = reason })
  t.teardown(() => old.close())
  await old.commit(put('m1', 'from a'))

  // a is "paused": the others think it is down; b takes over with b and c.
  w.cut.add('a')
  w.down.add('a')
  const fresh = await OwnedLog.takeover(w.ctx('b'), KEY, () => {})
  t.teardown(() => fresh.close())
  t.equal(await state(w, 'b', 'm1'), 'from a', 'the new owner adopted the committed entry')
  await fresh.commit(put('m2', 'from b'))

  // a resumes, still believing it owns the key, and tries to write.
  w.cut.delete('a')
  await t.rejects(old.commit(put('m2', 'zombie write')), { code: 'UNAVAILABLE' }, 'the zombie write is refused')
  t.ok(old.isFenced && fenced.length > 0, `the old owner stepped down: ${fenced}`)
  await fresh.commit(put('m3', 'from b again'))
  for (const n of NODES) {
    const m2 = await state(w, n, 'm2')
    t.not(m2, 'zombie write', `${n} never applied the zombie write`)
  }
  // The new owner's follower sync backs off while a was unreachable; it catches up on its own.
  await waitFor(async () => (await state(w, 'a', 'm3')) === 'from b again', { timeout: 5000, what: 'a caught up' })
  t.equal(await state(w, 'a', 'm2'), 'from b', "the old owner's replica was brought in line with the new owner's log")
})

t.test('with a majority of replicas down nothing is stored and the write is refused', async (t) => {
  const w = await world(t)
  const log = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  t.teardown(() => log.close())
  await log.commit(put('m1', 'one'))
  const before = await Promise.all(NODES.map(async (n) => (await w.replicas.get(n)!.meta(KEY)).last))
  for (const n of ['b', 'c']) { w.cut.add(n); w.down.add(n) }
  await t.rejects(log.commit(put('m2', 'two')), { code: 'UNAVAILABLE' }, 'refused')
  const after = await Promise.all(NODES.map(async (n) => (await w.replicas.get(n)!.meta(KEY)).last))
  t.same(after, before, 'no replica stored anything')
  await t.rejects(OwnedLog.takeover(w.ctx('a'), KEY, () => {}), { code: 'UNAVAILABLE' }, 'no takeover without a majority')
  for (const n of ['b', 'c']) { w.cut.delete(n); w.down.delete(n) }
  const again = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  t.teardown(() => again.close())
  await again.commit(put('m2', 'two'))
  await again.applied()
  t.equal(await state(w, 'a', 'm2'), 'two', 'writes work again once a majority is back')
})

t.test('a write that reached only a minority is not acknowledged and a later owner decides it once', async (t) => {
  const w = await world(t)
  const first = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  t.teardown(() => first.close())
  await first.commit(put('m1', 'one'))
  // b and c stop answering but still look live: the write reaches only a.
  w.cut.add('b')
  w.cut.add('c')
  await t.rejects(first.commit(put('m2', 'minority')), { code: 'UNAVAILABLE' }, 'no majority, no ack')
  t.ok(first.isFenced, 'the owner stepped down')
  // a dies for good; c takes over with b and c, which never saw m2.
  w.cut.delete('b')
  w.cut.delete('c')
  w.cut.add('a')
  w.down.add('a')
  const next = await OwnedLog.takeover(w.ctx('c'), KEY, () => {})
  t.teardown(() => next.close())
  await next.commit(put('m2', 'decided by c'))
  w.cut.delete('a')
  w.down.delete('a')
  await next.commit(put('m3', 'three'))
  await waitFor(async () => (await state(w, 'a', 'm3')) === 'three', { timeout: 5000, what: 'a caught up' })
  for (const n of NODES) t.equal(await state(w, n, 'm2'), 'decided by c', `${n} agrees on m2; the unacknowledged write is gone`)
})

t.test('a replica that missed writes catches up when it comes back', async (t) => {
  const w = await world(t)
  w.cut.add('c')
  const log = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  t.teardown(() => log.close())
  for (let i = 1; i <= 20; i++) await log.commit(put(`m${i}`, i))
  t.equal((await w.replicas.get('c')!.meta(KEY)).last, 0, 'c has nothing while cut off')
  w.cut.delete('c')
  await log.commit(put('m21', 21))
  await waitFor(async () => (await w.replicas.get('c')!.meta(KEY)).last >= 22, { timeout: 5000, what: 'c caught up' })
  await log.commit(put('m22', 22))
  await waitFor(async () => (await state(w, 'c', 'm21')) === 21, { timeout: 5000, what: 'c applied' })
  t.equal(await state(w, 'c', 'm20'), 20, 'c caught up and applied the committed entries')
})

t.test('reading a key nobody wrote writes nothing; the first commit takes ownership', async (t) => {
  const w = await world(t)
  const storage = new ReplicatedActorStorage(w.ctx('a'), w.kvs.get('a')!, () => {})
  const store = await storage.open(KEY)
  t.equal(await store.get('profile'), undefined, 'empty')
  for (const n of NODES) t.same(await w.replicas.get(n)!.meta(KEY), { promised: null, last: 0, lastEpoch: null, commit: 0, applied: 0 }, `${n} untouched by the read`)
  await store.commit(put('profile', 'alice'))
  t.equal(await store.get('profile'), 'alice', 'the first commit took ownership and wrote')
  t.ok((await w.replicas.get('b')!.meta(KEY)).promised, 'replicas promised the owner')
  storage.release(KEY)
})

t.test('a key written by another owner after it was read as empty is not overwritten', async (t) => {
  const w = await world(t)
  const storage = new ReplicatedActorStorage(w.ctx('a'), w.kvs.get('a')!, () => {})
  const stale = await storage.open(KEY)
  const other = await OwnedLog.takeover(w.ctx('b'), KEY, () => {})
  await other.commit(put('profile', 'bob'))
  other.close()
  await t.rejects(stale.commit(put('profile', 'alice')), { code: 'UNAVAILABLE' }, 'the stale actor must reload first')
  t.equal(await state(w, 'b', 'profile'), 'bob', "the other owner's write stands")
  storage.release(KEY)
})

t.test('an owner confirms it still owns the key before refusing on its state; a deposed one cannot, and writes nothing trying', async (t) => {
  const w = await world(t)
  let fenced = ''
  const old = await OwnedLog.takeover(w.ctx('a'), KEY, (reason) => { fenced = reason })
  t.teardown(() => old.close())
  await old.commit(put('m1', 'from a'))
  await old.confirm()
  t.pass('the current owner confirms with a majority')

  // a is "paused"; b takes over and stores what a does not know about.
  w.cut.add('a')
  w.down.add('a')
  const fresh = await OwnedLog.takeover(w.ctx('b'), KEY, () => {})
  t.teardown(() => fresh.close())
  await fresh.commit(put('m2', 'from b'))
  w.cut.delete('a')
  const before = await Promise.all(NODES.map(async (n) => (await w.replicas.get(n)!.meta(KEY)).last))
  // What a would refuse on its own state ("no message m2") it must not: it is no longer the owner.
  await t.rejects(old.confirm(), { code: 'UNAVAILABLE' }, 'the deposed owner cannot confirm')
  t.ok(old.isFenced && fenced.length > 0, `and steps down: ${fenced}`)
  const after = await Promise.all(NODES.map(async (n) => (await w.replicas.get(n)!.meta(KEY)).last))
  t.same(after, before, 'confirming wrote nothing')
  await fresh.confirm()
  t.pass('the new owner confirms')

  // With a majority unreachable, nobody can confirm: the refusal waits for a retry.
  w.cut.add('a')
  w.cut.add('c')
  await t.rejects(fresh.confirm(), { code: 'UNAVAILABLE' }, 'no majority answered')
})

t.test('a store read as empty confirms only while a majority still never saw the key', async (t) => {
  const w = await world(t)
  const storage = new ReplicatedActorStorage(w.ctx('a'), w.kvs.get('a')!, () => {})
  const stale = await storage.open(KEY)
  await stale.confirm()
  for (const n of NODES) t.equal((await w.replicas.get(n)!.meta(KEY)).promised, null, `${n} untouched by the confirmation`)
  const other = await OwnedLog.takeover(w.ctx('b'), KEY, () => {})
  await other.commit(put('info', 'a group'))
  other.close()
  await t.rejects(stale.confirm(), { code: 'UNAVAILABLE' }, '"no such channel" from the stale read is not confirmed')
  storage.release(KEY)
})

t.test('a follower holding an entry that flags background work lists the key for waking before it applies the entry', async (t) => {
  const w = await world(t)
  const log = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  t.teardown(() => log.close())
  // The owner dies right after this commit: no follower heard that it committed, so none applied it.
  await log.commit([{ type: 'put', key: WAKE_SUB, value: 1 }, { type: 'put', key: 'm1', value: 'hello' }])
  log.close()
  const held = []
  for (const n of ['b', 'c']) {
    const meta = await w.replicas.get(n)!.meta(KEY)
    if (meta.last >= 2) held.push({ n, applied: meta.applied >= 2, flagged: (await w.kvs.get(n)!.get(wakeIndexKey(KEY))) !== undefined })
  }
  t.ok(held.length >= 1, 'a follower holds the entry')
  t.ok(held.some((h) => !h.applied), `some follower holds it unapplied (${JSON.stringify(held)})`)
  t.ok(held.every((h) => h.flagged), `every follower holding it lists the key in its wake index (${JSON.stringify(held)})`)
})

t.test("followers receive an entry while the owner's own write of it is still in progress", async (t) => {
  const w = await world(t)
  const ctx = w.ctx('a')
  const replica = ctx.replica
  const { slow, hold } = heldBack(replica, 'append')
  const log = await OwnedLog.takeover({ ...ctx, replica: slow }, KEY, () => {})
  t.teardown(() => log.close())
  await log.commit(put('m1', 'one'))
  const before = (await replica.meta(KEY)).last
  const release = hold()
  let committed = false
  const commit = log.commit(put('m2', 'two')).then(() => { committed = true })
  await waitFor(async () => (await w.replicas.get('b')!.meta(KEY)).last > before || (await w.replicas.get('c')!.meta(KEY)).last > before,
    { timeout: 3000, what: 'a follower stored the entry' })
  t.equal((await replica.meta(KEY)).last, before, "the owner's own write has not happened yet")
  t.notOk(committed, 'nor has the commit resolved: the owner applies only entries it holds')
  release()
  await commit
  await log.applied()
  t.equal(await state(w, 'a', 'm2'), 'two', 'then it commits and the owner applies it')
})

t.test("a commit resolves before the owner's apply is written, and the actor's reads wait for that apply", async (t) => {
  const w = await world(t)
  const ctx = w.ctx('a')
  const replica = ctx.replica
  const { slow, hold } = heldBack(replica, 'commitTo')
  const storage = new ReplicatedActorStorage({ ...ctx, replica: slow }, w.kvs.get('a')!, () => {})
  const store = await storage.open(KEY)
  t.teardown(() => storage.release(KEY))
  await store.commit(put('m1', 'one'))
  const release = hold()
  await store.commit(put('m1', 'two'))
  t.equal(await state(w, 'a', 'm1'), 'one', 'committed on a majority, not yet applied here')
  let read: unknown = 'pending'
  const reading = store.get('m1').then((v) => { read = v })
  // Two reads of the node's storage issued after it have come back: the store's read has not.
  t.equal(await state(w, 'a', 'm1'), 'one')
  t.equal(await state(w, 'a', 'm1'), 'one')
  t.equal(read, 'pending', 'a read through the store waits for the apply')
  release()
  await reading
  t.equal(read, 'two', 'and then sees the write')
})

/**
 * The replica with `method` held back on demand: `hold()` makes the calls from then on wait until
 * the function it returns is called.
 */
function heldBack(replica: ReplicaStore, method: 'append' | 'commitTo'): { slow: ReplicaStore; hold: () => () => void } {
  let gate: Promise<void> | null = null
  const slow = new Proxy(replica, {
    get(target, prop) {
      const v = Reflect.get(target, prop)
      if (prop === method) return async (...args: unknown[]) => { if (gate) await gate; return (v as (...a: unknown[]) => unknown).apply(target, args) }
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  return { slow, hold: () => { let release = () => {}; gate = new Promise((r) => { release = r }); return release } }
}
