/**
 * Push in a 3-node cluster of real processes: the nodes share one VAPID key (generated once,
 * through NATS), and a pending notification is part of the user's replicated state: SIGKILL of
 * the node that holds it (the owner of the user, which is retrying against a receiver that is
 * down) loses nothing; once the receiver is back, the notification arrives under the same id,
 * sent by the user's new owner.
 */
import t from 'tap'
import { TestCluster } from '../helpers/cluster.js'
import { Device } from '../helpers/device.js'
import { api } from '../helpers/node-process.js'
import { BrowserKeys, PushReceiver, verifyVapid } from '../helpers/push-receiver.js'
import { apiRetrying, clusterView, ownerOf, signIn, usersOn } from '../helpers/traffic.js'
import { waitFor } from '../helpers/wait.js'

t.setTimeout(90_000)

const cluster = await TestCluster.start(t, {
  nodes: 3, replicas: 3,
  args: ['--log-level', 'warn', '--push-coalesce-ms', '200', '--push-retry-base-ms', '50', '--push-retry-max-ms', '300'],
})
const receiver = await PushReceiver.start(t)
const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((id) => cluster.node(id)) as [ReturnType<typeof cluster.node>, ReturnType<typeof cluster.node>, ReturnType<typeof cluster.node>]
const view = await clusterView(n1.url)
// bob, who gets the notification, lives on n2: the node that will be killed.
const [bob] = usersOn(view, ['n2'], 'pushc') as [string]
const alice = 'pushc_alice'

t.test('every node serves the same VAPID key', async (t) => {
  const tok = await signIn(n1.url, alice)
  // Each node loads the shared key in the background after it starts (503 until then).
  const keys = await waitFor(async () => {
    const got = await Promise.all([n1, n2, n3].map(async (n) => (await api(n.url, 'GET', '/v1/push/vapid', undefined, tok)).body?.publicKey))
    return got.every((k) => typeof k === 'string') && got
  }, { timeout: 20_000, what: 'the VAPID key on every node' })
  t.equal(new Set(keys).size, 1, 'one key for the cluster')
  t.equal(Buffer.from(keys[0], 'base64url').length, 65)
})

t.test('SIGKILL of the node holding a pending notification: it still arrives, under the same id', async (t) => {
  t.equal(ownerOf(view, `user:${bob}`), 'n2')
  let up = false
  receiver.on('/wh/bob', () => ({ status: up ? 200 : 503 }))
  receiver.on('/wp/bob', () => ({ status: up ? 201 : 503 }))
  const bobTok = await signIn(n1.url, bob, 'bob-phone')
  const browser = new BrowserKeys()
  const wp = await apiRetrying(n1.url, 'POST', '/v1/push/subscriptions', { kind: 'webpush', subscription: browser.subscription(`${receiver.url}/wp/bob`) }, bobTok)
  t.equal(wp.status, 201)
  const wh = await apiRetrying(n3.url, 'POST', '/v1/push/subscriptions', { kind: 'webhook', url: `${receiver.url}/wh/bob` }, bobTok)
  t.equal(wh.status, 201)
  const vapidKey = (await api(n3.url, 'GET', '/v1/push/vapid', undefined, bobTok)).body.publicKey

  const aliceDev = await Device.open(t, n3.wsUrl, await signIn(n3.url, alice), 'alice-laptop')
  const ack = await aliceDev.send(`dm:${[alice, bob].sort().join(':')}`, 'survives a crash', 'c-1')
  t.equal(ack.op, 'ack')
  await waitFor(() => receiver.at('/wh/bob').length >= 2 && receiver.at('/wp/bob').length >= 2, { timeout: 15_000, what: 'retries against the receiver that is down' })
  const hookId = receiver.at('/wh/bob')[0]!.headers['x-chat-notification-id']
  const pushId = JSON.parse(browser.decrypt(receiver.at('/wp/bob')[0]!.body).toString()).id
  t.ok(hookId && pushId, 'the pending notifications have ids')

  await n2.kill()
  const killedAt = Date.now()
  up = true
  const hook = await waitFor(() => receiver.at('/wh/bob').find((r) => r.status === 200), { timeout: 30_000, what: 'webhook delivery after the kill' })
  const push = await waitFor(() => receiver.at('/wp/bob').find((r) => r.status === 201), { timeout: 30_000, what: 'web push delivery after the kill' })
  t.ok(hook.at >= killedAt && push.at >= killedAt, 'delivered after the holder died')
  t.equal(hook.headers['x-chat-notification-id'], hookId, 'the webhook gets the same id')
  t.equal(JSON.parse(hook.body.toString()).preview, 'survives a crash')
  const body = JSON.parse(browser.decrypt(push.body).toString())
  t.equal(body.id, pushId, 'the browser gets the same id')
  t.equal(body.preview, 'survives a crash')
  verifyVapid(push.headers.authorization, vapidKey)
  t.pass('signed with the cluster key by the new owner')

  // The new owner heard the outcome: the notification is settled, not sent again and again.
  const settled = receiver.received.length
  await aliceDev.send(`dm:${[alice, bob].sort().join(':')}`, 'marker', 'c-2')
  await waitFor(() => receiver.at('/wh/bob').some((r) => JSON.parse(r.body.toString()).preview === 'marker'), { timeout: 15_000, what: 'marker notification' })
  const after = receiver.received.slice(settled).filter((r) => r.path === '/wh/bob')
  t.same(after.map((r) => JSON.parse(r.body.toString()).preview), ['marker'], 'the delivered one was not repeated')
})
