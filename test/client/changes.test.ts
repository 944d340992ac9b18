/**
 * The SDK's rules for applying edit, delete and reaction events to a message it holds, and the
 * cache's update in place: the same results the server's stored view gives, never a mutation of
 * the object an app may still hold.
 */
import t from 'tap'
import { MessageCache, applyChange, type ChangeEvent, type Message } from '../../src/client/index.js'

const channel = 'g:team'
const base: Message = { channel, seq: 3, from: 'alice', text: 'hello', ts: 100, clientMsgId: 'c3' }
const edit = (text: string, ts: number, deleted?: true): ChangeEvent => ({ op: 'edit', inboxSeq: 9, channel, seq: 3, text, by: 'alice', ts, ...(deleted ? { deleted } : {}) })
const react = (user: string, emoji: string, on: boolean): ChangeEvent => ({ op: 'reaction', inboxSeq: 9, channel, seq: 3, user, emoji, on, ts: 200 })
const del: ChangeEvent = { op: 'delete', inboxSeq: 9, channel, seq: 3, by: 'alice', ts: 300 }

t.test('edit sets text and editedAt; the original object is untouched', async (t) => {
  const next = applyChange(base, edit('hello!', 150))
  t.same(next, { ...base, text: 'hello!', editedAt: 150 })
  t.equal(base.text, 'hello', 'no mutation')
  t.equal(applyChange(next, edit('hello!', 150)), next, 'the same edit again returns the same object')
})

t.test('reactions toggle per user and emoji, in reaction order, and vanish when empty', async (t) => {
  let m = applyChange(base, react('bob', '👍', true))
  m = applyChange(m, react('carol', '👍', true))
  m = applyChange(m, react('carol', '🎉', true))
  t.same(m.reactions, { '👍': ['bob', 'carol'], '🎉': ['carol'] })
  t.equal(applyChange(m, react('bob', '👍', true)), m, 'on twice changes nothing')
  t.equal(applyChange(m, react('dave', '👍', false)), m, 'off for someone who had not reacted changes nothing')
  m = applyChange(m, react('bob', '👍', false))
  m = applyChange(m, react('carol', '👍', false))
  t.same(m.reactions, { '🎉': ['carol'] })
  m = applyChange(m, react('carol', '🎉', false))
  t.notOk('reactions' in m, 'no reactions field once empty')
})

t.test('delete leaves the deleted shape; nothing changes a deleted message back', async (t) => {
  const withStuff = applyChange(applyChange(base, edit('secret', 150)), react('bob', '👍', true))
  const gone = applyChange(withStuff, del)
  t.same(gone, { channel, seq: 3, from: 'alice', ts: 100, deleted: true, text: '' }, 'only channel, seq, from, ts remain')
  t.equal(applyChange(gone, del), gone)
  t.equal(applyChange(gone, edit('again', 400)), gone, 'an edit of a deleted message is ignored')
  t.equal(applyChange(gone, react('bob', '👍', true)), gone, 'so is a reaction')
  t.same(applyChange(base, edit('', 150, true)), gone, 'an edit synced after its message was deleted deletes it')
})

t.test('the cache updates a cached message in place of the old one', async (t) => {
  const cache = new MessageCache(10)
  cache.add(base)
  cache.add({ ...base, seq: 4, clientMsgId: 'c4' })
  const held = cache.messages(channel)
  const updated = cache.update(channel, 3, (m) => applyChange(m, edit('changed', 5)))
  t.match(updated, { seq: 3, text: 'changed' })
  t.same(cache.messages(channel).map((m) => m.text), ['changed', 'hello'])
  t.equal(held[0]!.text, 'hello', 'a list the app holds is not changed under it')
  t.equal(cache.update(channel, 99, (m) => m), undefined, 'a message not cached')
  t.equal(cache.update('g:other', 3, (m) => m), undefined, 'a channel not cached')
})
