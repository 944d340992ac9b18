/**
 * The reactions under a message: one chip per emoji with its count, highlighted when one is
 * mine; a click puts mine on or takes it off. The tooltip and the label say who reacted.
 */
import type { Reactions } from '@sdk'
import { Icon } from './Icon'

interface Props {
  reactions: Reactions
  me: string
  onToggle(emoji: string): void
  onAdd(e: Event): void
}

/** "alice, bob and you". */
function who(users: string[], me: string): string {
  const names = [...users.filter((u) => u !== me), ...(users.includes(me) ? ['you'] : [])]
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`
}

export function ReactionBar({ reactions, me, onToggle, onAdd }: Props) {
  return (
    <div class="reactions" role="group" aria-label="Reactions">
      {Object.entries(reactions).map(([emoji, users]) => {
        const mine = users.includes(me)
        const people = who(users, me)
        return (
          <button
            key={emoji}
            type="button"
            class={`reaction${mine ? ' reaction--mine' : ''}`}
            data-testid="reaction"
            data-emoji={emoji}
            data-count={String(users.length)}
            data-mine={String(mine)}
            aria-pressed={mine}
            aria-label={`${emoji} ${users.length}: ${people}. ${mine ? 'Take your reaction off' : `React with ${emoji} too`}`}
            title={`${people === 'you' ? 'You' : people} reacted with ${emoji}`}
            onClick={() => onToggle(emoji)}
          >
            <span class="reaction__emoji" aria-hidden="true">{emoji}</span>
            <span class="reaction__count" aria-hidden="true">{users.length}</span>
          </button>
        )
      })}
      <button type="button" class="reaction reaction--add" data-testid="reaction-add" aria-label="Add a reaction" title="Add a reaction"
        aria-haspopup="dialog" onClick={onAdd}>
        <Icon name="smile" size={16} />
        <Icon name="add" size={12} />
      </button>
    </div>
  )
}
