/** One row of the sidebar: avatar, name, time of the last message, its preview, unread count. */
import { shortWhen } from '../lib/format'
import { peerOf, unreadOf, type Conversation } from '../store/state'
import { useActions, useAppState } from '../store/store'
import { Avatar } from './Avatar'

export function ConversationItem({ conversation: c }: { conversation: Conversation }) {
  const actions = useActions()
  const me = useAppState((s) => s.session!.username)
  const active = useAppState((s) => s.active === c.id)
  const peer = peerOf(c, me)
  const presence = useAppState((s) => (peer === null ? undefined : s.presence[peer]))
  const typing = useAppState((s) => Object.keys(s.typing[c.id] ?? {}).length > 0)
  const pending = useAppState((s) => s.outbox.find((m) => m.channel === c.id))
  const unread = unreadOf(c)
  const last = pending ?? c.last
  const who = last === null ? '' : last.from === me ? 'You: ' : c.kind === 'group' ? `${last.from}: ` : ''
  const preview = typing ? 'typing…' : last === null ? (c.kind === 'group' ? `${c.members.length} members` : 'Say hello') : who + last.text.slice(0, 120)

  return (
    <button
      type="button"
      class={`conversation${active ? ' conversation--active' : ''}${unread > 0 ? ' conversation--unread' : ''}`}
      data-testid="conversation"
      data-channel={c.id}
      data-unread={String(unread)}
      aria-current={active ? 'true' : undefined}
      onClick={() => actions.openConversation(c.id)}
    >
      <Avatar name={c.name} group={c.kind === 'group'} presence={presence} />
      <span class="conversation__body">
        <span class="conversation__top">
          <span class="conversation__name">{c.name}</span>
          {last !== null && <span class="conversation__time">{shortWhen(last.ts)}</span>}
        </span>
        <span class="conversation__bottom">
          <span class={`conversation__preview${typing ? ' conversation__preview--typing' : ''}`}>{preview}</span>
          {unread > 0 && <span class="badge" aria-label={`${unread} unread`}>{unread}</span>}
        </span>
      </span>
    </button>
  )
}
