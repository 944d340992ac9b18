/**
 * The search box above the lists: searches every conversation, or one when its header's search
 * button set it ("in Team", removable). Typing searches after a pause, Enter at once, Escape
 * closes the search, Down moves to the results.
 */
import { useEffect, useRef } from 'preact/hooks'
import { useActions, useAppState } from '../store/store'
import { Icon } from './Icon'

export function SearchBox() {
  const actions = useActions()
  const query = useAppState((s) => s.search?.query ?? '')
  const open = useAppState((s) => s.search !== null)
  const focus = useAppState((s) => s.search?.focus ?? 0)
  const scope = useAppState((s) => (s.search?.channel == null ? null : s.conversations[s.search.channel]?.name ?? 'this conversation'))
  const box = useRef<HTMLInputElement>(null)

  useEffect(() => {
    if (focus > 0) box.current?.focus()
  }, [focus])

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Enter') {
      e.preventDefault()
      void actions.search.run()
    } else if (e.key === 'Escape' && open) {
      e.preventDefault()
      actions.search.clear()
    } else if (e.key === 'ArrowDown') {
      const first = document.querySelector<HTMLElement>('[data-testid="search-result"]')
      if (first !== null) {
        e.preventDefault()
        first.focus()
      }
    }
  }

  return (
    <div class="search" role="search">
      <label for="search" class="visually-hidden">{scope === null ? 'Search messages' : `Search messages in ${scope}`}</label>
      <div class={`search__field${open ? ' search__field--open' : ''}`}>
        <Icon name="search" size={18} />
        {scope !== null && (
          <span class="search__scope" data-testid="search-scope">
            <span class="search__scope-name">in {scope}</span>
            <button type="button" class="search__scope-remove" aria-label={`Search all conversations, not only ${scope}`}
              title="Search all conversations" onClick={() => actions.search.everywhere()}>
              <Icon name="close" size={14} />
            </button>
          </span>
        )}
        <input
          id="search"
          ref={box}
          type="search"
          data-testid="search-input"
          placeholder={scope === null ? 'Search messages' : 'Search here'}
          autocomplete="off"
          enterkeyhint="search"
          value={query}
          onInput={(e) => actions.search.setQuery(e.currentTarget.value)}
          onKeyDown={onKeyDown}
        />
        {open && (
          <button type="button" class="icon-button search__close" data-testid="search-close" aria-label="Close search" title="Close search"
            onClick={() => actions.search.clear()}>
            <Icon name="close" size={18} />
          </button>
        )}
      </div>
    </div>
  )
}
