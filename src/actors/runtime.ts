/**
 * Virtual actors (as in Orleans): an actor key is activated on its first message with its state
 * loaded from storage, handles one message at a time from its mailbox, and is passivated after
 * being idle. Messages an actor marks read-only skip the mailbox and run beside it; they may only
 * read committed state.
 *
 * Contract: for one key, non-read-only messages run in the order `call` was invoked, one at a
 * time; at most one activation of a key exists in this runtime at a time.
 */
import { type Clock, type TimerHandle, systemClock } from '../clock.js'
import { ChatError, asChatError, errors } from '../errors.js'

export interface ActorRequest { kind: string }

export interface Actor<Req extends ActorRequest = ActorRequest> {
  /** Loads state; runs once before the first message. */
  activate(): Promise<void>
  /** Handles one message; dispatches on `req.kind`. */
  receive(req: Req): Promise<unknown>
  /** Whether `req` only reads committed state and may run beside the mailbox. */
  isReadOnly(req: Req): boolean
  /** False while the actor must stay in memory (live devices, fan-out in progress). */
  canPassivate(): boolean
  /** Lets go of timers and background work; runs once, after the last message. */
  deactivate(): Promise<void>
  /**
   * Optional group commit: when several messages of a kind this answers true for wait in the
   * mailbox, the runtime hands them over together to `receiveMany`, which answers each in order,
   * as if they had been received one after the other, but may store them in one commit.
   */
  batchable?(req: Req): boolean
  receiveMany?(reqs: Req[]): Promise<Array<Settled<unknown>>>
  /**
   * Optional: true while the actor stands for nothing stored (a user or channel that does not
   * exist). Such an activation is let go as soon as it is idle, so that requests naming made-up
   * keys cannot fill memory with activations.
   */
  isEmpty?(): boolean
}

/** One answer of several: a value, or the contract's error. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: ChatError }

/** Messages handed to `receiveMany` at once, at most. */
const MAX_BATCH = 64

export type ActorFactory = (key: string) => Promise<Actor> | Actor

type ActivationState = 'activating' | 'valid' | 'deactivating' | 'invalid'

interface Envelope {
  req: ActorRequest
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

class Activation {
  state: ActivationState = 'activating'
  actor: Actor | null = null
  readonly mailbox: Envelope[] = []
  running = false
  inFlightReadOnly = 0
  lastUsed: number
  ready: Promise<void>
  /** Wakes a deactivation waiting for the mailbox to drain. */
  drained?: () => void
  /** Settles once this activation is deactivated and removed. */
  gone?: Promise<void>

  constructor(readonly key: string, now: number, start: () => Promise<Actor>) {
    this.lastUsed = now
    this.ready = start().then((actor) => {
      this.actor = actor
      this.state = 'valid'
    })
  }

  get idle(): boolean {
    return this.writesDrained && this.inFlightReadOnly === 0
  }

  /** Deactivation waits for writes only: reads in flight read committed state and may finish later. */
  get writesDrained(): boolean {
    return !this.running && this.mailbox.length === 0
  }
}

export interface RuntimeOptions {
  factory: ActorFactory
  passivateAfterMs: number
  /** Called with each error thrown by a handler that is not a ChatError (a bug), for the log. */
  onError?: (key: string, err: unknown) => void
  /** Called once an activation has ended (its storage may let go of the key). */
  onDeactivated?: (key: string) => void
  /** Passivation's time; the system clock by default. */
  clock?: Clock
}

export class ActorRuntime {
  private readonly activations = new Map<string, Activation>()
  private readonly sweeper: TimerHandle
  private readonly clock: Clock
  private stopping = false

  constructor(private readonly options: RuntimeOptions) {
    this.clock = options.clock ?? systemClock
    const every = Math.max(5, Math.floor(options.passivateAfterMs / 2))
    this.sweeper = this.clock.setInterval(() => void this.sweep(), every)
    this.sweeper.unref()
  }

  get size(): number {
    return this.activations.size
  }

  keys(): string[] {
    return [...this.activations.keys()]
  }

  isActive(key: string): boolean {
    return this.activations.get(key)?.state === 'valid'
  }

  /** Delivers `req` to the actor `key`, activating it if needed, and resolves with its reply. */
  async call(key: string, req: ActorRequest): Promise<unknown> {
    if (this.stopping) throw errors.unavailable('node is shutting down')
    let activation = this.activations.get(key)
    // A deactivating activation finishes its mailbox; new writes wait for it, then start afresh.
    // Reads are still served by it: an actor draining its mailbox may be waiting on a read of an
    // actor that is itself draining, and neither may wait for the other to be gone.
    if (activation?.state === 'deactivating' && activation.actor?.isReadOnly(req)) {
      return this.runReadOnly(activation, activation.actor, req)
    }
    while (activation && (activation.state === 'deactivating' || activation.state === 'invalid')) {
      await activation.ready.catch(() => {})
      await this.whenGone(activation)
      activation = this.activations.get(key)
    }
    if (!activation) activation = this.activate(key)
    activation.lastUsed = this.clock.now()
    if (activation.state === 'activating') {
      try {
        await activation.ready
      } catch (err) {
        if (this.activations.get(key) === activation) this.activations.delete(key)
        // An activation that failed for a reason outside the contract (storage, network) is
        // retryable for the caller; the cause goes to the log.
        if (err instanceof ChatError) throw err
        this.options.onError?.(key, err)
        throw errors.unavailable(`actor ${key} could not be activated; retry later`, err)
      }
    }
    const actor = activation.actor!
    if (actor.isReadOnly(req)) return this.runReadOnly(activation, actor, req)
    return new Promise((resolve, reject) => {
      activation!.mailbox.push({ req, resolve, reject })
      this.pump(activation!)
    })
  }

