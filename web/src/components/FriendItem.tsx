/** A friend with their presence; a click opens the 1:1 with them. */
import type { FriendView } from '@sdk'
import { lastSeen } from '../lib/format'
import { useNow } from '../lib/use-now'
import { useActions, useAppState } from '../store/store'
import { Avatar } from './Avatar'

export function FriendItem({ friend }: { friend: FriendView }) {
  const actions = useActions()
  const presence = useAppState((s) => s.presence[friend.username])
  const now = useNow()
  const status = presence?.status ?? 'offline'
  const seen = lastSeen(presence?.status, presence?.lastActiveAt, now)
  const name = friend.displayName || friend.username
  return (
    <button type="button" class="friend" data-testid="friend" data-username={friend.username} data-status={status}
      title={`Chat with ${name}`} onClick={() => actions.social.startDirect(friend.username)}>
      <Avatar name={name} presence={{ status, lastActiveAt: presence?.lastActiveAt ?? null }} />
      <span class="friend__body">
        <span class="friend__name">{name}</span>
        <span class={`friend__seen${status === 'online' ? ' friend__seen--online' : ''}`}>{seen}</span>
      </span>
    </button>
  )
}
