/** Friends: add one by username, accept requests, see who is online, open a 1:1 with a click. */
import { arrowNavigation } from '../lib/keys'
import { useAppState } from '../store/store'
import { AddFriendForm } from './AddFriendForm'
import { FriendItem } from './FriendItem'
import { FriendRequests } from './FriendRequests'

export function FriendsPanel() {
  const friends = useAppState((s) => s.friends)
  const presence = useAppState((s) => s.presence)
  const mine = friends.filter((f) => f.state === 'friends').sort((a, b) => {
    const online = Number(presence[b.username]?.status === 'online') - Number(presence[a.username]?.status === 'online')
    return online || a.username.localeCompare(b.username)
  })
  const sent = friends.filter((f) => f.state === 'requested')
  return (
    <div class="friends">
      <AddFriendForm />
      <FriendRequests />
      <h2 class="section-title">Friends {mine.length > 0 && <span class="section-title__count">{mine.length}</span>}</h2>
      {mine.length === 0
        ? <p class="list-empty">No friends yet. Add someone by their username above.</p>
        : (
          <ul class="friend-list" aria-label="Friends" onKeyDown={(e) => arrowNavigation(e, '.friend')}>
            {mine.map((f) => <li key={f.username}><FriendItem friend={f} /></li>)}
          </ul>
        )}
      {sent.length > 0 && (
        <>
          <h2 class="section-title">Waiting for an answer</h2>
          <ul class="sent-list">
            {sent.map((f) => <li key={f.username} class="sent">{f.displayName || f.username} <span class="muted">@{f.username}</span></li>)}
          </ul>
        </>
      )}
    </div>
  )
}
