/** The conversation's title bar: back (phones), who it is with, their presence or the members. */
import { lastSeen } from '../lib/format'
import { useNow } from '../lib/use-now'
import { peerOf } from '../store/state'
import { useActions, useAppState } from '../store/store'
import { Avatar } from './Avatar'
import { Icon } from './Icon'

export function ChatHeader({ channel }: { channel: string }) {
  const actions = useActions()
  const me = useAppState((s) => s.session!.username)
  const c = useAppState((s) => s.conversations[channel])
  const peer = c === undefined ? null : peerOf(c, me)
  const connected = useAppState((s) => s.connection === 'connected')
  // Presence is only known while connected: a stale "online" would mislead.
  const presence = useAppState((s) => (peer === null || s.connection !== 'connected' ? undefined : s.presence[peer]))
  const now = useNow()
  if (c === undefined) return null
  const subtitle = c.kind === 'group'
    ? c.members.map((m) => (m === me ? 'you' : m)).sort((a, b) => Number(a === 'you') - Number(b === 'you') || a.localeCompare(b)).join(', ')
    : !connected ? 'waiting for the connection…' : presence === undefined ? '' : lastSeen(presence.status, presence.lastActiveAt, now)
  return (
    <header class="chat__header">
      <button type="button" class="icon-button chat__back" aria-label="Back to conversations" onClick={() => actions.closeConversation()}>
        <Icon name="back" />
      </button>
      <Avatar name={c.name} group={c.kind === 'group'} presence={presence} size="small" />
      <div class="chat__title">
        <h1 class="chat__name">{c.name}</h1>
        {subtitle !== '' && <p class={`chat__subtitle${presence?.status === 'online' ? ' chat__subtitle--online' : ''}`}>{subtitle}</p>}
      </div>
      {c.kind === 'group' && (
        <button type="button" class="icon-button" aria-label="Group info and members" title="Group info" onClick={() => actions.openDialog('group-info')}>
          <Icon name="info" />
        </button>
      )}
    </header>
  )
}
