/** Sends a friend request to a username. */
import { useState } from 'preact/hooks'
import { useActions } from '../store/store'

export function AddFriendForm() {
  const actions = useActions()
  const [name, setName] = useState('')
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event) => {
    e.preventDefault()
    if (busy || name.trim() === '') return
    setBusy(true)
    if (await actions.social.addFriend(name)) setName('')
    setBusy(false)
  }
  return (
    <form class="add-friend" onSubmit={submit}>
      <label for="add-friend-input" class="add-friend__label">Add a friend by username</label>
      <div class="add-friend__row">
        <input id="add-friend-input" data-testid="add-friend-input" autocomplete="off" autocapitalize="none" spellcheck={false}
          placeholder="username" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <button data-testid="add-friend" type="submit" class="button button--primary" disabled={busy}>Add</button>
      </div>
    </form>
  )
}
