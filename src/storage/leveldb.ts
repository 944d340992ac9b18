/**
 * The Kv contract on LevelDB (`level`): one database per node, in the node's data dir.
 *
 * Group commit: batches requested within one turn of the event loop are written as one LevelDB
 * write, in the order they were requested, and each caller's promise settles when that write did.
 * Under load (many actors committing at once) this turns hundreds of small writes into a few
 * large ones. Each caller's ops are encoded before they join, so one bad value fails only its own
 * batch; a LevelDB write error fails every batch in it, none of which was then written. A batch's
 * rows go into the group's LevelDB batch (native memory) as it joins, so the strings and objects
 * made for them are garbage at once instead of living until the write: under load a group
 * gathers for a long turn, and what it held survived young collections (docs/PERFORMANCE.md).
 *
 * Durability (FsyncMode): `never` writes to the OS; `batch` makes each group commit one synced
 * write, so its fsync is shared by everything in it; `always` writes (and syncs) every batch on
 * its own, one after the other.
 */
import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Level } from 'level'
import { DEFAULT_WRITE_BUFFER_MB, type FsyncMode, type Kv, type KvOp, type KvSnapshot, type RangeOptions, StorageLockedError } from './kv.js'

type Encoded = { type: 'put'; key: string; value: string } | { type: 'del'; key: string }

const SYNC = { sync: true } as const

/** A LevelDB chained batch: rows are copied into native memory as they are added. */
interface RowBatch {
  put(key: string, value: string): unknown
  del(key: string): unknown
  write(options?: { sync: boolean }): Promise<void>
}

interface Group { rows: RowBatch; waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> }

export interface LevelKvOptions {
  fsync?: FsyncMode
  /**
   * LevelDB's memtable (write buffer) size; LevelDB's own default is 4 MiB. Every write goes to
   * the memtable, which is written out as a sorted file when full and then merged down the levels
   * by background compaction. Under a steady stream of writes that compaction was about a third of
   * a node's CPU with 4 MiB; 64 MiB makes fewer, larger files and cut it by about a quarter
   * (docs/PERFORMANCE.md). Up to twice this is held in memory while a full one is written out.
   */
  writeBufferBytes?: number
}

/** The memtable size of a node's database unless told otherwise (LevelKvOptions.writeBufferBytes). */
export const DEFAULT_WRITE_BUFFER_BYTES = DEFAULT_WRITE_BUFFER_MB * 1024 * 1024

export class LevelKv implements Kv {
  private group: Group | null = null
  /** `always`: the previous batch's write, so that writes reach the disk one at a time, in order. */
  private chain: Promise<unknown> = Promise.resolve()

  private constructor(private readonly db: Level<string, string>, readonly fsync: FsyncMode) {}

  /** Opens (creating if needed) the database in `dir`; a dir held by another process is a clear error. */
  static async open(dir: string, options: LevelKvOptions = {}): Promise<LevelKv> {
    restrict(dir)
    // Values are JSON text, encoded and decoded here (the same bytes level's json encoding wrote).
    const db = new Level<string, string>(dir, {
      keyEncoding: 'utf8', valueEncoding: 'utf8', writeBufferSize: options.writeBufferBytes ?? DEFAULT_WRITE_BUFFER_BYTES,
    })
    try {
      await db.open()
    } catch (err) {
      if (isLocked(err)) {
        throw new StorageLockedError(`data dir ${dir} is in use by another process (LevelDB lock held); stop it or pick another --data-dir`)
      }
      throw err
    }
    return new LevelKv(db, options.fsync ?? 'never')
  }

  /** A point read on the calling thread: cheaper than a round trip through the thread pool. */
  async get<T>(key: string): Promise<T | undefined> {
    return decode<T>(this.db.getSync(key))
  }

  async getMany<T>(keys: string[]): Promise<Array<T | undefined>> {
    if (keys.length === 0) return []
    return (await this.db.getMany(keys)).map((v) => decode<T>(v))
  }

