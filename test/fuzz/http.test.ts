/**
 * Fuzzing the HTTP API against a live node (fast-check): random methods, paths near the real
 * routes, query strings, headers and bodies (random and mutated JSON). Every answer is a success
 * or a contract error with the status its code has (never a 5xx, never internal text), the node
 * stays healthy, another user's session is unaffected and nothing is stored in their channels.
 */
import { request } from 'node:http'
import fc from 'fast-check'
import t from 'tap'
import { Device } from '../helpers/device.js'
import { NodeProcess, api, login } from '../helpers/node-process.js'
import { type HttpInput, RUNS, SEED, TIME_MS, type World, httpRequest } from './arbitraries.js'
import { badError, bugLines } from './check.js'

const node = await NodeProcess.start(t)
const [mallory, alice, bob] = await Promise.all(['hz_mallory', 'hz_alice', 'hz_bob'].map((u) => login(node.url, u)))
await login(node.url, 'hz_friend')
const group = (await api(node.url, 'POST', '/v1/groups', { name: 'victims', members: ['hz_bob'] }, alice)).body.channel.id as string
const world: World = { self: 'hz_mallory', friend: 'hz_friend', victims: ['hz_alice', 'hz_bob'], group }

function send(input: HttpInput): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(node.url)
  return new Promise((resolve, reject) => {
    // A fresh connection each time: a request the server answers with `Connection: close` must not poison the next.
    // A body always says its length: node sends DELETE bodies without one, which is not HTTP.
    const headers = input.body === undefined ? input.headers : { ...input.headers, 'content-length': String(Buffer.byteLength(input.body)) }
    const req = request({ host: hostname, port, method: input.method, path: input.path, headers, timeout: 15_000, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode!, text }))
    })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')))
    req.end(input.body)
  })
}

t.test(`random and mutated HTTP requests (${RUNS} runs)`, async (t) => {
  const b = await Device.open(t, node.wsUrl, bob!, 'b')
  await fc.assert(fc.asyncProperty(httpRequest(world, mallory!), async (input) => {
    const { status, text } = await send(input)
    const what = `${input.method} ${input.path.slice(0, 120)} ${String(input.body).slice(0, 120)} -> ${status} ${text.slice(0, 200)}`
    if (status >= 500) throw new Error(`a 5xx: ${what}`)
    if (status < 400) return
    let body: any
    try {
      body = JSON.parse(text)
    } catch {
      throw new Error(`an error that is not JSON: ${what}`)
    }
    const bad = badError(body?.error, status)
    if (bad) throw new Error(`${bad}: ${what}`)
  }), { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), interruptAfterTimeLimit: TIME_MS })

  t.equal((await api(node.url, 'GET', '/healthz')).status, 200, 'the node is healthy')
  t.match(await b.request({ op: 'ping' }), { op: 'pong' }, "another user's socket still answers")
  t.equal((await api(node.url, 'GET', '/v1/me', undefined, alice)).status, 200, "another user's token still works")
  const dm = await api(node.url, 'GET', '/v1/channels/dm:hz_alice:hz_bob/messages?limit=200', undefined, alice)
  t.same(dm.body.messages, [], 'nothing was stored in their 1:1 channel')
  const g = await api(node.url, 'GET', `/v1/channels/${group}/messages?limit=200`, undefined, alice)
  t.same(g.body.channel, undefined)
  const channels = await api(node.url, 'GET', '/v1/channels', undefined, alice)
  const victims = channels.body.channels.find((c: any) => c.id === group)
  t.notOk(victims?.members.includes('hz_mallory'), 'the fuzzer did not get into their group')
  t.same(bugLines(node), [], 'no error lines in the node log')
})
