/**
 * Operations and input handling on a node in the test process (its real gateway on a socket): /healthz, /metrics (Prometheus text with
 * requests by route and status, active actors, process metrics), the shape of /v1/cluster and
 * /v1/discover, JSON 404s for unknown routes, 413 for bodies over 1 MiB, and wrong types on every
 * route answered 400, never 500.
 */
import t, { type Test } from 'tap'
import { InProcessNode } from '../helpers/in-process.js'
import { api, login } from '../helpers/node-process.js'

const node = await InProcessNode.start(t, { id: 'ops-node' })
const base = node.url
const alice = await login(base, 'alice', 'alice-web')
await login(base, 'bob', 'bob-web')

function error(t: Test, res: { status: number; body: any }, status: number, code: string, what: string): void {
  t.equal(res.status, status, `${what}: status ${status}`)
  t.equal(res.body?.error?.code, code, `${what}: code ${code}`)
  t.type(res.body?.error?.message, 'string', `${what}: a message`)
}

t.test('GET /healthz', async (t) => {
  const res = await fetch(`${base}/healthz`)
  t.equal(res.status, 200)
  t.same(await res.json(), { status: 'ok', nodeId: 'ops-node' })
})

t.test('GET /v1/cluster and /v1/discover of a standalone node', async (t) => {
  const cluster = await api(base, 'GET', '/v1/cluster')
  t.equal(cluster.status, 200)
  t.match(cluster.body, { self: 'ops-node', ringVersion: Number, members: [{ id: 'ops-node', http: base, live: true, connections: Number, actors: Number }] })
  t.equal(cluster.body.members.length, 1)
  t.ok('grpc' in cluster.body.members[0], 'members carry their grpc address (null when standalone)')

  const discover = await api(base, 'GET', '/v1/discover')
  t.equal(discover.status, 200)
  t.same(discover.body, { url: `${node.wsUrl}`, nodeId: 'ops-node' })
  t.same((await api(base, 'GET', '/v1/discover?region=mars')).body.nodeId, 'ops-node', 'an unknown region falls back to any live node')
  error(t, await api(base, 'GET', `/v1/discover?region=${'x'.repeat(65)}`), 400, 'BAD_REQUEST', 'a region too long')
})

t.test('unknown routes are JSON 404s', async (t) => {
  // `/` is the web app (test/web/static.test.ts); any path that is neither API nor one of its files is a 404.
  for (const [method, path] of [['GET', '/nope'], ['POST', '/'], ['GET', '/v1/nope'], ['POST', '/v1/me'], ['DELETE', '/v1/users'], ['PUT', '/v1/groups'], ['GET', '/v1/groups/g:x/members'], ['GET', '/v2/users?x=1']]) {
    const res = await fetch(base + path, { method })
    t.equal(res.status, 404, `${method} ${path}: 404`)
    t.match(res.headers.get('content-type'), /application\/json/, `${method} ${path}: JSON`)
    const body = await res.json()
    t.equal(body.error.code, 'NOT_FOUND')
    t.match(body.error.message, path.split('?')[0]!, 'the message names the route')
  }
})

t.test('bodies over 1 MiB are 413 on every route with a body', async (t) => {
  const huge = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10) })
  for (const [method, path] of [['POST', '/v1/users'], ['POST', '/v1/sessions'], ['PATCH', '/v1/me'], ['POST', '/v1/friends'], ['POST', '/v1/groups'], ['POST', '/v1/groups/g:abc/members']]) {
    const res = await fetch(base + path, { method, body: huge, headers: { 'content-type': 'application/json', authorization: `Bearer ${alice}` } })
    error(t, { status: res.status, body: await res.json() }, 413, 'PAYLOAD_TOO_LARGE', `${method} ${path}`)
  }
  const justUnder = JSON.stringify({ displayName: 'x', pad: 'y'.repeat(1024 * 1024 - 64) })
  const ok = await fetch(`${base}/v1/me`, { method: 'PATCH', body: justUnder, headers: { 'content-type': 'application/json', authorization: `Bearer ${alice}` } })
  t.equal(ok.status, 200, 'a body just under 1 MiB is read')
})

