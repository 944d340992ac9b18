// Log compaction and state snapshots, in one process on real LevelDB stores: applied entries are
// removed while takeovers still compare logs; replicas that need removed entries (far behind,
// wiped, or owners-to-be) are caught up from a snapshot; an interrupted snapshot never leaves a
// state anyone uses; a copy restored from a backup makes the next takeover ask every replica.
import t from 'tap'
import { Compactor, compactionTarget } from '../../src/cluster/replication/compactor.js'
import { OwnedLog } from '../../src/cluster/replication/owner.js'
import { Repairer } from '../../src/cluster/replication/repair.js'
import { ReplicaStore } from '../../src/cluster/replication/replica.js'
import { pushSnapshot } from '../../src/cluster/replication/snapshot.js'
import type { ReplicaMeta, StatusReply } from '../../src/cluster/replication/types.js'
import { replicaLogPrefix, replicaMetaKey } from '../../src/storage/keys.js'
import { KEY, NODES, type World, put, state, world } from '../helpers/replication-world.js'
import { waitFor } from '../helpers/wait.js'

/** Log entries physically present on a node for the test key. */
async function entriesOn(w: World, node: string): Promise<number[]> {
  const prefix = replicaLogPrefix(KEY)
  const rows = await w.kvs.get(node)!.range<unknown>({ gt: prefix, lt: prefix + '\xff' })
  return rows.map(([k]) => Number(k.slice(prefix.length)))
}

async function digest(w: World, node: string): Promise<string> {
  return (await w.replicas.get(node)!.report(KEY)).digest
}

/** Compacts every node as far as the others allow (what the repair sweep does), with `maxLag`. */
async function compactAll(w: World, maxLag: number, nodes = NODES): Promise<void> {
  for (const node of nodes) {
    const ctx = w.ctx(node)
    const compactor = new Compactor(ctx, { intervalMs: 1, maxLag })
    compactor.begin(Date.now() + 10)
    const others = await Promise.all(NODES.filter((n) => n !== node).map(async (n) => (w.cut.has(n) ? undefined : (await w.replicas.get(n)!.status([KEY]))[0])))
    await compactor.consider(KEY, await w.replicas.get(node)!.meta(KEY), others)
  }
}

async function settledApplied(w: World, nodes: string[], p: number): Promise<void> {
  await waitFor(async () => (await Promise.all(nodes.map(async (n) => (await w.replicas.get(n)!.meta(KEY)).applied))).every((a) => a >= p), { timeout: 5000, what: `applied ${p} on ${nodes}` })
}

t.test('the compaction target keeps what other replicas still need, at most maxLag entries for one far behind', async (t) => {
  const own = { promised: null, last: 100, lastEpoch: null, commit: 100, applied: 100, base: 10 } as ReplicaMeta
  const at = (applied: number, installing = false): StatusReply => ({ key: KEY, last: applied, commit: applied, applied, installing })
  t.equal(compactionTarget(own, [at(100), at(100)], 1000), 100, 'everyone applied everything: all of it goes')
  t.equal(compactionTarget(own, [at(100), at(60)], 1000), 60, 'a replica behind within maxLag keeps its entries')
  t.equal(compactionTarget(own, [at(100), at(20)], 50), 50, 'further behind than maxLag: only maxLag entries are kept for it')
  t.equal(compactionTarget(own, [at(100), undefined], 30), 70, 'no answer counts as far behind')
  t.equal(compactionTarget(own, [at(100), at(99, true)], 30), 70, 'a replica mid-install counts as far behind')
  t.equal(compactionTarget(own, [at(5), at(5)], 1000), 10, 'never below what is already compacted')
})

t.test('compaction removes applied entries; the log end and its epoch stay, and writes go on', async (t) => {
  const w = await world(t)
  const log = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  t.teardown(() => log.close())
  for (let i = 1; i <= 30; i++) await log.commit(put(`m${i}`, i))
  await log.commit(put('m31', 31))
  // The marker and 31 writes: followers apply the last one with the owner's next commit notice.
  await settledApplied(w, NODES, 32)
  const before = await w.replicas.get('a')!.meta(KEY)
  await compactAll(w, 1000)
  for (const n of NODES) {
    const meta = await w.replicas.get(n)!.meta(KEY)
    t.equal(meta.base, meta.applied, `${n}: everything applied was removed (base ${meta.base})`)
    t.same(await entriesOn(w, n), [], `${n}: no log entry is left on disk`)
    t.equal(meta.last, before.last, `${n}: the log end is kept`)
    t.same(meta.lastEpoch, before.lastEpoch, `${n}: so is the epoch of its last entry`)
    t.equal(await state(w, n, 'm17'), 17, `${n}: the state holds what the entries said`)
  }
  await log.commit(put('m32', 32))
  await waitFor(async () => (await state(w, 'c', 'm32')) === 32, { timeout: 5000, what: 'c applied a write made after compaction' })
  t.same(await entriesOn(w, 'a'), [before.last + 1], 'new entries are logged as before')
})

