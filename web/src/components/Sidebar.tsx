/** The left pane: who I am, the notifications offer, the tabs (chats, friends), and the list of the chosen tab. */
import { useActions, useAppState } from '../store/store'
import { Avatar } from './Avatar'
import { ConversationList } from './ConversationList'
import { FriendsPanel } from './FriendsPanel'
import { Icon } from './Icon'
import { NotifyButton } from './NotifyButton'
import { NotifyPrompt } from './NotifyPrompt'

export function Sidebar() {
  const actions = useActions()
  const me = useAppState((s) => s.session!)
  const tab = useAppState((s) => s.tab)
  const requests = useAppState((s) => s.friends.filter((f) => f.state === 'pending').length)

  return (
    <aside class="sidebar" aria-label="Chats and friends">
      <header class="sidebar__header">
        <Avatar name={me.displayName || me.username} size="small" />
        <div class="sidebar__me">
          <span class="sidebar__name">{me.displayName || me.username}</span>
          <span class="sidebar__username">@{me.username}</span>
        </div>
        <NotifyButton />
        <button data-testid="new-group" type="button" class="icon-button" aria-label="New group" title="New group" onClick={() => actions.openDialog('new-group')}>
          <Icon name="group" />
        </button>
        <button type="button" class="icon-button" aria-label="Log out" title="Log out" onClick={() => actions.logout()}>
          <Icon name="logout" />
        </button>
      </header>
      <NotifyPrompt />
      <div class="tabs" role="tablist" aria-label="Lists">
        <button type="button" role="tab" id="tab-chats" aria-controls="panel-chats" aria-selected={tab === 'chats'} class="tab" onClick={() => actions.setTab('chats')}>
          Chats
        </button>
        <button type="button" role="tab" id="tab-friends" aria-controls="panel-friends" aria-selected={tab === 'friends'} class="tab" onClick={() => actions.setTab('friends')}>
          Friends{requests > 0 && <span class="badge badge--inline" aria-label={`${requests} friend request${requests === 1 ? '' : 's'}`}>{requests}</span>}
        </button>
      </div>
      <div class="sidebar__body" role="tabpanel" id="panel-chats" aria-labelledby="tab-chats" hidden={tab !== 'chats'}>
        {tab === 'chats' && <ConversationList />}
      </div>
      <div class="sidebar__body" role="tabpanel" id="panel-friends" aria-labelledby="tab-friends" hidden={tab !== 'friends'}>
        {tab === 'friends' && <FriendsPanel />}
      </div>
    </aside>
  )
}
