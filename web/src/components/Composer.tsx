/**
 * Writes a message: Enter sends, Shift+Enter starts a new line. Near the 100,000-character limit
 * it shows the count, and past it explains why Send is off. Each keystroke tells the others
 * "typing" (the SDK sends at most one notice every 2 s).
 */
import { LIMITS } from '@sdk'
import { useEffect, useRef, useState } from 'preact/hooks'
import { codePoints } from '../lib/format'
import { useActions } from '../store/store'
import { Icon } from './Icon'

const LIMIT = LIMITS.textMaxCodePoints
/** The count shows from here on. */
const WARN_AT = LIMIT * 0.9
/** Rows the box grows to before it scrolls. */
const MAX_HEIGHT_PX = 160

export function Composer({ channel }: { channel: string }) {
  const actions = useActions()
  const [text, setText] = useState('')
  const box = useRef<HTMLTextAreaElement>(null)
  // Code points never exceed UTF-16 units: short texts need no counting.
  const count = text.length < WARN_AT ? text.length : codePoints(text)
  const over = count > LIMIT
  const empty = text.trim() === ''

  useEffect(() => {
    const el = box.current
    if (el === null) return
    el.style.height = 'auto'
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT_PX)}px`
  }, [text])

  useEffect(() => {
    // Phones would pop the keyboard up over the messages; wide screens want to type at once.
    if (window.matchMedia('(min-width: 768px)').matches) box.current?.focus()
  }, [channel])

  const send = () => {
    if (empty || over) return
    actions.send(channel, text)
    setText('')
    box.current?.focus()
  }

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault()
      send()
    }
  }

  return (
    <form class="composer" onSubmit={(e) => { e.preventDefault(); send() }}>
      <div class="composer__field">
        <label for="composer" class="visually-hidden">Message</label>
        <textarea
          id="composer"
          ref={box}
          data-testid="composer"
          rows={1}
          placeholder="Type a message"
          value={text}
          aria-describedby={count >= WARN_AT ? 'composer-count' : undefined}
          aria-invalid={over ? 'true' : undefined}
          onInput={(e) => {
            setText(e.currentTarget.value)
            if (e.currentTarget.value !== '') actions.typing(channel)
          }}
          onKeyDown={onKeyDown}
        />
        {count >= WARN_AT && (
          <p id="composer-count" class={`composer__count${over ? ' composer__count--over' : ''}`} aria-live="polite">
            {count.toLocaleString('en-US')} / {LIMIT.toLocaleString('en-US')}
            {over && ` · ${(count - LIMIT).toLocaleString('en-US')} characters too many`}
          </p>
        )}
      </div>
      <button data-testid="send" type="submit" class="composer__send" aria-label="Send" disabled={empty || over}>
        <Icon name="send" />
      </button>
    </form>
  )
}
