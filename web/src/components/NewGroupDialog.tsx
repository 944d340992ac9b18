/** Creates a group: a name and the usernames of its first members. */
import { useState } from 'preact/hooks'
import { useActions, useAppState } from '../store/store'
import { Modal } from './Modal'

export function NewGroupDialog() {
  const actions = useActions()
  const notice = useAppState((s) => s.notice)
  const friends = useAppState((s) => s.friends.filter((f) => f.state === 'friends').map((f) => f.username))
  const [name, setName] = useState('')
  const [members, setMembers] = useState('')
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event) => {
    e.preventDefault()
    if (busy) return
    setBusy(true)
    await actions.social.createGroup(name, members)
    setBusy(false)
  }
  return (
    <Modal title="New group" onClose={() => actions.openDialog(null)}>
      <form class="modal__body" onSubmit={submit}>
        <label class="field">
          <span>Group name</span>
          <input data-testid="group-name" value={name} maxLength={100} onInput={(e) => setName(e.currentTarget.value)} required />
        </label>
        <label class="field">
          <span>Members</span>
          <input data-testid="group-members" value={members} autocapitalize="none" spellcheck={false} placeholder="alice, bob"
            aria-describedby="group-members-hint" onInput={(e) => setMembers(e.currentTarget.value)} />
        </label>
        <p id="group-members-hint" class="field__hint">
          Usernames separated by commas. You can add more people later.
          {friends.length > 0 && ` Your friends: ${friends.join(', ')}.`}
        </p>
        {notice !== null && <p class="form-error" role="alert">{notice}</p>}
        <div class="modal__actions">
          <button type="button" class="button button--secondary" onClick={() => actions.openDialog(null)}>Cancel</button>
          <button data-testid="create-group" type="submit" class="button button--primary" disabled={busy}>Create group</button>
        </div>
      </form>
    </Modal>
  )
}
