/**
 * Search results, newest first, in place of the lists: where and when, who, and the text with
 * the words searched for marked. Marked words are `<mark>` elements around text nodes: the text
 * is never parsed as HTML. A click (or Enter) opens the conversation on that message; up and down
 * arrows move between results, Escape goes back to the box.
 */
import { useMemo, useState } from 'preact/hooks'
import { shortWhen } from '../lib/format'
import { highlight, queryWords } from '../lib/highlight'
import { arrowNavigation } from '../lib/keys'
import { useActions, useAppState } from '../store/store'

export function SearchResults() {
  const actions = useActions()
  const me = useAppState((s) => s.session!.username)
  const search = useAppState((s) => s.search)
  const conversations = useAppState((s) => s.conversations)
  const [opened, setOpened] = useState<string | null>(null)
  const wanted = useMemo(() => queryWords(search?.searched ?? ''), [search?.searched])
  if (search === null) return null

  const scope = search.channel === null ? null : conversations[search.channel]?.name ?? 'this conversation'
  const count = search.results.length
  const status = search.query.trim() === '' ? (scope === null ? '' : `Type a word to search for in ${scope}.`)
    : search.error !== null ? ''
    : search.loading && count === 0 ? 'Searching…'
    : search.searched === '' ? ''
    : count === 0 ? `No messages found for “${search.searched}”${search.searchedIn === null ? '' : ` in ${scope}`}.`
    : `${count}${search.more ? '+' : ''} message${count === 1 && !search.more ? '' : 's'} found`

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.preventDefault()
      document.getElementById('search')?.focus()
      return
    }
    arrowNavigation(e, '.result')
  }

  return (
    <section class="search-results" aria-label="Search results" data-testid="search-results">
      <p class="search-results__status" role="status" data-testid="search-status">{status}</p>
      {search.error !== null && <p class="form-error search-results__error" role="alert" data-testid="search-error">{search.error}</p>}
      {count > 0 && (
        <ul class="results" aria-label="Messages found" onKeyDown={onKeyDown}>
          {search.results.map((m) => {
            const key = `${m.channel}/${m.seq}`
            const c = conversations[m.channel]
            return (
              <li key={key}>
                <button
                  type="button"
                  class={`result${opened === key ? ' result--open' : ''}`}
                  data-testid="search-result"
                  data-channel={m.channel}
                  data-seq={String(m.seq)}
                  aria-current={opened === key ? 'true' : undefined}
                  onClick={() => {
                    setOpened(key)
                    actions.search.openResult(m.channel, m.seq)
                  }}
                >
                  <span class="result__top">
                    <span class="result__where">{c?.name ?? m.channel}</span>
                    <span class="result__time">{shortWhen(m.ts)}</span>
                  </span>
                  <span class="result__text">
                    <span class="result__from">{m.from === me ? 'You' : m.from}: </span>
                    {highlight(m.text, wanted).map((p, i) => (p.match ? <mark key={i}>{p.text}</mark> : p.text))}
                    {m.editedAt !== undefined && <span class="result__edited"> (edited)</span>}
                  </span>
                </button>
              </li>
            )
          })}
        </ul>
      )}
      {search.more && (
        <div class="search-results__more">
          <button type="button" class="button button--secondary button--small" data-testid="search-more" disabled={search.loading}
            onClick={() => void actions.search.more()}>
            {search.loading ? 'Loading…' : 'More results'}
          </button>
        </div>
      )}
    </section>
  )
}