  batch(ops: KvOp[], prefix = ''): Promise<void> {
    if (ops.length === 0) return Promise.resolve()
    let values: Array<string | undefined>
    try {
      values = ops.map((op) => (op.type === 'put' ? encode(op.value) : undefined))
    } catch (err) {
      return Promise.reject(err)
    }
    if (this.fsync === 'always') {
      let rows: RowBatch
      try {
        rows = this.db.batch()
        add(rows, ops, values, prefix)
      } catch (err) {
        // A database no longer open refuses a batch: a rejection, as for any failed write.
        return Promise.reject(err)
      }
      const write = this.chain.then(() => rows.write(SYNC))
      this.chain = write.catch(() => undefined)
      return write
    }
    return new Promise((resolve, reject) => {
      if (!this.group) {
        this.group = { rows: this.db.batch(), waiters: [] }
        setImmediate(() => void this.flush())
      }
      add(this.group.rows, ops, values, prefix)
      this.group.waiters.push({ resolve, reject })
    })
  }

  async range<T>(options: RangeOptions): Promise<Array<[string, T]>> {
    const opts: RangeOptions = { ...options }
    if (opts.limit === undefined) opts.limit = -1
    const rows = await this.db.iterator(opts).all()
    return rows.map(([k, v]) => [k, decode<T>(v) as T])
  }

  snapshot(): KvSnapshot {
    const snap = this.db.snapshot()
    const read = async (options: RangeOptions): Promise<Array<[string, string]>> => {
      const opts = { ...options, snapshot: snap }
      if (opts.limit === undefined) opts.limit = -1
      return this.db.iterator(opts).all()
    }
    return {
      range: async <T>(options: RangeOptions) => (await read(options)).map(([k, v]): [string, T] => [k, decode<T>(v) as T]),
      rawRange: read,
      close: () => snap.close(),
    }
  }

  /**
   * Writes rows given as stored JSON text (a restore), as one batch; synced unless `never`.
   * Bypasses group commit: a restore writes alone.
   */
  async putRaw(rows: Array<[string, string]>): Promise<void> {
    if (rows.length === 0) return
    await this.write(rows.map(([key, value]) => ({ type: 'put' as const, key, value })), this.fsync !== 'never')
  }

  /**
   * Asks LevelDB to compact everything now, so deleted entries stop taking disk space at once
   * (it otherwise does so in the background, in its own time). For measurements and restores.
   */
  async compactAll(): Promise<void> {
    await this.flush()
    // `level` resolves to classic-level on Node, which has compactRange; its browser types do not.
    await (this.db as unknown as { compactRange(start: string, end: string): Promise<void> }).compactRange('\x00', '\uffff')
  }

  async close(): Promise<void> {
    await this.flush()
    await this.chain
    await this.db.close()
  }

  /**
   * One LevelDB write of `ops`, through a chained batch. The array form (`db.batch(ops, options)`)
   * copies its options into every op before encoding it: with `{ sync: false }` that made the
   * JavaScript side of a write 4.7x slower than with no options (0.61 ms against 2.90 ms for 200
   * ops), and it was the largest single cost of a standalone node's send path. A chained batch
   * takes the options once, and is cheaper than the array form even without them (0.24 ms).
   */
  private write(ops: Encoded[], sync: boolean): Promise<void> {
    const batch = this.db.batch()
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value)
      else batch.del(op.key)
    }
    return sync ? batch.write(SYNC) : batch.write()
  }

  private async flush(): Promise<void> {
    const group = this.group
    this.group = null
    if (!group) return
    try {
      await (this.fsync === 'batch' ? group.rows.write(SYNC) : group.rows.write())
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

/** Adds `ops` (whose put values are `values`, encoded) to `rows`, each key after `prefix`. */
function add(rows: RowBatch, ops: KvOp[], values: Array<string | undefined>, prefix: string): void {
  for (let i = 0; i < ops.length; i++) {
    const key = prefix + ops[i]!.key
    const value = values[i]
    if (value === undefined) rows.del(key)
    else rows.put(key, value)
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
