/** The Kv contract on LevelDB (`level`): one database per node, in the node's data dir. */
import { mkdirSync } from 'node:fs'
import { Level } from 'level'
import { type Kv, type KvOp, type RangeOptions, StorageLockedError } from './kv.js'

export class LevelKv implements Kv {
  private constructor(private readonly db: Level<string, unknown>) {}

  /** Opens (creating if needed) the database in `dir`; a dir held by another process is a clear error. */
  static async open(dir: string): Promise<LevelKv> {
    mkdirSync(dir, { recursive: true })
    const db = new Level<string, unknown>(dir, { keyEncoding: 'utf8', valueEncoding: 'json' })
    try {
      await db.open()
    } catch (err) {
      if (isLocked(err)) {
        throw new StorageLockedError(`data dir ${dir} is in use by another process (LevelDB lock held); stop it or pick another --data-dir`)
      }
      throw err
    }
    return new LevelKv(db)
  }

  async get<T>(key: string): Promise<T | undefined> {
    return (await this.db.get(key)) as T | undefined
  }

  async getMany<T>(keys: string[]): Promise<Array<T | undefined>> {
    if (keys.length === 0) return []
    return (await this.db.getMany(keys)) as Array<T | undefined>
  }

  async batch(ops: KvOp[]): Promise<void> {
    if (ops.length === 0) return
    // KvOp is structurally the same as level's batch operation; its overloads hide that.
    await (this.db.batch as unknown as (ops: KvOp[]) => Promise<void>).call(this.db, ops)
  }

  async range<T>(options: RangeOptions): Promise<Array<[string, T]>> {
    const opts: RangeOptions = { ...options }
    if (opts.limit === undefined) opts.limit = -1
    return (await this.db.iterator(opts).all()) as Array<[string, T]>
  }

  async close(): Promise<void> {
    await this.db.close()
  }
}

function isLocked(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: string }).code
    const message = String((e as { message?: string }).message ?? '')
    if (code === 'LEVEL_LOCKED' || /lock/i.test(message)) return true
  }
  return false
}
