/**
 * Push notifications on a real standalone node (PROTOCOL.md section 4.1), against a local HTTP
 * server that plays the push service and the webhook receivers. Web Push bodies are decrypted and
 * VAPID tokens verified by the test's own RFC 8291 / RFC 8292 code, not by the sending library.
 */
import t, { type Test } from 'tap'
import { HttpApi } from '../../src/client/http.js'
import { PushApi, base64UrlToBytes, type PushRegistrationLike } from '../../src/client/push.js'
import { Device } from '../helpers/device.js'
import { api, login, NodeProcess } from '../helpers/node-process.js'
import { BrowserKeys, PushReceiver, verifyVapid, verifyWebhookSignature } from '../helpers/push-receiver.js'
import { waitFor } from '../helpers/wait.js'

// Eleven subtests against one real node, some waiting out coalescing windows: room for a busy machine.
t.setTimeout(180_000)

const COALESCE_MS = 1000
const node = await NodeProcess.start(t, {
  args: [
    '--log-level', 'debug', '--push-coalesce-ms', String(COALESCE_MS),
    '--push-retry-base-ms', '50', '--push-retry-max-ms', '200', '--push-give-up-ms', '4000',
  ],
})
const receiver = await PushReceiver.start(t)
const SECRET_WORD = 'Geheimnis'

