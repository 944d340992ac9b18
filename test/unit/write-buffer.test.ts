/**
 * The LevelDB memtable size (`--write-buffer-mb`): writes stay in the memtable (and its log) until
 * it is full, and only then become a sorted table file on disk. With the node's default of 64 MiB
 * a few megabytes of writes make no table file; with a small buffer the same writes make several.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parseConfig } from '../../src/config.js'
import { DEFAULT_WRITE_BUFFER_BYTES, LevelKv, type LevelKvOptions } from '../../src/storage/leveldb.js'
import { InProcessNode } from '../helpers/in-process.js'

/** Writes about 3 MiB in 300 batches and counts the table files LevelDB made. */
async function tablesAfterWrites(writeBufferBytes: number | undefined): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-write-buffer-'))
  try {
    const kv = await LevelKv.open(dir, writeBufferBytes === undefined ? {} : { writeBufferBytes })
    const text = 'x'.repeat(10_000)
    for (let b = 0; b < 300; b++) await kv.batch([{ type: 'put', key: `m${String(b).padStart(5, '0')}`, value: `${b} ${text}` }])
    await kv.close()
    return readdirSync(dir).filter((f) => f.endsWith('.ldb')).length
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

t.test('the memtable size decides when writes become table files', async (t) => {
  t.equal(DEFAULT_WRITE_BUFFER_BYTES, 64 * 1024 * 1024, 'the default is 64 MiB')
  t.equal(await tablesAfterWrites(undefined), 0, 'default: 3 MiB of writes are all still in the memtable')
  t.ok(await tablesAfterWrites(256 * 1024) >= 3, 'a 256 KiB memtable: the same writes made table files')
})

t.test('--write-buffer-mb', async (t) => {
  t.equal(parseConfig([]).writeBufferMb, 64, 'defaults to 64')
  t.equal(parseConfig(['--write-buffer-mb', '8']).writeBufferMb, 8)
  t.equal(parseConfig([], { CHAT_WRITE_BUFFER_MB: '16' }).writeBufferMb, 16, 'or CHAT_WRITE_BUFFER_MB')
  t.throws(() => parseConfig(['--write-buffer-mb', '0']), /between 1 and 1024/)
})

t.test('a node opens its store with the memtable size it was given', async (t) => {
  const asked: Array<LevelKvOptions | undefined> = []
  const open = LevelKv.open
  LevelKv.open = (dir: string, options?: LevelKvOptions) => {
    asked.push(options)
    return open.call(LevelKv, dir, options)
  }
  t.teardown(() => { LevelKv.open = open })
  const node = await InProcessNode.start(t, { args: ['--write-buffer-mb', '3'] })
  t.teardown(() => node.stop())
  t.equal(asked.length, 1, 'one store')
  t.equal(asked[0]?.writeBufferBytes, 3 * 1024 * 1024, '--write-buffer-mb 3 is a 3 MiB memtable')
})
