/** A group's members: add someone, remove someone (the creator may), or leave. */
import { useState } from 'preact/hooks'
import { useActions, useAppState } from '../store/store'
import { Avatar } from './Avatar'
import { Modal } from './Modal'

export function GroupInfoDialog({ channel }: { channel: string }) {
  const actions = useActions()
  const me = useAppState((s) => s.session!.username)
  const group = useAppState((s) => s.conversations[channel])
  const notice = useAppState((s) => s.notice)
  const [name, setName] = useState('')
  if (group === undefined) return null
  const members = [...group.members].sort((a, b) => Number(b === me) - Number(a === me) || a.localeCompare(b))

  const add = async (e: Event) => {
    e.preventDefault()
    if (name.trim() !== '' && (await actions.social.addMember(channel, name))) setName('')
  }

  return (
    <Modal title={group.name} onClose={() => actions.openDialog(null)}>
      <div class="modal__body">
        <h3 class="section-title">{members.length} members</h3>
        <ul class="members" aria-label="Members">
          {members.map((m) => (
            <li key={m} class="member" data-testid="member" data-username={m}>
              <Avatar name={m} size="small" />
              <span class="member__name">{m === me ? 'You' : m}</span>
              {m !== me && (
                <button type="button" class="button button--small button--secondary" aria-label={`Remove ${m} from the group`}
                  onClick={() => void actions.social.removeMember(channel, m)}>
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
        <form class="add-member" onSubmit={add}>
          <label for="add-member-input" class="field__label">Add a member</label>
          <div class="add-friend__row">
            <input id="add-member-input" data-testid="add-member-input" value={name} placeholder="username" autocapitalize="none" spellcheck={false}
              onInput={(e) => setName(e.currentTarget.value)} />
            <button data-testid="add-member" type="submit" class="button button--primary">Add</button>
          </div>
        </form>
        {notice !== null && <p class="form-error" role="alert">{notice}</p>}
        <div class="modal__actions">
          <button data-testid="leave-group" type="button" class="button button--danger" onClick={() => void actions.social.leaveGroup(channel)}>Leave group</button>
        </div>
      </div>
    </Modal>
  )
}
