import t from 'tap'
import { Ring } from '../../src/cluster/ring.js'
import type { MemberInfo, RingRecord } from '../../src/cluster/membership.js'

const member = (id: string): MemberInfo => ({ id, http: `http://127.0.0.1/${id}`, grpc: `127.0.0.1:1/${id}` })
const record = (ids: string[], version = 1): RingRecord => ({ version, members: ids.map(member) })
const keys = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 === 0 ? `user:u${i}` : `channel:c${i}`))

t.test('10,000 keys over 5 members land within 15% of the mean', async (t) => {
  const ring = new Ring(record(['node-1', 'node-2', 'node-3', 'node-4', 'node-5']))
  const counts = new Map<string, number>()
  for (const k of keys(10_000)) {
    const owner = ring.replicas(k, 1)[0]!
    counts.set(owner, (counts.get(owner) ?? 0) + 1)
  }
  t.equal(counts.size, 5, 'every member owns keys')
  for (const [id, n] of counts) {
    t.ok(n >= 2000 * 0.85 && n <= 2000 * 1.15, `${id} owns ${n} keys`)
  }
})

t.test('rings built from differently ordered records agree on every key', async (t) => {
  const ids = ['delta', 'alpha', 'echo', 'charlie', 'bravo']
  const a = new Ring(record(ids))
  const b = new Ring(record([...ids].reverse()))
  const c = new Ring(record(['charlie', 'echo', 'alpha', 'bravo', 'delta']))
  t.same(a.members, ['alpha', 'bravo', 'charlie', 'delta', 'echo'])
  let disagreements = 0
  for (const k of keys(10_000)) {
    const want = a.replicas(k, 3).join()
    if (b.replicas(k, 3).join() !== want || c.replicas(k, 3).join() !== want) disagreements++
  }
  t.equal(disagreements, 0)
})

t.test('replicas are distinct, in ring order, and capped at the member count', async (t) => {
  const ring = new Ring(record(['a', 'b', 'c', 'd']), 64)
  const bad: string[] = []
  for (const k of keys(500)) {
    const three = ring.replicas(k, 3)
    const prefixes = ring.replicas(k, 1).join() === three.slice(0, 1).join() && ring.replicas(k, 2).join() === three.slice(0, 2).join()
    if (new Set(three).size !== 3 || !prefixes) bad.push(k)
  }
  t.same(bad, [], 'three distinct replicas, and a smaller set is a prefix of a larger one')
  t.equal(ring.replicas('x', 10).length, 4)
  t.same(ring.replicas('x', 0), [])
  t.same(ring.replicas('x', -1), [])
  t.equal(ring.size, 4)
  t.ok(ring.has('c'))
  t.notOk(ring.has('z'))
})

t.test('an empty ring places nothing', async (t) => {
  const ring = new Ring({ version: 0, members: [] })
  t.equal(ring.size, 0)
  t.equal(ring.version, 0)
  t.same(ring.replicas('k', 3), [])
  t.equal(ring.owner('k', () => true, 3), undefined)
})

t.test('duplicate ids in a record count once', async (t) => {
  const ring = new Ring(record(['b', 'a', 'b']))
  t.same(ring.members, ['a', 'b'])
  t.equal(ring.replicas('k', 5).length, 2)
})

t.test('owner is the first live member of the replica set', async (t) => {
  const ring = new Ring(record(['n1', 'n2', 'n3', 'n4', 'n5']))
  const bad: string[] = []
  for (const k of keys(500)) {
    const [first, second, third] = ring.replicas(k, 3)
    const ok = ring.owner(k, () => true, 3) === first &&
      ring.owner(k, (id) => id !== first, 3) === second &&
      ring.owner(k, (id) => id === third, 3) === third &&
      // Other members are live, but a key whose replicas are all down has no owner.
      ring.owner(k, (id) => id !== first && id !== second && id !== third, 3) === undefined
    if (!ok) bad.push(k)
  }
  t.same(bad, [])
})

t.test('adding a member moves only the keys it takes over', async (t) => {
  const before = new Ring(record(['n1', 'n2', 'n3', 'n4', 'n5'], 1))
  const after = new Ring(record(['n1', 'n2', 'n3', 'n4', 'n5', 'n6'], 2))
  t.equal(after.version, 2)
  let moved = 0
  let movedElsewhere = 0
  const all = keys(10_000)
  for (const k of all) {
    const a = before.replicas(k, 1)[0]
    const b = after.replicas(k, 1)[0]
    if (a !== b) {
      moved++
      if (b !== 'n6') movedElsewhere++
    }
  }
  t.equal(movedElsewhere, 0, 'keys only move to the new member')
  t.ok(moved > all.length / 6 * 0.7 && moved < all.length / 6 * 1.3, `about a sixth of the keys moved (${moved})`)
})

t.test('vnodes must be a positive integer', async (t) => {
  t.throws(() => new Ring(record(['a']), 0), RangeError)
  t.throws(() => new Ring(record(['a']), 1.5), RangeError)
})