t.test('a replica far behind, whose entries were compacted, is caught up by its owner from a snapshot', async (t) => {
  const w = await world(t)
  w.cut.add('c')
  const log = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  t.teardown(() => log.close())
  // More entries than the owner keeps in memory, so the follower's catch-up must read the log.
  for (let i = 1; i <= 120; i++) await log.commit(put(`m${i}`, `text ${i}`))
  await settledApplied(w, ['a', 'b'], 100)
  await compactAll(w, 0, ['a', 'b'])
  t.ok(((await w.replicas.get('a')!.meta(KEY)).base ?? 0) > 100, 'the owner compacted past what c has')
  w.cut.delete('c')
  await log.commit(put('m121', 'text 121'))
  await waitFor(async () => (await state(w, 'c', 'm121')) === 'text 121', { timeout: 10_000, what: 'c caught up' })
  await settledApplied(w, NODES, 122)
  t.equal(await state(w, 'c', 'm5'), 'text 5', 'c holds the old messages it never saw as entries')
  t.equal(await digest(w, 'c'), await digest(w, 'a'), "c's state is the owner's")
  t.equal(w.installed.get('c'), 1, 'c counted one snapshot installed (pushed by the owner)')
})

t.test('a new owner far behind takes over through a snapshot from the most up-to-date replica', async (t) => {
  const w = await world(t)
  w.cut.add('c')
  const first = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  for (let i = 1; i <= 80; i++) await first.commit(put(`m${i}`, i))
  await settledApplied(w, ['a', 'b'], 81)
  await compactAll(w, 0, ['a', 'b'])
  first.close()
  // a dies for good; c, which saw nothing, becomes the owner with b.
  w.cut.add('a')
  w.down.add('a')
  w.cut.delete('c')
  const next = await OwnedLog.takeover(w.ctx('c'), KEY, () => {})
  t.teardown(() => next.close())
  t.equal(await state(w, 'c', 'm80'), 80, 'the new owner holds every acknowledged write')
  t.equal(w.installed.get('c'), 1, 'c counted one snapshot installed (pulled)')
  await next.commit(put('m81', 81))
  await settledApplied(w, ['b', 'c'], 83)
  t.equal(await digest(w, 'b'), await digest(w, 'c'), 'owner and follower agree')
})

t.test('a snapshot is one point in time, even while writes go on', async (t) => {
  const w = await world(t)
  const log = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  t.teardown(() => log.close())
  for (let i = 1; i <= 10; i++) await log.commit(put(`m${i}`, i))
  const reader = await w.replicas.get('a')!.state.open(KEY)
  t.teardown(() => reader.close())
  for (let i = 11; i <= 20; i++) await log.commit(put(`m${i}`, i))
  await log.commit(put('m1', 'changed'))
  const rows: Array<[string, unknown]> = []
  for (;;) {
    const chunk = await reader.next(64)
    rows.push(...chunk.rows)
    if (chunk.done) break
  }
  const seen = new Map(rows)
  t.equal(reader.at.p, 11, 'the snapshot point is the applied position when it was opened')
  t.equal(seen.get('m1'), 1, 'a later change is not seen')
  t.notOk(seen.has('m15'), 'later keys are not seen')
  t.equal(seen.get('m10'), 10, 'earlier ones are')
})

