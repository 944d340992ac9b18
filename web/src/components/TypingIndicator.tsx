/** "alice is typing…" while another member types in this conversation. */
import { useAppState } from '../store/store'

export function TypingIndicator({ channel }: { channel: string }) {
  const me = useAppState((s) => s.session!.username)
  const typers = useAppState((s) => Object.keys(s.typing[channel] ?? {}).filter((u) => u !== me).sort().join(','))
  const names = typers === '' ? [] : typers.split(',')
  const text = names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…`
    : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…'
  return (
    <div class="typing" aria-live="polite">
      {text !== '' && <span data-testid="typing" class="typing__text"><span class="typing__dots" aria-hidden="true"><i /><i /><i /></span>{text}</span>}
    </div>
  )
}
