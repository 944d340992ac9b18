import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { ApiError, HttpApi } from '../../src/client/index.js'
import { FakeServer } from '../helpers/fake-server.js'

t.test('HTTP API: answers are unwrapped, failures are ApiError with status and code', async (t) => {
  const server = await FakeServer.start()
  t.teardown(() => server.close())
  const api = new HttpApi({ baseUrl: `${server.httpUrl}/` })

  t.same(await api.signup({ username: 'dave', password: 'secret123' }), { username: 'dave', displayName: 'dave' })
  const taken = await api.signup({ username: 'alice', password: 'secret123' }).then(() => undefined, (e: unknown) => e)
  t.ok(taken instanceof ApiError, 'named error class')
  t.match(taken, { name: 'ApiError', status: 409, code: 'USERNAME_TAKEN', message: 'taken', retryable: false })

  await t.rejects(api.me(), { status: 401, code: 'UNAUTHORIZED' }, 'no token')
  await t.rejects(api.login({ username: 'nobody', password: 'secret123' }), { status: 401, code: 'UNAUTHORIZED' })
  const session = await api.login({ username: 'bob', password: 'secret123', deviceId: 'laptop' })
  t.same(session, { token: 'tok-bob', user: { username: 'bob', displayName: 'bob' }, deviceId: 'laptop' })
  t.equal(api.token, 'tok-bob', 'login keeps the token')
  t.same(await api.me(), { username: 'bob', displayName: 'bob' }, 'the bearer token is sent')
  t.same(await api.discover(), { url: server.wsUrl, nodeId: 'fake-1' })
  await t.rejects(api.cluster(), { status: 404, code: 'NOT_FOUND' })
})

t.test('HTTP API: register signs up and keeps the session the answer carries, or logs in after', async (t) => {
  const server = await FakeServer.start()
  t.teardown(() => server.close())
  const api = new HttpApi({ baseUrl: server.httpUrl })
  const session = await api.register({ username: 'erin', password: 'secret123', deviceId: 'tablet' })
  t.same(session, { token: 'tok-erin', user: { username: 'erin', displayName: 'erin' }, deviceId: 'tablet' })
  t.equal(api.token, 'tok-erin', 'the token is kept')
  t.same(await api.me(), { username: 'erin', displayName: 'erin' }, 'and sent')
  await t.rejects(api.register({ username: 'alice', password: 'secret123' }), { status: 409, code: 'USERNAME_TAKEN' })

  const asked: string[] = []
  const older = (async (url: string | URL) => {
    const path = new URL(String(url)).pathname
    asked.push(path)
    if (path === '/v1/users') return new Response('{"user":{"username":"finn","displayName":"finn"}}', { status: 201 })
    return new Response('{"token":"tok-finn","user":{"username":"finn","displayName":"finn"},"deviceId":"d-1"}', { status: 200 })
  }) as typeof globalThis.fetch
  const api2 = new HttpApi({ baseUrl: 'http://x.test', fetch: older })
  t.same(await api2.register({ username: 'finn', password: 'secret123' }), { token: 'tok-finn', user: { username: 'finn', displayName: 'finn' }, deviceId: 'd-1' })
  t.same(asked, ['/v1/users', '/v1/sessions'], 'a sign-up answered with the user alone is followed by a login')
  t.equal(api2.token, 'tok-finn')
})

t.test('HTTP API: bodies that are not the contract, and a dead server', async (t) => {
  const answer = (status: number, body: string) => (async () => new Response(body, { status })) as typeof globalThis.fetch
  await t.rejects(new HttpApi({ baseUrl: 'http://x.test', fetch: answer(418, 'I am a teapot') }).me(), { status: 418, code: 'BAD_RESPONSE' })
  await t.rejects(new HttpApi({ baseUrl: 'http://x.test', fetch: answer(503, '{"error":{"code":"UNAVAILABLE","message":"m"}}') }).me(),
    { status: 503, code: 'UNAVAILABLE', retryable: true })
  await t.rejects(new HttpApi({ baseUrl: 'http://x.test', fetch: answer(200, 'not json') }).me(), { status: 200, code: 'BAD_RESPONSE' })

  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  const dead = new HttpApi({ baseUrl: `http://127.0.0.1:${port}` })
  const err = await dead.health().then(() => undefined, (e: unknown) => e)
  t.match(err, { name: 'ApiError', status: 0, code: 'NETWORK_ERROR', retryable: true })
})

t.test('HTTP API: paths and queries are encoded', async (t) => {
  const seen: string[] = []
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    seen.push(`${init?.method} ${String(input)} ${JSON.stringify((init?.headers as Record<string, string>).authorization ?? null)}`)
    return new Response(JSON.stringify({ messages: [], channel: {}, presence: [] }), { status: 200 })
  }) as typeof globalThis.fetch
  const api = new HttpApi({ baseUrl: 'http://example.test', token: 't1', fetch })
  await api.history('dm:alice:bob', { before: 10, limit: 5 })
  await api.removeMember('g:x y', 'bob')
  await api.presence(['a', 'b'])
  t.same(seen, [
    'GET http://example.test/v1/channels/dm%3Aalice%3Abob/messages?before=10&limit=5 "Bearer t1"',
    'DELETE http://example.test/v1/groups/g%3Ax%20y/members/bob "Bearer t1"',
    'GET http://example.test/v1/presence?users=a,b "Bearer t1"',
  ])
})
