/** People who asked to be friends, each with an Accept button. */
import { useActions, useAppState } from '../store/store'
import { Avatar } from './Avatar'

export function FriendRequests() {
  const actions = useActions()
  const pending = useAppState((s) => s.friends.filter((f) => f.state === 'pending'))
  if (pending.length === 0) return null
  return (
    <section class="requests" aria-labelledby="requests-title">
      <h2 id="requests-title" class="section-title">Friend requests <span class="section-title__count">{pending.length}</span></h2>
      <ul>
        {pending.map((f) => (
          <li key={f.username} class="request" data-testid="friend-request" data-username={f.username}>
            <Avatar name={f.displayName || f.username} size="small" />
            <span class="request__name">{f.displayName || f.username} <span class="muted">@{f.username}</span></span>
            <button type="button" class="button button--primary button--small" aria-label={`Accept friend request from ${f.username}`}
              onClick={() => void actions.social.addFriend(f.username)}>
              Accept
            </button>
          </li>
        ))}
      </ul>
    </section>
  )
}
