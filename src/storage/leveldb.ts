/**
 * The Kv contract on LevelDB (`level`): one database per node, in the node's data dir.
 *
 * Group commit: batches requested within one turn of the event loop are written as one LevelDB
 * write, in the order they were requested, and each caller's promise settles when that write did.
 * Under load (many actors committing at once) this turns hundreds of small writes into a few
 * large ones. Each caller's ops are encoded before they join, so one bad value fails only its own
 * batch; a LevelDB write error fails every batch in it, none of which was then written.
 */
import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Level } from 'level'
import { type Kv, type KvOp, type RangeOptions, StorageLockedError } from './kv.js'

type Encoded = { type: 'put'; key: string; value: string } | { type: 'del'; key: string }

interface Group { ops: Encoded[]; waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> }

export class LevelKv implements Kv {
  private group: Group | null = null

  private constructor(private readonly db: Level<string, string>) {}

  /** Opens (creating if needed) the database in `dir`; a dir held by another process is a clear error. */
  static async open(dir: string): Promise<LevelKv> {
    restrict(dir)
    // Values are JSON text, encoded and decoded here (the same bytes level's json encoding wrote).
    const db = new Level<string, string>(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
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

  /** A point read on the calling thread: cheaper than a round trip through the thread pool. */
  async get<T>(key: string): Promise<T | undefined> {
    return decode<T>(this.db.getSync(key))
  }

  async getMany<T>(keys: string[]): Promise<Array<T | undefined>> {
    if (keys.length === 0) return []
    return (await this.db.getMany(keys)).map((v) => decode<T>(v))
  }

  batch(ops: KvOp[]): Promise<void> {
    if (ops.length === 0) return Promise.resolve()
    let encoded: Encoded[]
    try {
      encoded = ops.map((op) => (op.type === 'put' ? { type: 'put', key: op.key, value: encode(op.value) } : op))
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise((resolve, reject) => {
      if (!this.group) {
        this.group = { ops: [], waiters: [] }
        setImmediate(() => void this.flush())
      }
      for (const op of encoded) this.group.ops.push(op)
      this.group.waiters.push({ resolve, reject })
    })
  }

  async range<T>(options: RangeOptions): Promise<Array<[string, T]>> {
    const opts: RangeOptions = { ...options }
    if (opts.limit === undefined) opts.limit = -1
    const rows = await this.db.iterator(opts).all()
    return rows.map(([k, v]) => [k, decode<T>(v) as T])
  }

  async close(): Promise<void> {
    await this.flush()
    await this.db.close()
  }

  private async flush(): Promise<void> {
    const group = this.group
    this.group = null
    if (!group) return
    try {
      await this.db.batch(group.ops)
      for (const w of group.waiters) w.resolve()
    } catch (err) {
      for (const w of group.waiters) w.reject(err)
    }
  }
}

/**
 * The data dir holds everything a user wrote and, standalone, the token secret: it is created
 * 0700 and its files made 0600 (an existing dir from an older version is tightened too). Files
 * LevelDB creates later inherit the process umask, which the binary sets to 077.
 */
function restrict(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isFile()) chmodSync(path, 0o600)
  }
}

function encode(value: unknown): string {
  const text = JSON.stringify(value)
  if (text === undefined) throw new TypeError('value cannot be stored as JSON')
  return text
}

function decode<T>(text: string | undefined): T | undefined {
  return text === undefined ? undefined : (JSON.parse(text) as T)
}

function isLocked(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: string }).code
    const message = String((e as { message?: string }).message ?? '')
    if (code === 'LEVEL_LOCKED' || /lock/i.test(message)) return true
  }
  return false
}
