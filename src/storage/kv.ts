/**
 * The storage contract of one node: an ordered key-value store with atomic batches. Keys are
 * strings compared as bytes; numbers inside keys must be encoded with `keys.ts` so that byte order
 * equals numeric order. Values are JSON. Storage knows nothing of actors or chat.
 */
export type KvOp =
  | { type: 'put'; key: string; value: unknown }
  | { type: 'del'; key: string }

export interface RangeOptions {
  gt?: string
  gte?: string
  lt?: string
  lte?: string
  limit?: number
  reverse?: boolean
}

/**
 * When a batch counts as written (`--fsync`): `never` once the operating system has it (a killed
 * process loses nothing, a machine crash may lose the last seconds); `batch` once it is on disk,
 * one fsync per group commit; `always` once it is on disk, one fsync per batch, no grouping.
 */
export type FsyncMode = 'never' | 'batch' | 'always'

/** LevelDB's memtable size a node uses unless told otherwise (`--write-buffer-mb`; leveldb.ts says why). */
export const DEFAULT_WRITE_BUFFER_MB = 64

export const FSYNC_MODES: readonly FsyncMode[] = ['never', 'batch', 'always']

/**
 * A consistent, read-only view of the store at the moment it was taken: later writes are not
 * seen. Long-lived readers (a state snapshot streamed in chunks, a backup) use one so that what
 * they read belongs to one point in time. Must be closed.
 */
export interface KvSnapshot {
  range<T>(options: RangeOptions): Promise<Array<[string, T]>>
  /** As range, with values as the stored JSON text (a backup copies them without parsing). */
  rawRange(options: RangeOptions): Promise<Array<[string, string]>>
  close(): Promise<void>
}

export interface Kv {
  get<T>(key: string): Promise<T | undefined>
  getMany<T>(keys: string[]): Promise<Array<T | undefined>>
  /**
   * Applies every op or none, each at `prefix + op.key` (an actor's store passes its prefix, so
   * that no op is copied to qualify its key). Resolves once the batch is as durable as the
   * store's FsyncMode says.
   */
  batch(ops: KvOp[], prefix?: string): Promise<void>
  /** Entries in byte order of their keys (reverse when asked), bounded by the options. */
  range<T>(options: RangeOptions): Promise<Array<[string, T]>>
  /** A point-in-time view for reads that span several calls. */
  snapshot(): KvSnapshot
  close(): Promise<void>
}

export class StorageLockedError extends Error {
  override readonly name = 'StorageLockedError'
}
