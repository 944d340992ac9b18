/**
 * The app's one store: a state object replaced (never mutated) on every change, and listeners
 * told after each. Components read it through `useAppState` and never write it.
 */
import { createContext } from 'preact'
import { useContext, useEffect, useRef, useState } from 'preact/hooks'
import type { ChatActions } from './actions'
import type { AppState } from './state'

type Listener = () => void

export class Store {
  private listeners = new Set<Listener>()
  private pending = false

  constructor(private state: AppState) {}

  get(): AppState {
    return this.state
  }

  /** Applies a change; listeners run once per microtask however many changes came in it. */
  update(change: (s: AppState) => Partial<AppState>): void {
    this.state = { ...this.state, ...change(this.state) }
    if (this.pending) return
    this.pending = true
    queueMicrotask(() => {
      this.pending = false
      for (const l of this.listeners) l()
    })
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

export interface AppContextValue { store: Store; actions: ChatActions }

export const AppContext = createContext<AppContextValue | null>(null)

function useApp(): AppContextValue {
  const app = useContext(AppContext)
  if (app === null) throw new Error('AppContext missing')
  return app
}

export function useActions(): ChatActions {
  return useApp().actions
}

/** The part of the state `select` picks; the component re-renders only when that part changes. */
export function useAppState<T>(select: (s: AppState) => T): T {
  const { store } = useApp()
  const [value, setValue] = useState(() => select(store.get()))
  const selectRef = useRef(select)
  selectRef.current = select
  useEffect(() => {
    const check = () => {
      let next: T
      try {
        next = selectRef.current(store.get())
      } catch {
        // A selector that no longer applies (the session's name after logout): this component's
        // parent is about to unmount it. Leave it be; the listeners after it must still run.
        return
      }
      setValue(() => next)
    }
    check()
    return store.subscribe(check)
  }, [store])
  return value
}
