/**
 * The SDK's typing support against a real node: `client.typing()` reaches the other member as a
 * `typing` event, is sent at most once per channel every 2 s whatever the call rate, is skipped
 * while disconnected, and a refusal (not a member) rejects with the server's code.
 */
import t from 'tap'
import WebSocket from 'ws'
import { ChatClient, ChatError, dmChannelId, type TypingPushFrame } from '../../src/client/index.js'
import { Device } from '../helpers/device.js'
import { NodeProcess, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'

const node = await NodeProcess.start(t)
const [alice, bob] = await Promise.all(['alice', 'bob', 'carol'].map((u) => login(node.url, u)))

async function open(token: string): Promise<ChatClient> {
  const client = new ChatClient({ token, url: node.wsUrl, WebSocket, keepAliveMs: 0 })
  t.teardown(() => client.close())
  await client.connect()
  return client
}

t.test('typing reaches the other side once per 2 s however often it is called', async (t) => {
  const a = await open(alice!)
  const b = await open(bob!)
  const seen: TypingPushFrame[] = []
  b.on('typing', (f) => seen.push(f))
  // Bob's second, raw device counts the notices on the wire.
  const raw = await Device.open(t, node.wsUrl, bob!, 'bob-raw')
  const channel = dmChannelId('bob', 'alice')
  for (let i = 0; i < 20; i++) await a.typing(channel)
  await waitFor(() => seen.length === 1, { what: 'typing event at bob' })
  t.same(seen[0], { op: 'typing', channel: 'dm:alice:bob', user: 'alice' })
  await raw.waitPush((f) => f.op === 'typing')
  await a.ping()
  t.equal(raw.pushes.filter((f) => f.op === 'typing').length, 1, 'one notice for twenty calls')
})

t.test('a refused typing rejects with the server code; a closed client sends nothing', async (t) => {
  const a = await open(alice!)
  const err = await a.typing('dm:bob:carol').then(() => null, (e: unknown) => e)
  t.ok(err instanceof ChatError && err.code === 'FORBIDDEN', `rejected with FORBIDDEN (${String(err)})`)
  a.close()
  await t.resolves(a.typing('dm:alice:bob'), 'typing while not connected is a no-op, not an error')
})
