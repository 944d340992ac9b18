/**
 * Searching messages: in every conversation (the box above the lists) or in one (its header's
 * search button). The box's query is searched a moment after typing stops, or at once on Enter;
 * results come newest first, a page at a time ("More results"); a result's click opens its
 * conversation on that message, in context. Through the SDK's `search`: the server matches whole
 * words regardless of case and accents and never finds a deleted message. Edits and deletes that
 * arrive while results are shown change them (changes.ts).
 */
import { ChatError, LIMITS, type ChatClient } from '@sdk'
import { queryWords } from '../lib/highlight'
import { describe } from './errors'
import type { HistoryActions } from './history'
import type { AppState, SearchState } from './state'
import type { Store } from './store'

/** Results per page. */
export const SEARCH_PAGE = 20
/** Quiet time after the last keystroke before searching. */
const DEBOUNCE_MS = 300

const EMPTY: SearchState = {
  query: '', channel: null, searched: '', searchedIn: null, results: [], more: false, next: null, loading: false, error: null, focus: 0,
}

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

  /**
   * Shows the search with the focus in its box: in `channel` only, or everywhere (null). A query
   * already typed is searched again in the new place.
   */
  start(channel: string | null): void {
    const search = this.state.search ?? EMPTY
    this.store.update(() => ({ search: { ...search, channel, focus: search.focus + 1 } }))
    if (search.query.trim() !== '') void this.run()
  }

  /** The box changed: show it, and search once typing pauses. An empty box closes a search of everything. */
  setQuery(query: string): void {
    clearTimeout(this.timer)
    const search = this.state.search
    if (query.trim() === '' && (search?.channel ?? null) === null) return this.clear()
    this.store.update((s) => ({ search: { ...(s.search ?? EMPTY), query } }))
    if (query.trim() === '') {
      this.generation++
      return this.set({ searched: '', results: [], more: false, next: null, loading: false, error: null })
    }
    this.timer = setTimeout(() => void this.run(), DEBOUNCE_MS)
  }

  /** Searches everywhere instead of in one conversation (the scope's remove button). */
  everywhere(): void {
    this.start(null)
  }

  /** Searches the box's query now (Enter), unless its results are already shown. */
  async run(): Promise<void> {
    clearTimeout(this.timer)
    const search = this.state.search
    if (search === null) return
    const query = search.query.trim()
    if (query === '') return
    if (query === search.searched && search.channel === search.searchedIn && (search.loading || search.error === null)) return
    const problem = queryProblem(query)
    if (problem !== null) {
      this.generation++
      return this.set({ searched: query, searchedIn: search.channel, results: [], more: false, next: null, loading: false, error: problem })
    }
    await this.page(query, search.channel, null)
  }

  /** The next page of the shown results. */
  async more(): Promise<void> {
    const search = this.state.search
    if (search === null || !search.more || search.loading || search.next === null) return
    await this.page(search.searched, search.searchedIn, search.next)
  }

  /** Empties the box and hides the results. */
  clear(): void {
    clearTimeout(this.timer)
    this.generation++
    this.store.update(() => ({ search: null }))
  }

  /** A result's click: its conversation opens on that message, in context. */
  openResult(channel: string, seq: number): void {
    this.host.openConversation(channel, { load: false })
    void this.host.history.jumpTo(channel, seq)
  }

  private async page(query: string, channel: string | null, before: string | null): Promise<void> {
    const client = this.host.client()
    const generation = ++this.generation
    this.set({ searched: query, searchedIn: channel, loading: true, error: null, ...(before === null ? { results: [], more: false, next: null } : {}) })
    try {
      if (client === null) throw new ChatError('DISCONNECTED', 'not connected')
      const page = await client.search(query, { limit: SEARCH_PAGE, ...(channel === null ? {} : { channel }), ...(before === null ? {} : { before }) })
      if (generation !== this.generation) return
      this.store.update((s) => (s.search === null ? {} : {
        search: { ...s.search, results: [...s.search.results, ...page.messages.filter((m) => !m.deleted)], more: page.more, next: page.next, loading: false },
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
