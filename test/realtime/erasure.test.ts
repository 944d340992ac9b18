/**
 * A deleted message's text is gone from storage, not hidden: after the node stops, every key and
 * value in its LevelDB is read back and none holds the deleted text or its words (message view,
 * search index, inboxes, event log), nor the words an edit replaced; reactions to it remain only
 * as the record of who reacted (reaction events). Words of a message that is
 * still there are found, so the scan itself is shown to see what it looks for.
 */
import t from 'tap'
import { Level } from 'level'
import { Device } from '../helpers/device.js'
import { NodeProcess, api, login } from '../helpers/node-process.js'

const node = await NodeProcess.start(t)
const [alice, bob] = await Promise.all(['alice', 'bob'].map((u) => login(node.url, u)))
const group = await api(node.url, 'POST', '/v1/groups', { name: 'erasure', members: ['bob'] }, alice)
const G: string = group.body.channel.id

t.test('deleted text and replaced words leave no trace in the data dir', async (t) => {
  const a = await Device.open(t, node.wsUrl, alice!, 'a1')
  const b = await Device.open(t, node.wsUrl, bob!, 'b1')
  const send = async (channel: string, text: string, id: string) => (await a.send(channel, text, id)).seq as number
  const deleted = await send(G, 'the zebracorn password is Hünkärbeğendi', 'del-1')
  const edited = await send(G, 'meet at quokkaplaza tonight', 'edit-1')
  const kept = await send(G, 'narwhalish stays', 'keep-1')
  // Enough messages after them that the group's search postings are written in blocks (at most
  // 191 messages, search-index.ts): the edits and deletes below reach blocks, the 1:1 one the
  // word list of a message not yet in one.
  for (let i = 0; i < 192; i++) await send(G, `filler message ${i}`, `fill-${i}`)
  const dmDeleted = await send('dm:alice:bob', 'dm secret platypusoid', 'del-2')
  for (const [seq, emoji] of [[deleted, '🦓'], [kept, '🐳']] as const) {
    t.equal((await b.request({ op: 'react', channel: G, seq, emoji, on: true })).op, 'ok')
  }
  t.equal((await a.request({ op: 'edit', channel: G, seq: deleted, text: 'the zebracorn password, edited: Ünlüdağ' })).op, 'ok')
  t.equal((await a.request({ op: 'edit', channel: G, seq: edited, text: 'meet at the station tonight' })).op, 'ok')
  t.equal((await a.request({ op: 'delete', channel: G, seq: deleted })).op, 'ok')
  t.equal((await a.request({ op: 'delete', channel: 'dm:alice:bob', seq: dmDeleted })).op, 'ok')
  await b.waitPush((f) => f.op === 'delete' && f.seq === dmDeleted, 'bob hears of the last delete')
  t.equal((await b.syncAll(0)).filter((e) => e.op === 'delete').length, 2, 'both deletes are in bob\'s inbox')
  const status = await node.stop()
  t.equal(status.code, 0, 'the node stopped cleanly')

  const db = new Level<string, string>(node.dataDir, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  await db.open()
  t.teardown(() => db.close())
  let entries = 0
  const found = new Map<string, string[]>()
  const look = ['zebracorn', 'hunkarbegendi', 'Hünkärbeğendi', 'Ünlüdağ', 'unludag', 'quokkaplaza', 'platypusoid', '🦓', 'narwhalish', '🐳']
  for await (const [key, value] of db.iterator()) {
    entries++
    for (const word of look) {
      if (key.includes(word) || value.includes(word) || value.includes(JSON.stringify(word).slice(1, -1))) {
        found.set(word, [...(found.get(word) ?? []), key.replace(/\0/g, '/')])
      }
    }
  }
  t.ok(entries > 20, `the scan read the whole store (${entries} entries)`)
  t.ok((found.get('narwhalish') ?? []).some((k) => k.includes('/m/')), 'a kept message\'s text is in its stored view')
  t.ok((found.get('narwhalish') ?? []).some((k) => k.includes('/x/narwhalish/')), 'and its words in the index\'s blocks')
  t.ok(found.has('🐳'), 'and its reactions')
  for (const word of ['zebracorn', 'hunkarbegendi', 'Hünkärbeğendi', 'Ünlüdağ', 'unludag', 'platypusoid']) {
    t.same(found.get(word) ?? [], [], `nothing of the deleted messages: ${word}`)
  }
  // A reaction is not the message's text: the event "bob reacted 🦓" stays in the event log and the
  // inboxes (sync must return every inboxSeq); the deleted message's view no longer lists it.
  t.same((found.get('🦓') ?? []).filter((k) => !/\/(e|i)\/\d{16}$/.test(k)), [], 'a deleted message\'s reactions are gone from its view')
  t.same(found.get('quokkaplaza') ?? [], [], 'nothing of the words an edit replaced')
})
