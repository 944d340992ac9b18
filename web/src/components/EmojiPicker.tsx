/**
 * The reaction picker: a small grid of common emoji. Arrow keys move through the grid, Enter or
 * a click picks (picking one already yours takes it off), Escape closes and gives focus back.
 */
import { useEffect, useRef } from 'preact/hooks'
import { PICKER_COLUMNS, REACTION_EMOJI } from '../lib/emoji'
import { moveFocus } from '../lib/keys'
import { useDismiss } from '../lib/use-dismiss'

interface Props {
  opener: HTMLElement | null
  /** Emoji already mine on this message (shown pressed). */
  mine: string[]
  onPick(emoji: string): void
  onClose(refocus: boolean): void
}

export function EmojiPicker({ opener, mine, onPick, onClose }: Props) {
  const ref = useRef<HTMLDivElement>(null)
  useDismiss(ref, opener, () => onClose(false), () => onClose(true))
  useEffect(() => {
    ref.current?.querySelector<HTMLElement>('button')?.focus()
  }, [])

  const onKeyDown = (e: KeyboardEvent) => {
    if (moveFocus(e, [...ref.current!.querySelectorAll<HTMLElement>('button')], PICKER_COLUMNS)) return
    if (e.key === 'Escape') {
      e.preventDefault()
      e.stopPropagation()
      onClose(true)
    } else if (e.key === 'Tab') {
      onClose(false)
    }
  }

  return (
    <div ref={ref} class="popup picker" role="dialog" aria-label="Choose a reaction" data-testid="emoji-picker" onKeyDown={onKeyDown}>
      <div class="picker__grid">
        {REACTION_EMOJI.map(({ emoji, name }, i) => (
          <button
            key={emoji}
            type="button"
            class={`picker__emoji${mine.includes(emoji) ? ' picker__emoji--mine' : ''}`}
            data-testid="emoji"
            data-emoji={emoji}
            aria-label={mine.includes(emoji) ? `${name} (yours: take it off)` : name}
            aria-pressed={mine.includes(emoji)}
            title={name}
            tabIndex={i === 0 ? 0 : -1}
            onClick={() => onPick(emoji)}
          >
            {emoji}
          </button>
        ))}
      </div>
    </div>
  )
}
