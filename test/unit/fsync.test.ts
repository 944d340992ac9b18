/**
 * `--fsync` modes of the LevelDB store: in every mode, batches requested one after another land in
 * that order (the last write to a key wins), each resolves once written, a point-in-time snapshot
 * does not see later writes, and everything is there after a reopen. (Whether the disk really
 * synced is the operating system's business; the costs are measured by `npm run bench`.)
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
