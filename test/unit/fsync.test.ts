/**
 * `--fsync` modes of the LevelDB store: in every mode, batches requested one after another land in
 * that order (the last write to a key wins), each resolves once written, a point-in-time snapshot
 * does not see later writes, and everything is there after a reopen; and each mode asks LevelDB
 * for the synced writes it promises. (Whether the disk then really synced is the operating
 * system's business; the costs are measured by `npm run bench`.)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { FSYNC_MODES } from '../../src/storage/kv.js'
import { LevelKv } from '../../src/storage/leveldb.js'

for (const fsync of FSYNC_MODES) {
  t.test(`fsync ${fsync}: ordered, atomic, durable across a reopen`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), `chat-fsync-${fsync}-`))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    let kv = await LevelKv.open(dir, { fsync })
    t.equal(kv.fsync, fsync)
    // 300 batches requested at once, several writing the same keys: requested order decides.
    await Promise.all(Array.from({ length: 300 }, (_, i) => kv.batch([
      { type: 'put', key: `k${i % 7}`, value: i },
      { type: 'put', key: `own${String(i).padStart(3, '0')}`, value: { i } },
    ])))
    for (let k = 0; k < 7; k++) t.equal(await kv.get(`k${k}`), 300 - 7 + ((k - (300 - 7) % 7 + 7) % 7), `k${k}: the last batch requested wins`)
    const snap = kv.snapshot()
    await kv.batch([{ type: 'put', key: 'k0', value: 'later' }, { type: 'del', key: 'own000' }])
    t.same((await snap.range<number>({ gte: 'k0', lte: 'k0' }))[0], ['k0', 294], 'a snapshot does not see a later write')
    t.equal((await snap.rawRange({ gte: 'own000', lte: 'own000' })).length, 1, 'nor a later delete')
    await snap.close()
    await kv.close()
    kv = await LevelKv.open(dir, { fsync })
    t.teardown(() => kv.close())
    t.equal(await kv.get('k0'), 'later', 'the last write survives a reopen')
    t.equal((await kv.range({ gte: 'own', lt: 'own\xff' })).length, 299, 'and every batch before it')
  })
}

/**
 * What each mode asks of LevelDB, seen at its write call: `never` no synced write; `batch` one
 * synced write per group commit (so many batches requested at once share one fsync); `always` one
 * synced write per batch, one after the other. A spy on the database's writes counts them.
 */
for (const fsync of FSYNC_MODES) {
  t.test(`fsync ${fsync}: the writes LevelDB is asked for`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), `chat-fsync-calls-${fsync}-`))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const kv = await LevelKv.open(dir, { fsync })
    t.teardown(() => kv.close())
    // Writes go through a chained batch (leveldb.ts): the spy wraps each one's write call.
    interface Chained { length: number; write(options?: { sync?: boolean }): Promise<void> }
    const db = (kv as unknown as { db: { batch: () => Chained } }).db
    const writes: Array<{ ops: number; sync: boolean; overlapping: boolean }> = []
    let inFlight = 0
    const real = db.batch.bind(db)
    db.batch = () => {
      const chained = real()
      const write = chained.write.bind(chained)
      chained.write = async (options) => {
        writes.push({ ops: chained.length, sync: options?.sync === true, overlapping: inFlight > 0 })
        inFlight++
        try {
          return await write(options)
        } finally {
          inFlight--
        }
      }
      return chained
    }
    // 100 batches requested in one turn of the event loop, then 5 more, one at a time.
    await Promise.all(Array.from({ length: 100 }, (_, i) => kv.batch([{ type: 'put', key: `a${i}`, value: i }])))
    for (let i = 0; i < 5; i++) await kv.batch([{ type: 'put', key: `b${i}`, value: i }])
    const synced = writes.filter((w) => w.sync).length
    if (fsync === 'never') {
      t.equal(synced, 0, 'no write is synced')
      t.equal(writes.length, 6, 'the 100 concurrent batches are one group commit, then one write each')
    } else if (fsync === 'batch') {
      t.equal(writes.length, 6, 'the 100 concurrent batches are one group commit, then one write each')
      t.equal(synced, 6, 'every group commit is one synced write')
      t.equal(writes[0]!.ops, 100, 'the first carries all 100 batches: one fsync for all of them')
    } else {
      t.equal(writes.length, 105, 'one write per batch')
      t.equal(synced, 105, 'each synced')
      t.notOk(writes.some((w) => w.overlapping), 'one after the other, never two at once')
    }
    t.equal((await kv.range({ gte: 'a', lt: 'c' })).length, 105, 'and everything was written')
  })
}
