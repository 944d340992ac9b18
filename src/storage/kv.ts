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

export interface Kv {
  get<T>(key: string): Promise<T | undefined>
  getMany<T>(keys: string[]): Promise<Array<T | undefined>>
  /** Applies every op or none. Resolves once the batch is written to the OS (no fsync per batch). */
  batch(ops: KvOp[]): Promise<void>
  /** Entries in byte order of their keys (reverse when asked), bounded by the options. */
  range<T>(options: RangeOptions): Promise<Array<[string, T]>>
  close(): Promise<void>
}

export class StorageLockedError extends Error {
  override readonly name = 'StorageLockedError'
}
