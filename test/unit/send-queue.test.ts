/**
 * A socket's send queue is counted in bytes including the frame being written: a frame that would
 * take the unsent bytes past --max-queued-bytes closes the socket with 1013 instead of being
 * queued (the device reconnects and syncs); a frame into an empty queue always goes.
 */
import t from 'tap'
import { fakeSession } from '../helpers/session.js'


const KiB = 1024

async function session(t: { teardown(fn: () => unknown): void }, maxQueuedBytes: number) {
  const { socket, s } = fakeSession(t, 'alice', { maxQueuedBytes })
  await s.start()
  return { socket, s }
}

t.test('a frame that would pass the bound closes the socket with 1013 instead of queueing', async (t) => {
  const { socket, s } = await session(t, 1024 * KiB)
  t.equal(socket.sent.length, 1, 'ready was sent')
  socket.bufferedAmount = 600 * KiB
  s.push(JSON.stringify({ op: 'message', text: 'x'.repeat(500 * KiB) }))
  t.equal(socket.closed, 1013, 'closed with 1013')
  t.equal(socket.sent.length, 1, 'the frame was not queued: unsent bytes stay within the bound')
})

t.test('a frame that fits is queued; a large frame into an empty queue always goes', async (t) => {
  const { socket, s } = await session(t, 1024 * KiB)
  socket.bufferedAmount = 100 * KiB
  s.push(JSON.stringify({ op: 'message', text: 'x'.repeat(500 * KiB) }))
  t.equal(socket.closed, null, 'fits: not closed')
  t.equal(socket.sent.length, 2)
  socket.bufferedAmount = 0
  s.push(JSON.stringify({ op: 'message', text: 'y'.repeat(2048 * KiB) }))
  t.equal(socket.closed, null, 'a frame larger than the bound still goes out into an empty queue')
  t.equal(socket.sent.length, 3)
})
