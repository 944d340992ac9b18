/**
 * The Kv contract in memory, for tests and the simulator: a `MemoryDisk` holds the data (it
 * outlives the nodes that use it, as a data dir does), and each `MemoryKv` is one process's open
 * handle on it. Values are stored as JSON text, so nothing a caller keeps can alias stored data.
 *
 * Like LevelKv, batches requested in one turn are written together on the next turn of the
 * handle's clock, in order, all or none. A handle that is closed (or whose node crashed) stops
 * answering: its calls never settle, as in a killed process, and batches it had not written yet
 * are lost. `failWrites` lets the simulator make a write fail (a full or failing disk): the batches
 * of that write are rejected and none of them is stored.
 */
import { type Clock, systemClock } from '../clock.js'
import type { Kv, KvOp, KvSnapshot, RangeOptions } from './kv.js'

/** The stored data: keys kept sorted (byte order equals JavaScript's for the key encoding in keys.ts). */
export class MemoryDisk {
  private readonly keys: string[] = []
  private readonly values = new Map<string, string>()
  /** Batches written so far (a figure for the simulator). */
  writes = 0

  get size(): number {
    return this.keys.length
  }

  read(key: string): string | undefined {
    return this.values.get(key)
  }

  write(ops: Array<{ type: 'put'; key: string; value: string } | { type: 'del'; key: string }>): void {
    this.writes++
    for (const op of ops) {
      const at = this.find(op.key)
      const present = at < this.keys.length && this.keys[at] === op.key
      if (op.type === 'put') {
        if (!present) this.keys.splice(at, 0, op.key)
        this.values.set(op.key, op.value)
      } else if (present) {
        this.keys.splice(at, 1)
        this.values.delete(op.key)
      }
    }
  }

  range(options: RangeOptions): Array<[string, string]> {
    const { keys } = this
    let lo = options.gte !== undefined ? this.find(options.gte) : options.gt !== undefined ? this.find(options.gt) : 0
    if (options.gt !== undefined && keys[lo] === options.gt) lo++
    let hi = options.lte !== undefined ? this.find(options.lte) : options.lt !== undefined ? this.find(options.lt) : keys.length
    if (options.lte !== undefined && keys[hi] === options.lte) hi++
    const limit = options.limit === undefined || options.limit < 0 ? Infinity : options.limit
    const out: Array<[string, string]> = []
    if (options.reverse) {
      for (let i = hi - 1; i >= lo && out.length < limit; i--) out.push([keys[i]!, this.values.get(keys[i]!)!])
    } else {
      for (let i = lo; i < hi && out.length < limit; i++) out.push([keys[i]!, this.values.get(keys[i]!)!])
    }
    return out
  }

  /** A copy of the data as it is now (a snapshot's view: later writes do not reach it). */
  copy(): MemoryDisk {
    const out = new MemoryDisk()
    out.keys.push(...this.keys)
    for (const [k, v] of this.values) out.values.set(k, v)
    return out
  }

  /** The first index whose key is not below `key`. */
  private find(key: string): number {
    let lo = 0
    let hi = this.keys.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.keys[mid]! < key) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

export interface MemoryKvOptions {
  /** Runs the group commit; the system clock by default. */
  clock?: Clock
  /** Asked once per write: true makes it fail. */
  failWrites?: () => boolean
}

type Encoded = { type: 'put'; key: string; value: string } | { type: 'del'; key: string }

export class MemoryKv implements Kv {
  private group: { ops: Encoded[]; waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> } | null = null
  private closed = false
  private readonly clock: Clock

  constructor(readonly disk: MemoryDisk = new MemoryDisk(), private readonly options: MemoryKvOptions = {}) {
    this.clock = options.clock ?? systemClock
  }

  async get<T>(key: string): Promise<T | undefined> {
    if (this.closed) return never()
    return decode<T>(this.disk.read(key))
  }

  async getMany<T>(keys: string[]): Promise<Array<T | undefined>> {
    if (this.closed) return never()
    return keys.map((k) => decode<T>(this.disk.read(k)))
  }

  batch(ops: KvOp[], prefix = ''): Promise<void> {
    if (this.closed) return never()
    if (ops.length === 0) return Promise.resolve()
    let encoded: Encoded[]
    try {
      encoded = ops.map((op) => (op.type === 'put' ? { type: 'put', key: prefix + op.key, value: encode(op.value) } : { type: 'del', key: prefix + op.key }))
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise((resolve, reject) => {
      if (!this.group) {
        this.group = { ops: [], waiters: [] }
        this.clock.setImmediate(() => this.flush())
      }
      for (const op of encoded) this.group.ops.push(op)
      this.group.waiters.push({ resolve, reject })
    })
  }

  async range<T>(options: RangeOptions): Promise<Array<[string, T]>> {
    if (this.closed) return never()
    return this.disk.range(options).map(([k, v]) => [k, decode<T>(v) as T])
  }

  /** A copy of the data as written so far (batches still waiting for their turn are not in it). */
  snapshot(): KvSnapshot {
    const view = this.disk.copy()
    const rawRange = async (options: RangeOptions): Promise<Array<[string, string]>> => (this.closed ? never() : view.range(options))
    return {
      rawRange,
      range: async <T>(options: RangeOptions) => (await rawRange(options)).map(([k, v]): [string, T] => [k, decode<T>(v) as T]),
      close: async () => undefined,
    }
  }

  /** Writes what is pending, then stops answering. */
  async close(): Promise<void> {
    this.flush()
    this.closed = true
  }

  /** Stops answering at once; batches not written yet are lost (a killed process). */
  kill(): void {
    this.closed = true
    this.group = null
  }

  private flush(): void {
    const group = this.group
    this.group = null
    if (!group || this.closed) return
    if (this.options.failWrites?.()) {
      const err = Object.assign(new Error('write failed (injected)'), { code: 'LEVEL_IO_ERROR' })
      for (const w of group.waiters) w.reject(err)
      return
    }
    this.disk.write(group.ops)
    for (const w of group.waiters) w.resolve()
  }
}

function never<T>(): Promise<T> {
  return new Promise<T>(() => {})
}

function encode(value: unknown): string {
  const text = JSON.stringify(value)
  if (text === undefined) throw new TypeError('value cannot be stored as JSON')
  return text
}

function decode<T>(text: string | undefined): T | undefined {
  return text === undefined ? undefined : (JSON.parse(text) as T)
}