t.test('wrong types are 400 on every route, never 500', async (t) => {
  const values: unknown[] = [null, true, 0, -1, 1.5, 'str', [], ['x'], {}, { nested: 1 }, 'x'.repeat(300)]
  const routes: Array<[string, string, Record<string, unknown>]> = [
    ['POST', '/v1/users', { username: 'zed_new', password: 'password-123', displayName: 'Zed' }],
    ['POST', '/v1/sessions', { username: 'alice', password: 'password-123', deviceId: 'd1' }],
    ['PATCH', '/v1/me', { displayName: 'Al' }],
    ['POST', '/v1/friends', { username: 'bob' }],
    ['POST', '/v1/groups', { name: 'g', members: ['bob'] }],
  ]
  let checked = 0
  for (const [method, path, valid] of routes) {
    for (const field of Object.keys(valid)) {
      for (const value of values) {
        if (typeof value === typeof valid[field] && (typeof value !== 'string' || value.length < 100)) continue
        const res = await api(base, method, path, { ...valid, [field]: value }, alice)
        checked++
        if (res.status !== 400 || res.body?.error?.code !== 'BAD_REQUEST') {
          t.fail(`${method} ${path} with ${field}=${JSON.stringify(value).slice(0, 20)}: ${res.status} ${res.text.slice(0, 120)}`)
        }
      }
    }
    for (const body of [[], 'text', 7, null, true]) {
      const res = await api(base, method, path, body, alice)
      checked++
      if (res.status !== 400) t.fail(`${method} ${path} with body ${JSON.stringify(body)}: ${res.status}`)
    }
  }
  t.ok(checked > 100, `${checked} wrong bodies, all 400 BAD_REQUEST`)
  t.equal((await api(base, 'POST', '/v1/sessions', { username: 'zed_new', password: 'password-123' })).status, 401, 'no refused signup created the user')

  for (const path of ['/v1/presence?users[]=a', '/v1/presence?users=a&users=b', '/v1/discover?region=a&region=b', '/v1/channels/dm:alice:bob/messages?limit=1&limit=2', '/v1/channels/dm:alice:bob/messages?before[x]=1']) {
    const res = await api(base, 'GET', path, undefined, alice)
    t.ok(res.status === 400 || res.status === 200, `GET ${path}: ${res.status} (a client error or a lenient read, never 500)`)
  }
  error(t, await api(base, 'POST', `/v1/groups/g:${'a'.repeat(300)}/members`, { username: 'bob' }, alice), 400, 'BAD_REQUEST', 'a path parameter over 256 characters')
  error(t, await api(base, 'GET', '/v1/channels/%E0%A4%A/messages', undefined, alice), 400, 'BAD_REQUEST', 'a malformed percent-encoding')
})

t.test('GET /metrics in Prometheus format', async (t) => {
  await api(base, 'GET', '/v1/no-such-route')
  await api(base, 'GET', '/v1/me', undefined, alice)
  const res = await fetch(`${base}/metrics`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/plain/)
  const text = await res.text()
  const sample = (name: string, labels: Record<string, string>) => {
    const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)))
    return line === undefined ? undefined : Number(line.split(' ').pop())
  }
  t.match(text, /# TYPE chat_http_requests_total counter/)
  t.ok(sample('chat_http_requests_total', { method: 'POST', route: '/v1/users', status: '201' })! >= 2, 'signups counted by route and status')
  t.ok(sample('chat_http_requests_total', { method: 'POST', route: '/v1/users', status: '400' })! >= 1, 'refused signups counted apart')
  t.ok(sample('chat_http_requests_total', { method: 'GET', route: '/v1/me', status: '200' })! >= 1)
  t.ok(sample('chat_http_requests_total', { route: '/v1/groups/:id/members', status: '413' })! >= 1, 'routes are the patterns, not the raw paths')
  t.ok(sample('chat_http_requests_total', { status: '404' })! >= 1, 'unknown routes are counted too')
  t.notMatch(text, /route="\/v1\/groups\/g:/, 'no raw ids in labels')
  const actors = /^chat_active_actors (\d+)$/m.exec(text)
  t.ok(actors && Number(actors[1]) >= 2, `chat_active_actors counts the activated users (${actors?.[1]})`)
  t.match(text, /^chat_ws_connections \d+$/m)
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
    t.match(text, new RegExp(`^${name} `, 'm'), `process metric ${name}`)
  }
})
