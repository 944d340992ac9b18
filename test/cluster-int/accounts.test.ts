/**
 * Accounts from any node: a user signed up through one node logs in through another, a name is
 * taken cluster-wide however the signups are spread, and of concurrent signups of one new name
 * on every node exactly one wins, and only the winner's password logs in anywhere.
 */
import t, { type Test } from 'tap'
import { InProcessCluster } from '../helpers/in-process.js'
import { Device } from '../helpers/device.js'
import { api } from '../helpers/node-process.js'
import { apiRetrying, clusterView, ownerOf } from '../helpers/traffic.js'

t.setTimeout(120_000) // three nodes in one process, every signup and login a password hash: minutes on a busy 2-core machine

const cluster = await InProcessCluster.start(t, { nodes: 3, replicas: 3, args: ['--log-level', 'warn'] })
const [A, B, C] = ['n1', 'n2', 'n3'].map((id) => cluster.node(id)) as [ReturnType<typeof cluster.node>, ReturnType<typeof cluster.node>, ReturnType<typeof cluster.node>]

t.test('sign up on A, log in on B, a second signup of the name on C is 409', async (t) => {
  const view = await clusterView(A.url)
  // A name whose user actor lives on C, so the signup through A and the login through B are both remote.
  const name = Array.from({ length: 500 }, (_, i) => `acct${i}`).find((u) => ownerOf(view, `user:${u}`) === 'n3')!
  const up = await apiRetrying(A.url, 'POST', '/v1/users', { username: name, password: 'first-password', displayName: 'First' })
  t.equal(up.status, 201, 'signup through A')
  t.same(up.body.user, { username: name, displayName: 'First' })

  const login = await api(B.url, 'POST', '/v1/sessions', { username: name, password: 'first-password', deviceId: 'd1' })
  t.equal(login.status, 200, 'login through B')
  t.same(login.body.user, { username: name, displayName: 'First' })
  const wrong = await api(B.url, 'POST', '/v1/sessions', { username: name, password: 'not-the-password' })
  t.equal(wrong.status, 401, 'a wrong password is refused through B')

  const again = await apiRetrying(C.url, 'POST', '/v1/users', { username: name, password: 'second-password' })
  t.equal(again.status, 409, 'the name is taken, seen from C')
  t.equal(again.body?.error?.code, 'USERNAME_TAKEN')
  const stillFirst = await api(A.url, 'POST', '/v1/sessions', { username: name, password: 'second-password' })
  t.equal(stillFirst.status, 401, 'the refused signup did not change the password')

  for (const node of [A, B, C]) {
    const me = await api(node.url, 'GET', '/v1/me', undefined, login.body.token)
    t.equal(me.status, 200, `the token from B is good on ${node.id}`)
    t.equal(me.body.user.username, name)
  }
  const dev = await Device.open(t, C.wsUrl, login.body.token, 'd1')
  t.equal(dev.ready.user, name, 'and opens a socket on C')
  dev.close()

  const unknown = await apiRetrying(C.url, 'POST', '/v1/sessions', { username: 'nobody_here', password: 'whatever-123' })
  t.equal(unknown.status, 401, 'an unknown user cannot log in')
})

/**
 * One signup as a client would make it: UNAVAILABLE means nothing was stored (PROTOCOL.md), so it
 * is retried; the answer after that must be 201 or 409.
 */
async function signup(t: Test, base: string, username: string, password: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const r = await api(base, 'POST', '/v1/users', { username, password })
    if (r.status !== 503 || attempt === 5) return r.status
    t.comment(`signup of ${username} through ${base} answered 503 (${r.body?.error?.message}); retrying`)
  }
}

t.test('10 concurrent signups of one new name over all nodes: exactly one 201', async (t) => {
  for (const round of [1, 2, 3]) {
    const name = `race_${round}_${Date.now() % 100_000}`
    const nodes = cluster.running()
    const attempts = Array.from({ length: 10 }, (_, i) => ({ node: nodes[i % nodes.length]!, password: `password-${i}-${round}` }))
    const statuses = await Promise.all(attempts.map((a) => signup(t, a.node.url, name, a.password)))
    t.equal(statuses.filter((s) => s === 201).length, 1, `round ${round}: one signup won (${statuses.join(',')})`)
    t.equal(statuses.filter((s) => s === 409).length, 9, `round ${round}: the nine others are USERNAME_TAKEN`)
    const winner = attempts[statuses.indexOf(201)]
    if (!winner) continue
    // Every password through one node (rotating), the winner's through every node.
    const checker = nodes[round % nodes.length]!
    const logins = await Promise.all(attempts.map((a) => api(checker.url, 'POST', '/v1/sessions', { username: name, password: a.password })))
    t.same(logins.map((l) => l.status), attempts.map((a) => (a === winner ? 200 : 401)), `round ${round}: only the winner's password logs in (through ${checker.id})`)
    for (const node of nodes) {
      const l = await api(node.url, 'POST', '/v1/sessions', { username: name, password: winner.password })
      t.equal(l.status, 200, `round ${round}: the winner logs in through ${node.id}`)
    }
  }
})