  /** Deactivates one key after its mailbox drains (handoff when the ring moves). */
  async deactivate(key: string): Promise<void> {
    const activation = this.activations.get(key)
    if (activation) await this.deactivateActivation(activation)
  }

  /** Drains every mailbox, deactivates every actor, and refuses new calls. */
  async stop(): Promise<void> {
    this.stopping = true
    this.clock.clearInterval(this.sweeper)
    await Promise.all([...this.activations.values()].map((a) => this.deactivateActivation(a)))
  }

  private activate(key: string): Activation {
    const activation = new Activation(key, this.clock.now(), async () => {
      const actor = await this.options.factory(key)
      await actor.activate()
      return actor
    })
    this.activations.set(key, activation)
    return activation
  }

  private async runReadOnly(activation: Activation, actor: Actor, req: ActorRequest): Promise<unknown> {
    activation.inFlightReadOnly++
    try {
      return await actor.receive(req)
    } catch (err) {
      this.report(activation.key, err)
      throw err
    } finally {
      activation.inFlightReadOnly--
      activation.lastUsed = this.clock.now()
      activation.drained?.()
      this.dropIfEmpty(activation)
    }
  }

  /** Lets go of an idle activation of a key that holds nothing (see Actor.isEmpty). */
  private dropIfEmpty(activation: Activation): void {
    if (activation.state !== 'valid' || !activation.idle || this.stopping) return
    if (activation.actor?.isEmpty?.()) void this.deactivateActivation(activation)
  }

  private pump(activation: Activation): void {
    if (activation.running) return
    activation.running = true
    void (async () => {
      try {
        for (let env = activation.mailbox.shift(); env; env = activation.mailbox.shift()) {
          const actor = activation.actor!
          const batch = [env]
          if (actor.receiveMany && actor.batchable?.(env.req)) {
            while (batch.length < MAX_BATCH && activation.mailbox[0]?.req.kind === env.req.kind) batch.push(activation.mailbox.shift()!)
          }
          if (batch.length > 1) {
            await this.runBatch(activation.key, actor, batch)
            continue
          }
          try {
            env.resolve(await actor.receive(env.req))
          } catch (err) {
            this.report(activation.key, err)
            env.reject(err)
          }
        }
      } finally {
        activation.running = false
        activation.lastUsed = this.clock.now()
        activation.drained?.()
        this.dropIfEmpty(activation)
      }
    })()
  }

  private async runBatch(key: string, actor: Actor, batch: Envelope[]): Promise<void> {
    let results: Array<Settled<unknown>>
    try {
      results = await actor.receiveMany!(batch.map((e) => e.req))
    } catch (err) {
      const error = asChatError(err)
      results = batch.map(() => ({ ok: false, error }))
    }
    batch.forEach((env, i) => {
      const r = results[i] ?? { ok: false, error: errors.internal('no reply for a batched message') }
      if (r.ok) env.resolve(r.value)
      else {
        this.report(key, r.error)
        env.reject(r.error)
      }
    })
  }

  private report(key: string, err: unknown): void {
    if (!(err instanceof ChatError)) this.options.onError?.(key, err)
  }

  private async sweep(): Promise<void> {
    const cutoff = this.clock.now() - this.options.passivateAfterMs
    for (const activation of this.activations.values()) {
      if (activation.state !== 'valid' || !activation.idle || activation.lastUsed > cutoff) continue
      if (!activation.actor!.canPassivate()) continue
      await this.deactivateActivation(activation)
    }
  }

  private async deactivateActivation(activation: Activation): Promise<void> {
    if (activation.state === 'deactivating' || activation.state === 'invalid') return this.whenGone(activation)
    await activation.ready.catch(() => {})
    if (activation.state !== 'valid') return
    activation.state = 'deactivating'
    activation.gone = (async () => {
      while (!activation.writesDrained) await new Promise<void>((r) => (activation.drained = r))
      try {
        await activation.actor!.deactivate()
      } catch (err) {
        this.options.onError?.(activation.key, err)
      }
      activation.state = 'invalid'
      if (this.activations.get(activation.key) === activation) this.activations.delete(activation.key)
      this.options.onDeactivated?.(activation.key)
    })()
    return activation.gone
  }

  private whenGone(activation: Activation): Promise<void> {
    return activation.gone ?? Promise.resolve()
  }
}