const tokens = new Map<string, string>()
async function user(name: string): Promise<string> {
  if (!tokens.has(name)) tokens.set(name, await login(node.url, name, `${name}-phone`))
  return tokens.get(name)!
}
const dm = (a: string, b: string) => `dm:${[a, b].sort().join(':')}`
async function subscribeWebhook(name: string, path: string): Promise<{ id: string; secret: string }> {
  const r = await api(node.url, 'POST', '/v1/push/subscriptions', { kind: 'webhook', url: receiver.url + path }, await user(name))
  if (r.status !== 201) throw new Error(`subscribe ${name}: ${r.status} ${r.text}`)
  return r.body
}
async function sender(t: Test, name: string): Promise<Device> {
  return Device.open(t, node.wsUrl, await user(name), `${name}-laptop`)
}
let sent = 0
async function send(d: Device, channel: string, text: string): Promise<any> {
  const ack = await d.send(channel, text, `m-${++sent}`)
  if (ack.op !== 'ack') throw new Error(`send: ${JSON.stringify(ack)}`)
  return ack
}
const json = (r: { body: Buffer }) => JSON.parse(r.body.toString()) as any
async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `))
  return line ? Number(line.split(' ').pop()) : 0
}

t.test('the subscription API: VAPID key, create, list, delete, validation, limit', async (t) => {
  const tok = await user('api_amy')
  t.equal((await api(node.url, 'GET', '/v1/push/vapid')).status, 401, 'the VAPID key needs a token')
  const vapid = await api(node.url, 'GET', '/v1/push/vapid', undefined, tok)
  t.equal(vapid.status, 200)
  t.equal(Buffer.from(vapid.body.publicKey, 'base64url').length, 65, 'an uncompressed P-256 public key, base64url')
  const again = await api(node.url, 'GET', '/v1/push/vapid', undefined, tok)
  t.equal(again.body.publicKey, vapid.body.publicKey, 'the same key every time')

  const keys = new BrowserKeys()
  const bad: Array<[string, unknown]> = [
    ['no kind', { url: 'http://127.0.0.1/x' }],
    ['unknown kind', { kind: 'sms', url: 'http://127.0.0.1/x' }],
    ['not a URL', { kind: 'webhook', url: 'not a url' }],
    ['ftp URL', { kind: 'webhook', url: 'ftp://127.0.0.1/x' }],
    ['webpush without keys', { kind: 'webpush', subscription: { endpoint: 'http://127.0.0.1/x' } }],
    ['p256dh not on the curve', { kind: 'webpush', subscription: { endpoint: 'http://127.0.0.1/x', keys: { p256dh: Buffer.alloc(65, 4).toString('base64url'), auth: keys.auth.toString('base64url') } } }],
    ['auth of 8 bytes', { kind: 'webpush', subscription: { endpoint: 'http://127.0.0.1/x', keys: { p256dh: keys.publicKey.toString('base64url'), auth: 'AAAAAAAAAAA' } } }],
  ]
  for (const [what, body] of bad) {
    const r = await api(node.url, 'POST', '/v1/push/subscriptions', body, tok)
    t.equal(r.status, 400, `${what}: 400`)
    t.equal(r.body?.error?.code, 'BAD_REQUEST', `${what}: BAD_REQUEST`)
  }
  t.equal((await api(node.url, 'POST', '/v1/push/subscriptions', { kind: 'webhook', url: 'http://127.0.0.1/x' })).status, 401, 'creating needs a token')

  const hook = await api(node.url, 'POST', '/v1/push/subscriptions', { kind: 'webhook', url: `${receiver.url}/api/hook` }, tok)
  t.equal(hook.status, 201)
  t.equal(hook.body.kind, 'webhook')
  t.ok(typeof hook.body.secret === 'string' && hook.body.secret.length >= 32, 'a webhook gets its secret once')
  const wp = await api(node.url, 'POST', '/v1/push/subscriptions', { kind: 'webpush', subscription: keys.subscription(`${receiver.url}/api/wp`) }, tok)
  t.equal(wp.status, 201)
  t.same(Object.keys(wp.body).sort(), ['id', 'kind'], 'a webpush subscription: id and kind, no secret')
  const same = await api(node.url, 'POST', '/v1/push/subscriptions', { kind: 'webpush', subscription: keys.subscription(`${receiver.url}/api/wp`) }, tok)
  t.equal(same.body.id, wp.body.id, 'subscribing the same endpoint again keeps its id')

  const list = await api(node.url, 'GET', '/v1/push/subscriptions', undefined, tok)
  t.equal(list.status, 200)
  t.same(list.body.subscriptions.map((s: any) => s.id).sort(), [hook.body.id, wp.body.id].sort())
  for (const s of list.body.subscriptions) {
    t.equal(s.deviceId, 'api_amy-phone', 'belongs to the device of the token')
    t.notOk('secret' in s || 'keys' in s, 'never the secret or keys')
    t.equal(typeof s.createdAt, 'number')
  }
  t.equal(list.body.subscriptions.find((s: any) => s.id === hook.body.id).url, `${receiver.url}/api/hook`)
  t.equal(list.body.subscriptions.find((s: any) => s.id === wp.body.id).endpoint, `${receiver.url}/api/wp`)
  const other = await api(node.url, 'GET', '/v1/push/subscriptions', undefined, await user('api_ben'))
  t.same(other.body.subscriptions, [], 'another user sees none of them')
  t.equal((await api(node.url, 'DELETE', `/v1/push/subscriptions/${hook.body.id}`, undefined, await user('api_ben'))).status, 404, 'nor can delete them')

  for (let i = 3; i <= 10; i++) {
    const r = await api(node.url, 'POST', '/v1/push/subscriptions', { kind: 'webhook', url: `${receiver.url}/api/hook${i}` }, tok)
    t.equal(r.status, 201, `subscription ${i} of 10`)
  }
  const over = await api(node.url, 'POST', '/v1/push/subscriptions', { kind: 'webhook', url: `${receiver.url}/api/hook11` }, tok)
  t.equal(over.status, 422, 'the 11th is refused')
  t.equal(over.body.error.code, 'LIMIT_REACHED')
  t.equal((await api(node.url, 'POST', '/v1/push/subscriptions', { kind: 'webpush', subscription: keys.subscription(`${receiver.url}/api/wp`) }, tok)).status, 201, 're-subscribing at the limit still works')

  const del = await api(node.url, 'DELETE', `/v1/push/subscriptions/${hook.body.id}`, undefined, tok)
  t.equal(del.status, 204)
  t.equal(del.text, '')
  t.equal((await api(node.url, 'DELETE', `/v1/push/subscriptions/${hook.body.id}`, undefined, tok)).status, 404, 'deleting twice is 404')
  t.equal((await api(node.url, 'GET', '/v1/push/subscriptions', undefined, tok)).body.subscriptions.length, 9)
  t.equal((await api(node.url, 'POST', '/v1/push/subscriptions', { kind: 'webhook', url: `${receiver.url}/api/hook11` }, tok)).status, 201, 'room again after a delete')
})

t.test('an offline user gets a Web Push (RFC 8291, VAPID) and a signed webhook', async (t) => {
  const keys = new BrowserKeys()
  const tok = await user('bob')
  const r = await api(node.url, 'POST', '/v1/push/subscriptions', { kind: 'webpush', subscription: keys.subscription(`${receiver.url}/wp/bob`) }, tok)
  t.equal(r.status, 201)
  const hook = await subscribeWebhook('bob', '/wh/bob')
  const vapidKey = (await api(node.url, 'GET', '/v1/push/vapid', undefined, tok)).body.publicKey as string

  const alice = await sender(t, 'alice')
  const text = `${'🎉'.repeat(60)} ${SECRET_WORD} ${'x'.repeat(80)}`
  const before = Date.now()
  const ack = await send(alice, dm('alice', 'bob'), text)
  const [wp] = await waitFor(() => receiver.at('/wp/bob').length > 0 && receiver.at('/wp/bob'), { timeout: 10_000, what: 'web push to bob' })
  const [wh] = await waitFor(() => receiver.at('/wh/bob').length > 0 && receiver.at('/wh/bob'), { timeout: 10_000, what: 'webhook to bob' })

  t.equal(wp!.headers['content-encoding'], 'aes128gcm')
  t.equal(wp!.headers['content-type'], 'application/octet-stream')
  t.equal(wp!.headers.ttl, '86400', 'a TTL')
  t.match(wp!.headers.topic, /^[A-Za-z0-9_-]{1,32}$/, 'a Topic of at most 32 URL-safe base64 characters')
  t.equal(wp!.headers.urgency, 'high')
  const claims = verifyVapid(wp!.headers.authorization, vapidKey)
  t.equal(claims.aud, receiver.url, 'VAPID audience: the push service origin')
  t.equal(claims.sub, 'mailto:postmaster@chat.invalid')
  t.ok(claims.exp > Date.now() / 1000 && claims.exp <= Date.now() / 1000 + 24 * 3600, 'expires within 24 h')
  const body = JSON.parse(keys.decrypt(wp!.body).toString())
  t.match(body, { user: 'bob', channel: dm('alice', 'bob'), from: 'alice', count: 1, ts: ack.ts })
  t.equal(body.preview, [...text].slice(0, 100).join(''), 'preview: the first 100 code points')
  t.equal(typeof body.id, 'string')
  t.ok(body.inboxSeq >= 1, 'the inboxSeq of the message')
  t.equal(body.fromName, 'alice', 'with the display name of the sender')

  t.equal(wh!.headers['content-type'], 'application/json')
  const whBody = json(wh!)
  t.equal(wh!.headers['x-chat-notification-id'], whBody.id, 'x-chat-notification-id names the notification')
  const sig = verifyWebhookSignature(wh!.headers['x-chat-signature'], hook.secret, wh!.body)
  t.ok(sig.t >= before - 1000 && sig.t <= Date.now() + 1000, 'signed at send time, in unix ms')
  t.match(whBody, { user: 'bob', channel: dm('alice', 'bob'), from: 'alice', preview: body.preview, inboxSeq: body.inboxSeq, count: 1, ts: ack.ts })
  t.throws(() => verifyWebhookSignature(wh!.headers['x-chat-signature'], 'another-secret', wh!.body), 'a wrong secret does not verify')

  // One more message to the same conversation: the same Topic (one per conversation).
  await send(alice, dm('alice', 'bob'), 'and again')
  const second = await waitFor(() => receiver.at('/wp/bob')[1], { timeout: 10_000, what: 'second web push' })
  t.equal(second.headers.topic, wp!.headers.topic, 'the Topic is the conversation\'s')
  t.not(JSON.parse(keys.decrypt(second.body).toString()).id, body.id, 'a new notification has a new id')
})

t.test('a burst within the coalescing window is one notification (count, newest fields)', async (t) => {
  await subscribeWebhook('dora', '/wh/dora')
  const carl = await sender(t, 'carl')
  const channel = dm('carl', 'dora')
  // Sent back to back (pipelined), so they arrive well within the window even on a busy machine.
  const acks = await Promise.all(['one', 'two', 'three'].map((text) => send(carl, channel, text)))
  const [first] = await waitFor(() => receiver.at('/wh/dora').length > 0 && receiver.at('/wh/dora'), { timeout: 10_000, what: 'burst notification' })
  const b = json(first!)
  t.equal(b.count, 3, 'three messages, one notification')
  t.equal(b.preview, 'three', 'the newest message\'s preview')
  t.equal(b.ts, acks[2]!.ts, 'and its ts')
  // A message after the window is a notification of its own; then nothing else arrived for the burst.
  await send(carl, channel, 'four')
  const later = await waitFor(() => receiver.at('/wh/dora')[1], { timeout: 10_000, what: 'next notification' })
  t.match(json(later), { count: 1, preview: 'four' })
  t.equal(receiver.at('/wh/dora').length, 2, 'four messages, two notifications')
  t.equal(json(later).inboxSeq, b.inboxSeq + 1)
})

t.test('nothing while the user has a live device', async (t) => {
  await subscribeWebhook('erin', '/wh/erin')
  const frank = await sender(t, 'frank')
  const erin = await Device.open(t, node.wsUrl, await user('erin'), 'erin-tablet', 200)
  const channel = dm('erin', 'frank')
  await send(frank, channel, 'while online')
  await erin.waitPush((f) => f.op === 'message' && f.text === 'while online', 'live delivery to erin')
  // Erin answers from her device: her own message is no notification for her either.
  await erin.send(channel, 'my own words', 'erin-1')
  erin.close()
  await waitFor(async () => {
    const r = await api(node.url, 'GET', '/v1/presence?users=erin', undefined, await user('frank'))
    return r.body.presence?.[0]?.status === 'offline'
  }, { timeout: 5000, what: 'erin offline' })
  await send(frank, channel, 'while offline')
  const got = await waitFor(() => receiver.at('/wh/erin')[0], { timeout: 10_000, what: 'notification after erin left' })
  t.match(json(got), { preview: 'while offline', count: 1, from: 'frank' })
  t.equal(receiver.at('/wh/erin').length, 1, 'the message that came while she was online was not notified')
})

t.test('a failing receiver is retried under the same id until it recovers', async (t) => {
  receiver.on('/wh/gina', (n) => (n === 1 ? { status: 503, headers: { 'retry-after': '0' } } : n === 2 ? { status: 500 } : n === 3 ? { status: 429 } : { status: 200 }))
  await subscribeWebhook('gina', '/wh/gina')
  const retriesBefore = await metric('chat_push_retries_total', 'kind="webhook"')
  const hal = await sender(t, 'hal')
  await send(hal, dm('gina', 'hal'), 'are you there')
  await waitFor(() => receiver.at('/wh/gina').some((r) => r.status === 200), { timeout: 10_000, what: 'delivery after recovery' })
  const attempts = receiver.at('/wh/gina')
  t.same(attempts.map((r) => r.status), [503, 500, 429, 200], 'three failures, then delivered')
  t.equal(new Set(attempts.map((r) => r.headers['x-chat-notification-id'])).size, 1, 'one id across retries')
  t.equal(new Set(attempts.map((r) => json(r).id)).size, 1, 'the body keeps the id too')
  t.ok(attempts[1]!.at - attempts[0]!.at >= 20, 'retries wait (backoff)')
  t.ok(await metric('chat_push_retries_total', 'kind="webhook"') >= retriesBefore + 3, 'retries counted')
  t.ok(await metric('chat_push_sent_total', 'kind="webhook"') >= 1, 'delivery counted')
})

t.test('404 and 410 remove the subscription; retries give up after the give-up time', async (t) => {
  const keys = new BrowserKeys()
  receiver.on('/wp/ivy', () => ({ status: 410 }))
  receiver.on('/wh/ivy', () => ({ status: 404 }))
  receiver.on('/wh/ivy-down', () => ({ status: 502 }))
  const tok = await user('ivy')
  await api(node.url, 'POST', '/v1/push/subscriptions', { kind: 'webpush', subscription: keys.subscription(`${receiver.url}/wp/ivy`) }, tok)
  await subscribeWebhook('ivy', '/wh/ivy')
  const down = await subscribeWebhook('ivy', '/wh/ivy-down')
  const removedBefore = await metric('chat_push_subscriptions_removed_total', 'kind="webpush"')
  const expiredBefore = await metric('chat_push_dropped_total', 'reason="expired"')
  const jack = await sender(t, 'jack')
  await send(jack, dm('ivy', 'jack'), 'hello ivy')
  await waitFor(async () => {
    const list = (await api(node.url, 'GET', '/v1/push/subscriptions', undefined, tok)).body.subscriptions
    return list.length === 1 && list[0].id === down.id
  }, { timeout: 10_000, what: 'gone subscriptions removed' })
  t.ok(await metric('chat_push_subscriptions_removed_total', 'kind="webpush"') >= removedBefore + 1, 'removal counted')
  t.equal(receiver.at('/wp/ivy').length, 1, 'a gone endpoint is not retried')
  await waitFor(async () => (await metric('chat_push_dropped_total', 'reason="expired"')) >= expiredBefore + 1, { timeout: 15_000, what: 'expired notification dropped' })
  const tries = receiver.at('/wh/ivy-down').length
  t.ok(tries >= 3, `retried until the give-up time (${tries} attempts)`)
  // Retries were at most 200 ms apart: had they gone on, some would land while another
  // notification is held and delivered. (The bound on the delay itself is a unit test.)
  await subscribeWebhook('kate', '/wh/kate')
  await send(jack, dm('jack', 'kate'), 'marker')
  await waitFor(() => receiver.at('/wh/kate').length === 1, { timeout: 10_000, what: 'marker notification' })
  t.equal(receiver.at('/wh/ivy-down').length, tries, 'no attempt after it was dropped')
})

t.test('the SDK: PushApi registers, lists and removes subscriptions', async (t) => {
  const http = new HttpApi({ baseUrl: node.url })
  await http.signup({ username: 'sdk_sue', password: 'password-123' })
  await http.login({ username: 'sdk_sue', password: 'password-123', deviceId: 'sue-browser' })
  const push = new PushApi(http)
  const key = await push.vapidPublicKey()
  t.equal(base64UrlToBytes(key).length, 65, 'the VAPID key decodes to 65 bytes')
  const keys = new BrowserKeys()
  // enableWebPush as a browser runs it, with a push manager that hands out this subscription.
  let subscribedWith: Uint8Array | null = null
  const registration: PushRegistrationLike = {
    pushManager: {
      getSubscription: async () => null,
      subscribe: async (o: { applicationServerKey: Uint8Array }) => {
        subscribedWith = o.applicationServerKey
        return { toJSON: () => keys.subscription(`${receiver.url}/wp/sue`), unsubscribe: async () => true }
      },
    },
  }
  t.equal(await push.enableWebPush(registration, async () => 'denied'), null, 'nothing without permission')
  const created = await push.enableWebPush(registration, async () => 'granted')
  t.equal(created?.kind, 'webpush')
  t.same(subscribedWith && Buffer.from(subscribedWith).toString('base64url'), key, 'subscribed under the cluster key')
  const hook = await push.subscribeWebhook(`${receiver.url}/wh/sue`)
  t.ok(hook.secret, 'the webhook secret')
  const list = await push.list()
  t.same(list.map((s) => s.kind).sort(), ['webhook', 'webpush'])
  t.ok(list.every((s) => s.deviceId === 'sue-browser'))
  await push.unsubscribe(hook.id)
  await t.rejects(push.unsubscribe(hook.id), { code: 'NOT_FOUND' }, 'a second delete is NOT_FOUND')
  const existing = { toJSON: () => keys.subscription(`${receiver.url}/wp/sue`), unsubscribe: async () => true }
  await push.disableWebPush({ pushManager: { getSubscription: async () => existing, subscribe: registration.pushManager.subscribe } })
  t.same(await push.list(), [], 'disableWebPush removes this browser\'s subscription')
})

t.test('the SDK: a subscription under another key is replaced; disabling unsubscribes the browser and removes remembered ids', async (t) => {
  const http = new HttpApi({ baseUrl: node.url })
  await http.signup({ username: 'sdk_sam', password: 'password-123' })
  await http.login({ username: 'sdk_sam', password: 'password-123', deviceId: 'sam-browser' })
  const push = new PushApi(http)
  const key = base64UrlToBytes(await push.vapidPublicKey())
  const events: string[] = []
  const browserSub = (name: string, k: Uint8Array) => ({
    options: { applicationServerKey: k.slice().buffer },
    toJSON: () => new BrowserKeys().subscription(`${receiver.url}/wp/${name}`),
    unsubscribe: async () => { events.push(`unsubscribe ${name}`); current = null; return true },
  })
  // The browser holds a subscription made under a key the cluster no longer has.
  let current: ReturnType<typeof browserSub> | null = browserSub('old-key', new Uint8Array(65).fill(4))
  const registration = {
    pushManager: {
      getSubscription: async () => current,
      subscribe: async (o: { applicationServerKey: Uint8Array<ArrayBuffer> }) => {
        events.push('subscribe')
        current = browserSub('sam', o.applicationServerKey)
        return current
      },
    },
  }
  const created = await push.enableWebPush(registration, async () => 'granted')
  t.same(events, ['unsubscribe old-key', 'subscribe'], 'the old key\'s subscription is replaced')
  t.match(await push.list(), [{ id: created!.id, endpoint: `${receiver.url}/wp/sam` }])
  const again = await push.enableWebPush(registration, async () => 'granted')
  t.equal(again!.id, created!.id, 'enabling again keeps the subscription and its id')
  t.same(events, ['unsubscribe old-key', 'subscribe'], 'without subscribing the browser again')

  // A remembered id the browser no longer knows (its subscription is gone), and one already deleted.
  const orphan = await push.subscribeWebPush(new BrowserKeys().subscription(`${receiver.url}/wp/sam-lost`))
  const deleted = await push.subscribeWebPush(new BrowserKeys().subscription(`${receiver.url}/wp/sam-deleted`))
  await push.unsubscribe(deleted.id)
  await push.disableWebPush(registration, [orphan.id, deleted.id])
  t.same(events.slice(2), ['unsubscribe sam'], 'the browser\'s subscription is ended')
  t.same(await push.list(), [], 'and the server keeps none: the endpoint\'s and the remembered ones (a 404 is fine)')
})

t.test('no message text reaches the log', async (t) => {
  t.ok(node.log.length > 0)
  t.notOk(node.log.includes(SECRET_WORD), 'the preview goes to the receiver only')
})

t.test('a pending notification survives a crash and restart, under the same id', async (t) => {
  let up = false
  receiver.on('/wh/kim', () => ({ status: up ? 200 : 503 }))
  await subscribeWebhook('kim', '/wh/kim')
  const leo = await sender(t, 'leo')
  await send(leo, dm('kim', 'leo'), 'before the crash')
  await waitFor(() => receiver.at('/wh/kim').length >= 1, { timeout: 10_000, what: 'a first attempt' })
  const id = receiver.at('/wh/kim')[0]!.headers['x-chat-notification-id']
  leo.terminate()
  await node.kill()
  const attemptsBefore = receiver.at('/wh/kim').length
  up = true
  await node.launch()
  const delivered = await waitFor(() => receiver.at('/wh/kim').find((r) => r.status === 200), { timeout: 15_000, what: 'delivery after restart' })
  t.ok(receiver.at('/wh/kim').length > attemptsBefore, 'sent again by the restarted node')
  t.equal(delivered.headers['x-chat-notification-id'], id, 'under the same id')
  t.equal(json(delivered).preview, 'before the crash')
})

t.test('logging out removes the push subscriptions of what was logged out', async (t) => {
  const phone = await login(node.url, 'bye_bea', 'bea-phone')
  const laptop = await login(node.url, 'bye_bea', 'bea-laptop')
  const tablet = await login(node.url, 'bye_bea', 'bea-tablet')
  for (const [tok, path] of [[phone, '/bye/phone'], [laptop, '/bye/laptop'], [tablet, '/bye/tablet']] as const) {
    const r = await api(node.url, 'POST', '/v1/push/subscriptions', { kind: 'webhook', url: receiver.url + path }, tok)
    t.equal(r.status, 201, `subscribed ${path}`)
  }
  t.equal((await api(node.url, 'DELETE', '/v1/sessions/current', undefined, phone)).status, 204, 'the phone logs out')
  const left = await api(node.url, 'GET', '/v1/push/subscriptions', undefined, laptop)
  t.same(left.body.subscriptions.map((s: { deviceId: string }) => s.deviceId).sort(), ['bea-laptop', 'bea-tablet'], 'the phone\'s subscription went with its token')
  t.equal((await api(node.url, 'DELETE', '/v1/sessions', undefined, laptop)).status, 204, 'log out everywhere')
  const fresh = await login(node.url, 'bye_bea', 'bea-new')
  const none = await api(node.url, 'GET', '/v1/push/subscriptions', undefined, fresh)
  t.same(none.body.subscriptions, [], 'no subscription outlives logging out everywhere')
})
