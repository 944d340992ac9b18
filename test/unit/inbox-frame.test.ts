// A pushed event's JSON, built from a message body serialized once for all its recipients, is
// exactly what serializing the whole frame gives, for every kind of event.
import t from 'tap'
import { inboxFrame, inboxFrameJson } from '../../src/actors/inbox-events.js'
import type { ChannelEvent } from '../../src/actors/messages.js'

const message = (text: string, extra: object = {}): ChannelEvent =>
  ({ ev: 7, type: 'message', message: { channel: 'g:abc', seq: 3, from: 'ann', text, ts: 1796000000123, clientMsgId: 'c-1', ...extra } })

const events: Array<[string, ChannelEvent]> = [
  ['a plain message', message('hello')],
  ['quotes, escapes and emoji', message('she said "hi"\n\\ \u2028 😀 <b>')],
  ['an edited message with reactions', message('again', { editedAt: 1796000000999, reactions: { '👍': ['bob', 'cy'] } })],
  ['a deleted message', { ev: 8, type: 'message', message: { channel: 'g:abc', seq: 4, from: 'ann', ts: 1, deleted: true, text: '' } }],
  ['an edit', { ev: 9, type: 'edit', channel: 'g:abc', seq: 3, text: 'new', by: 'ann', ts: 2 }],
  ['a member added', { ev: 10, type: 'member_added', channel: 'g:abc', user: 'dee', by: 'ann', ts: 3 }],
  ['a delete', { ev: 11, type: 'delete', channel: 'g:abc', seq: 3, by: 'ann', ts: 4 }],
  ['a reaction', { ev: 12, type: 'reaction', channel: 'g:abc', seq: 3, user: 'bob', emoji: '👍', on: true, ts: 5 }],
]

t.test('the same JSON as the whole frame serialized, for each kind of event', async (t) => {
  for (const [what, e] of events) {
    for (const inboxSeq of [1, 42, 1234567]) t.equal(inboxFrameJson(e, inboxSeq), JSON.stringify(inboxFrame(e, inboxSeq)), `${what}, inboxSeq ${inboxSeq}`)
  }
})

t.test('one message for many recipients: each frame has its own inboxSeq and parses to the frame', async (t) => {
  const e = message('for everyone')
  const frames = [5, 6, 900].map((n) => inboxFrameJson(e, n))
  t.same(frames.map((f) => JSON.parse(f)), [5, 6, 900].map((n) => inboxFrame(e, n)))
  t.same(frames.map((f) => JSON.parse(f).inboxSeq), [5, 6, 900])
})

t.test('a rewritten event (a new object) is serialized afresh', async (t) => {
  const e = message('secret') as Extract<ChannelEvent, { type: 'message' }>
  t.match(inboxFrameJson(e, 1), /secret/)
  const scrubbed: ChannelEvent = { ...e, message: { channel: 'g:abc', seq: 3, from: 'ann', ts: 1, deleted: true, text: '' } }
  t.notMatch(inboxFrameJson(scrubbed, 2), /secret/)
})