t.test('a half-installed snapshot is never used: nothing is applied to it and a new owner replaces it first', async (t) => {
  const w = await world(t)
  const log = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  for (let i = 1; i <= 40; i++) await log.commit(put(`m${i}`, 'x'.repeat(100)))
  await settledApplied(w, NODES, 41)
  // Start a transfer into c with a wrong first chunk, then never finish it.
  const reader = await w.replicas.get('a')!.state.open(KEY)
  const first = await reader.next(300)
  await reader.close()
  t.notOk(first.done, 'the state takes several chunks')
  const meta = await w.replicas.get('c')!.meta(KEY)
  const reply = await w.replicas.get('c')!.state.install({
    key: KEY, id: 'broken', seq: 0, at: { ...reader.at, p: reader.at.p + 5 }, epoch: null, after: null, rows: first.rows, done: false,
  })
  t.ok(reply.ok, 'the first chunk is taken')
  t.ok((await w.replicas.get('c')!.meta(KEY)).installing, 'c records that its state is mid-install')
  t.equal((await w.replicas.get('c')!.status([KEY]))[0]!.installing, true, 'and says so to peers')
  await log.commit(put('m41', 'after'))
  await waitFor(async () => (await w.replicas.get('c')!.meta(KEY)).last >= 42, { timeout: 5000, what: 'c logged the new entry' })
  t.equal((await w.replicas.get('c')!.meta(KEY)).applied, meta.applied, 'c applies nothing while its state is mixed')
  log.close()
  // a goes away; c becomes the owner: it must replace its mixed state before serving.
  w.cut.add('a')
  w.down.add('a')
  const next = await OwnedLog.takeover(w.ctx('c'), KEY, () => {})
  t.teardown(() => next.close())
  const after = await w.replicas.get('c')!.meta(KEY)
  t.notOk(after.installing, 'the new owner completed its state first')
  t.equal(await state(w, 'c', 'm41'), 'after', 'and it holds every acknowledged write')
  await next.commit(put('m42', 'more'))
  await settledApplied(w, ['b', 'c'], after.last + 1)
  t.equal(await digest(w, 'b'), await digest(w, 'c'), 'owner and follower agree')
})

t.test('repair refills a wiped replica from a snapshot once the others compacted', async (t) => {
  const w = await world(t)
  const log = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  t.teardown(() => log.close())
  for (let i = 1; i <= 50; i++) await log.commit(put(`m${i}`, i))
  await settledApplied(w, NODES, 51)
  await compactAll(w, 0)
  await w.wipe('c')
  const repairer = new Repairer(w.ctx('a'), { intervalMs: 1e9, bytesPerSec: 1 << 30 }, w.ctx('a').log)
  await repairer.sweep()
  t.equal(repairer.stats.snapshots, 1, 'one snapshot was sent')
  t.equal(await digest(w, 'c'), await digest(w, 'a'), 'the wiped replica holds the whole state again')
  const meta = await w.replicas.get('c')!.meta(KEY)
  t.equal(meta.applied, 51, 'at the committed position')
})

t.test('an owner pushing a snapshot is fenced like an append: a replica that promised a newer epoch refuses it', async (t) => {
  const w = await world(t)
  const log = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  for (let i = 1; i <= 5; i++) await log.commit(put(`m${i}`, i))
  log.close()
  await w.replicas.get('c')!.prepare({ key: KEY, epoch: { n: 99, node: 'z' } })
  const { reply } = await pushSnapshot(w.ctx('a'), 'c', KEY, log.epoch)
  t.same(reply, { ok: false, reason: 'stale', promised: { n: 99, node: 'z' } }, 'refused as stale')
})

t.test('a copy restored from a backup makes the next takeover wait for every replica', async (t) => {
  const w = await world(t)
  const log = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  await log.commit(put('m1', 1))
  await settledApplied(w, NODES, 2)
  log.close()
  // b's copy comes from a backup (the restore tool marks every key so).
  const kv = w.kvs.get('b')!
  const meta = await kv.get<ReplicaMeta>(replicaMetaKey(KEY))
  await kv.batch([{ type: 'put', key: replicaMetaKey(KEY), value: { ...meta, restored: true } }])
  // The node starts again on it (no cached bookkeeping).
  w.replicas.set('b', new ReplicaStore(kv, 'b', w.replicas.get('b')!.incarnation))
  w.cut.add('c')
  await t.rejects(OwnedLog.takeover(w.ctx('a'), KEY, () => {}), { code: 'UNAVAILABLE' }, 'a majority with the restored copy is not enough')
  w.cut.delete('c')
  const next = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  t.teardown(() => next.close())
  await next.commit(put('m2', 2))
  await waitFor(async () => (await w.replicas.get('b')!.meta(KEY)).restored === undefined, { timeout: 5000, what: 'b accepted an append' })
  w.cut.add('c')
  next.close()
  const again = await OwnedLog.takeover(w.ctx('a'), KEY, () => {})
  t.teardown(() => again.close())
  t.pass('once an owner took over with every replica, a majority is enough again')
})
