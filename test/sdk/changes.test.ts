/**
 * Edits, deletes, reactions and search through the SDK against a real node: the calls, the
 * events an app gets, and the local cache, which after every event holds what history holds, on
 * the devices that saw the changes live and on one that syncs them all later.
 */
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { ApiError, ChatClient, ChatError, HttpApi, type ChangeEvent, type MessageChange } from '../../src/client/index.js'
import { NodeProcess, login } from '../helpers/node-process.js'
import { waitFor } from '../helpers/wait.js'
import { AppRecorder } from '../helpers/app-recorder.js'

const node = await NodeProcess.start(t)
const BASE = node.url

/** An app on the SDK that also records the change events and the `change` payloads. */
class App extends AppRecorder {
  readonly changes: ChangeEvent[] = []
  readonly changed: MessageChange[] = []

  static async open(t: Test, user: string, deviceId: string): Promise<App> {
    const token = await login(BASE, user, deviceId)
    const client = new ChatClient({ token, url: node.wsUrl, WebSocket, inboxSeq: 0, deviceId })
    t.teardown(() => client.close())
    const app = new App(user, client)
    const synced = new Promise((resolve) => client.once('synced', resolve))
    await client.connect()
    await synced
    return app
  }

  constructor(user: string, client: ChatClient) {
    super(user, client)
    for (const op of ['edit', 'delete', 'reaction'] as const) {
      client.on(op, (e: ChangeEvent) => {
        if (this.events.at(-1) !== e) this.problems.push(`${op} ${e.inboxSeq} not right after its event`)
        this.changes.push(e)
      })
    }
    client.on('change', (c) => {
      if (this.changes.at(-1) !== c.event) this.problems.push(`change ${c.event.inboxSeq} not right after its ${c.event.op}`)
      this.changed.push(c)
    })
  }
}

const [alice, bob] = [await App.open(t, 'alice', 'a1'), await App.open(t, 'bob', 'b1')]
const aliceHttp = new HttpApi({ baseUrl: BASE, token: await login(BASE, 'alice') })
const bobHttp = new HttpApi({ baseUrl: BASE, token: await login(BASE, 'bob') })
const group = await aliceHttp.createGroup('sdk', ['bob'])
const G = group.id

async function history(): Promise<unknown[]> {
  return await aliceHttp.history(G, { after: 0, limit: 200 })
}

t.test('changes reach both apps as events, and both caches show what history shows', async (t) => {
  const acks = []
  for (const text of ['first words', 'vote on this', 'oops, wrong chat']) acks.push(await alice.client.send(G, text))
  await waitFor(() => bob.client.cachedMessages(G).length === 3, { what: 'bob caches the 3 messages' })
  const [one, two, three] = acks.map((a) => a.seq) as [number, number, number]

  await alice.client.edit(G, one, 'first words, edited')
  await bob.client.react(G, two, '👍')
  await alice.client.react(G, two, '🎉')
  await bob.client.react(G, two, '👍', false)
  await bob.client.react(G, two, '🔥')
  await alice.client.deleteMessage(G, three)
  await alice.client.deleteMessage(G, three)
  await alice.client.edit(G, one, 'first words, edited')

  for (const app of [alice, bob]) {
    await waitFor(() => app.changes.length === 6, { what: `${app.user} gets 6 change events` })
    t.same(app.changes.map((e) => e.op), ['edit', 'reaction', 'reaction', 'reaction', 'reaction', 'delete'], `${app.user}: each change once, repeats none`)
    t.same(app.problems, [], `${app.user}: events in order, each change event right after its event`)
    const last = app.changed.at(-1)!
    t.same(last.message, { channel: G, seq: three, from: 'alice', ts: last.message!.ts, deleted: true, text: '' }, `${app.user}: change carries the cached message after the delete`)
    t.same(app.client.cachedMessages(G), await history(), `${app.user}: the cache holds what history holds`)
  }
  const cached = bob.client.cachedMessages(G)
  t.match(cached[0], { text: 'first words, edited', editedAt: Number })
  t.same(cached[1]!.reactions, { '🎉': ['alice'], '🔥': ['bob'] })

  const late = await App.open(t, 'bob', 'b2')
  await waitFor(() => late.changes.length === 6, { what: 'a new device syncs the 6 changes' })
  t.same(late.client.cachedMessages(G), await history(), 'a device that synced everything later has the same cache')
  t.notOk(JSON.stringify(late.events).includes('wrong chat'), 'and never saw the deleted text')
})

t.test('refusals reject with the contract\'s codes', async (t) => {
  const { seq } = await alice.client.send(G, 'mine')
  const code = (p: Promise<unknown>) => p.then(() => 'ok', (err) => (err instanceof ChatError || err instanceof ApiError ? err.code : String(err)))
  t.equal(await code(bob.client.edit(G, seq, 'not yours')), 'FORBIDDEN')
  t.equal(await code(bob.client.deleteMessage(G, seq)), 'FORBIDDEN')
  t.equal(await code(alice.client.edit(G, 9999, 'x')), 'NOT_FOUND')
  t.equal(await code(alice.client.react(G, seq, 'x'.repeat(17))), 'BAD_FRAME')
  t.equal(await code(bobHttp.edit(G, seq, 'not yours')), 'FORBIDDEN', 'over HTTP too')
})

t.test('HttpApi changes and search; ChatClient search with paging', async (t) => {
  const { seq } = await bob.client.send(G, 'searchable ünïcode words')
  await bobHttp.edit(G, seq, 'searchable unicode words, edited')
  await aliceHttp.react(G, seq, '✅')
  const found = await alice.client.search('UNICODE')
  t.match(found, { messages: [{ seq, text: 'searchable unicode words, edited', reactions: { '✅': ['alice'] } }], more: false })
  t.same(await bobHttp.search('unicode'), found, 'the same over HTTP')
  await aliceHttp.react(G, seq, '✅', false)
  await bobHttp.deleteMessage(G, seq)
  t.same((await alice.client.search('unicode')).messages, [], 'deleted: not found')

  for (let i = 0; i < 5; i++) await alice.client.send(G, `pageable ${i}`)
  const seen: string[] = []
  let page = await alice.client.search('pageable', { limit: 2, channel: G })
  for (let n = 0; n < 10; n++) {
    seen.push(...page.messages.map((m) => m.text))
    if (!page.more) break
    page = await alice.client.search('pageable', { limit: 2, channel: G, before: page.next! })
  }
  t.same(seen, ['pageable 4', 'pageable 3', 'pageable 2', 'pageable 1', 'pageable 0'], 'pages newest first, all once')
})
