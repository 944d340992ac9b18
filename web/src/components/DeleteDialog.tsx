/**
 * "Delete message?": what will be deleted and for whom, with Cancel (focused first, the safe
 * choice) and Delete. An error (no connection, the message already gone) stays in the dialog.
 * Afterwards the focus goes back to the message, which now reads "This message was deleted".
 */
import { findShown } from '../store/changes'
import { useActions, useAppState } from '../store/store'
import { Modal } from './Modal'

export function DeleteDialog() {
  const actions = useActions()
  const me = useAppState((s) => s.session!.username)
  const deleting = useAppState((s) => s.deleting)
  const message = useAppState((s) => (s.deleting === null ? undefined : findShown(s, s.deleting.channel, s.deleting.seq)))
  const group = useAppState((s) => (s.deleting === null ? false : s.conversations[s.deleting.channel]?.kind === 'group'))
  if (deleting === null) return null
  const theirs = message !== undefined && message.from !== me
  const where = group ? 'everyone in this group' : 'both of you'

  return (
    <Modal
      title="Delete message?"
      onClose={() => actions.messages.cancelDelete()}
      returnFocus={() => document.querySelector<HTMLElement>(`[data-testid="message"][data-seq="${deleting.seq}"]`)}
    >
      <div class="modal__body" data-testid="delete-dialog">
        <p>
          {theirs ? `${message.from}'s message will be deleted for ${where}` : `It will be deleted for ${where}`}, on every
          device. This cannot be undone.
        </p>
        {message !== undefined && message.text !== '' && <p class="quote" data-testid="delete-quote">{message.text}</p>}
        {deleting.error !== null && <p class="form-error" role="alert">{deleting.error}</p>}
        <div class="modal__actions">
          <button type="button" class="button button--secondary" onClick={() => actions.messages.cancelDelete()}>Cancel</button>
          <button type="button" class="button button--destructive" data-testid="confirm-delete" disabled={deleting.busy}
            onClick={() => void actions.messages.confirmDelete()}>
            {deleting.busy ? 'Deleting…' : 'Delete'}
          </button>
        </div>
      </div>
    </Modal>
  )
}
