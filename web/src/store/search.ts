/**
 * Searching messages: the box's query (searched a moment after typing stops, or at once on
 * Enter), pages of results newest first ("More results"), and opening a result in its
 * conversation. Through the SDK's `search`; the server matches whole words regardless of case and
 * accents and never finds a deleted message.
 */
import { LIMITS, type ChatClient } from '@sdk'
import { queryWords } from '../lib/highlight'
import { describe } from './errors'
import type { HistoryActions } from './history'
import type { AppState, SearchState } from './state'
import type { Store } from './store'

/** Results per page. */
export const SEARCH_PAGE = 20
/** Quiet time after the last keystroke before searching. */
const DEBOUNCE_MS = 300

const EMPTY: SearchState = { query: '', searched: '', results: [], more: false, next: null, loading: false, error: null }

export interface SearchHost {
  client(): ChatClient | null
  history: HistoryActions
  openConversation(id: string, options?: { load: boolean }): void
}

export class SearchActions {
  private timer: ReturnType<typeof setTimeout> | undefined
  /** Bumped by every new search: answers to older ones are dropped. */
  private generation = 0

  constructor(private readonly store: Store, private readonly host: SearchHost) {}

  private get state(): AppState {
    return this.store.get()
  }

  /** The box changed: show it, and search once typing pauses. */
  setQuery(query: string): void {
    clearTimeout(this.timer)
    if (query.trim() === '') return this.clear()
    this.store.update((s) => ({ search: { ...(s.search ?? EMPTY), query } }))
    this.timer = setTimeout(() => void this.run(), DEBOUNCE_MS)
  }

  /** Searches the box's query now (Enter), unless its results are already shown. */
  async run(): Promise<void> {
    clearTimeout(this.timer)
    const search = this.state.search
    if (search === null) return
    const query = search.query.trim()
    if (query === search.searched && (search.loading || search.error === null)) return
    const problem = queryProblem(query)
    if (problem !== null) return this.set({ searched: query, results: [], more: false, next: null, loading: false, error: problem })
    await this.page(query, null)
  }

  /** The next page of the shown results. */
  async more(): Promise<void> {
    const search = this.state.search
    if (search === null || !search.more || search.loading || search.next === null) return
    await this.page(search.searched, search.next)
  }

  /** Empties the box and hides the results. */
  clear(): void {
    clearTimeout(this.timer)
    this.generation++
    this.store.update(() => ({ search: null }))
  }

  /** A result's click: its conversation opens on that message, in context. */
  open(channel: string, seq: number): void {
    this.host.openConversation(channel, { load: false })
    void this.host.history.jumpTo(channel, seq)
  }

  private async page(query: string, before: string | null): Promise<void> {
    const client = this.host.client()
    const generation = ++this.generation
    this.set({ searched: query, loading: true, error: null, ...(before === null ? { results: [], more: false, next: null } : {}) })
    try {
      if (client === null) throw new Error('not connected')
      const page = await client.search(query, { limit: SEARCH_PAGE, ...(before === null ? {} : { before }) })
      if (generation !== this.generation) return
      this.store.update((s) => (s.search === null ? {} : {
        search: { ...s.search, results: [...s.search.results, ...page.messages], more: page.more, next: page.next, loading: false },
      }))
    } catch (err) {
      if (generation === this.generation) this.set({ loading: false, error: describe(err) })
    }
  }

  private set(change: Partial<SearchState>): void {
    this.store.update((s) => (s.search === null ? {} : { search: { ...s.search, ...change } }))
  }
}

/** What the server would refuse, said before asking it. */
function queryProblem(query: string): string | null {
  if ([...query].length > LIMITS.searchMaxQueryCodePoints) return `Searches can be at most ${LIMITS.searchMaxQueryCodePoints} characters.`
  const words = queryWords(query)
  if (words.length === 0) return 'Type a word to search for (letters or numbers).'
  if (words.length > LIMITS.searchMaxWords) return `Search for at most ${LIMITS.searchMaxWords} words at a time.`
  return null
}
