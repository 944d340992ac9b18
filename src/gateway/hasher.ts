/**
 * Password hashing off the paths chat needs. scrypt is CPU- and memory-heavy (tens of ms and
 * 16 MiB per hash); run on libuv's thread pool it queues in front of LevelDB's reads and writes,
 * so a burst of logins (or of password guesses) used to delay every user's messages. Here it runs
 * on `concurrency` threads of its own, and at most `queue` more wait: beyond that a login or
 * sign-up is refused at once with 503 and `Retry-After`, instead of queueing without bound.
 */
import { Worker } from 'node:worker_threads'
import { errors } from '../errors.js'
import { type Derive, type ScryptJob, maxmemFor } from './passwords.js'

/**
 * The hasher thread: one scrypt at a time, synchronously (it has nothing else to do). On Linux it
 * lowers its own scheduling priority (nice 19; a thread is a task with its own id there), so that
 * when CPU is short the event loop serving chat runs first and logins wait instead.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { scryptSync } = require('node:crypto')
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop())
  if (tid > 0) require('node:os').setPriority(tid, 19)
} catch {}
parentPort.on('message', ({ id, job, maxmem }) => {
  try {
    const key = scryptSync(job.password, Buffer.from(job.salt), job.keylen, { N: job.N, r: job.r, p: job.p, maxmem })
    parentPort.postMessage({ id, key })
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message || err) })
  }
})
`

interface Pending { id: number; job: ScryptJob; resolve: (key: Buffer) => void; reject: (err: unknown) => void }

export interface HasherStats { running: number; waiting: number }

export class PasswordHasher {
  private readonly idle: Worker[] = []
  private readonly busy = new Map<Worker, Pending>()
  private readonly waiting: Pending[] = []
  private workers = 0
  private nextId = 0
  private closed = false

  constructor(
    private readonly concurrency: number,
    private readonly queue: number,
    /** Called once per refusal (for the metric). */
    private readonly onRefused: () => void = () => {},
  ) {}

  get stats(): HasherStats {
    return { running: this.busy.size, waiting: this.waiting.length }
  }

  /**
   * Throws the refusal (UNAVAILABLE, retry after 1 s) when a hash could not start or wait now:
   * a login checks this first, so that a flood is refused before it costs anything else.
   */
  readonly admit = (): void => {
    if (this.closed) throw errors.unavailable('node is shutting down')
    if (this.busy.size >= this.concurrency && this.waiting.length >= this.queue) {
      this.onRefused()
      throw errors.unavailable('too many logins at once; retry in a moment', undefined, 1)
    }
  }

  /** The Derive of passwords.ts, bounded as described above. */
  readonly derive: Derive = (job) => {
    try {
      this.admit()
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise<Buffer>((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, job, resolve, reject })
      this.dispatch()
    })
  }

  async close(): Promise<void> {
    this.closed = true
    for (const p of this.waiting.splice(0)) p.reject(errors.unavailable('node is shutting down'))
    const all = [...this.idle, ...this.busy.keys()]
    this.idle.length = 0
    await Promise.all(all.map((w) => w.terminate()))
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      const worker = this.idle.pop() ?? (this.workers < this.concurrency ? this.spawn() : undefined)
      if (!worker) return
      const job = this.waiting.shift()!
      this.busy.set(worker, job)
      worker.postMessage({ id: job.id, job: job.job, maxmem: maxmemFor(job.job) })
    }
  }

  private spawn(): Worker {
    this.workers++
    const worker = new Worker(WORKER_SOURCE, { eval: true })
    // Hasher threads never keep a stopping process alive.
    worker.unref()
    worker.on('message', (m: { id: number; key?: Uint8Array; error?: string }) => {
      const job = this.busy.get(worker)
      this.busy.delete(worker)
      if (!this.closed) this.idle.push(worker)
      if (job) {
        if (m.key) job.resolve(Buffer.from(m.key))
        else job.reject(new Error(m.error ?? 'scrypt failed'))
      }
      this.dispatch()
    })
    worker.on('error', (err) => this.lose(worker, err))
    worker.on('exit', () => this.lose(worker, new Error('hasher thread exited')))
    return worker
  }

  /** A thread that died takes its job down with it; the next job starts a new thread. */
  private lose(worker: Worker, err: unknown): void {
    const job = this.busy.get(worker)
    if (!this.busy.delete(worker) && !this.idle.includes(worker)) return
    const at = this.idle.indexOf(worker)
    if (at >= 0) this.idle.splice(at, 1)
    this.workers--
    job?.reject(err)
    if (!this.closed) this.dispatch()
  }
}
