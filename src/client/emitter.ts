/**
 * A tiny typed event emitter that runs in browsers and Node alike (no node:events).
 */

export type Listener<T> = (payload: T) => void

/**
 * Emits events named by the keys of `Events`, each with one payload of the mapped type.
 * A listener that throws does not stop the others; its error goes to `onListenerError`.
 */
export class TypedEmitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>()

  constructor(private readonly onListenerError: (err: unknown, event: keyof Events) => void = () => {}) {}

  /** Subscribes; returns a function that unsubscribes. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(event, set)
    }
    set.add(listener as Listener<never>)
    return() => this.off(event, listener)
  }

  /** Subscribes for the next event only. */
  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (payload) => {
      off()
      listener(payload)
    })
    return off
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>)
  }

  listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.size ?? 0
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event)
    if (set === undefined) return
    // Copy so a listener may unsubscribe itself (or others) while we iterate.
    for (const listener of [...set]) {
      try {
       (listener as Listener<Events[K]>)(payload)
      } catch (err) {
        this.onListenerError(err, event)
      }
    }
  }
}
