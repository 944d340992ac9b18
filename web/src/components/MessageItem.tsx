/**
 * One message bubble. Its text is a text node (never HTML); pending and failed own messages show
 * their state, failed ones with Retry and Discard. A stored message shows its current state: the
 * newest text with "(edited)", its reactions, or for a deleted one only "This message was
 * deleted" in its place. Beside it, the buttons to react and for its menu (React, Edit, Delete);
 * while being edited, the editor replaces the text.
 */
import { useState } from 'preact/hooks'
import { clock, dayLabel } from '../lib/format'
import type { Editing, ShownMessage } from '../store/state'
import { useActions } from '../store/store'
import { EmojiPicker } from './EmojiPicker'
import { Icon } from './Icon'
import { MessageEditor } from './MessageEditor'
import { MessageMenu } from './MessageMenu'
import { MessageTools } from './MessageTools'
import { ReactionBar } from './ReactionBar'

interface Props {
  message: ShownMessage
  me: string
  /** The first of a run of messages by one sender: shows the name (in groups) and a tail. */
  first: boolean
  showName: boolean
  canEdit: boolean
  canDelete: boolean
  /** This message is being edited. */
  editing: Editing | null
  /** Just jumped to (a search result): highlighted for a moment. */
  flash: boolean
}

/** An open menu or picker, where it opens (above the button when it is low on screen), and who opened it. */
interface Popup { kind: 'menu' | 'picker'; opener: HTMLElement; style: Record<string, string> }

/** Where a popup goes: under its opener, or above it when the opener is in the lower half of the list. */
function placeFor(opener: HTMLElement, mine: boolean): Record<string, string> {
  const message = opener.closest('.message')!.getBoundingClientRect()
  const at = opener.getBoundingClientRect()
  const list = opener.closest('.messages')?.getBoundingClientRect()
  const up = list !== undefined && at.top - list.top > list.height / 2
  const place: Record<string, string> = up ? { bottom: `${message.bottom - at.top + 4}px` } : { top: `${at.bottom - message.top + 4}px` }
  place[mine ? 'right' : 'left'] = '0px'
  return place
}

/** "today", "yesterday", "on Monday", "on 12 March 2026". */
function editedDay(ts: number): string {
  const day = dayLabel(ts)
  return day === 'Today' || day === 'Yesterday' ? day.toLowerCase() : `on ${day}`
}

export function MessageItem({ message: m, me, first, showName, canEdit, canDelete, editing, flash }: Props) {
  const actions = useActions()
  const [popup, setPopup] = useState<Popup | null>(null)
  const [focused, setFocused] = useState(false)
  const mine = m.from === me
  const status = m.delivery === 'pending' ? 'Sending' : m.delivery === 'failed' ? 'Not sent' : 'Sent'
  const actionable = m.seq !== null && m.deleted !== true && editing === null

  const open = (kind: Popup['kind'], opener: HTMLElement) => setPopup({ kind, opener, style: placeFor(opener, mine) })
  const close = (refocus: boolean) => {
    if (refocus) popup?.opener.focus()
    setPopup(null)
  }
  const react = (emoji: string) => {
    close(true)
    if (m.seq !== null) void actions.messages.toggleReaction(m.channel, m.seq, emoji)
  }
  const onKeyDown = (e: KeyboardEvent) => {
    // The focused message itself: Enter or the context-menu key opens its menu.
    if (e.target !== e.currentTarget || !actionable) return
    if (e.key === 'Enter' || e.key === 'ContextMenu' || (e.key === 'F10' && e.shiftKey)) {
      e.preventDefault()
      const button = (e.currentTarget as HTMLElement).querySelector<HTMLElement>('[data-testid="message-menu"]')
      if (button !== null) open('menu', button)
    }
  }
  const editedAt = m.editedAt === undefined ? '' : `Edited ${editedDay(m.editedAt)} at ${clock(m.editedAt)}`

  return (
    <div
      class={`message${mine ? ' message--mine' : ''}${first ? ' message--first' : ''}${m.delivery !== 'sent' ? ` message--${m.delivery}` : ''}${m.deleted === true ? ' message--deleted' : ''}${editing !== null ? ' message--editing' : ''}${flash ? ' message--flash' : ''}${popup !== null ? ' message--open' : ''}`}
      data-testid="message"
      data-seq={m.seq === null ? '' : String(m.seq)}
      data-from={m.from}
      data-pending={m.delivery === 'sent' ? 'false' : 'true'}
      data-deleted={m.deleted === true ? 'true' : undefined}
      data-edited={m.editedAt !== undefined ? 'true' : undefined}
      tabIndex={-1}
      onKeyDown={onKeyDown}
      onFocusCapture={() => setFocused(true)}
      onBlurCapture={(e) => {
        if (!(e.currentTarget as HTMLElement).contains(e.relatedTarget as Node | null)) setFocused(false)
      }}
    >
      <div class="message__bubble">
        {showName && <span class="message__from">{m.from}</span>}
        <span class="visually-hidden">{mine ? 'You' : m.from} at {clock(m.ts)}: </span>
        {m.deleted === true ? (
          <span class="message__deleted" data-testid="deleted">
            <Icon name="block" size={16} />
            This message was deleted
          </span>
        ) : editing !== null ? (
          <MessageEditor text={m.text} editing={editing} />
        ) : (
          <span class="message__text">{m.text}</span>
        )}
        <span class="message__meta" aria-label={mine && m.deleted !== true ? status : undefined}>
          {m.editedAt !== undefined && m.deleted !== true && (
            <span class="message__edited" data-testid="edited" title={editedAt}>
              (edited)<span class="visually-hidden">, {editedAt.charAt(0).toLowerCase() + editedAt.slice(1)}</span>
            </span>
          )}
          <span aria-hidden="true">{clock(m.ts)}</span>
          {mine && m.deleted !== true && (
            <span class={`message__status message__status--${m.delivery}`} title={status}>
              <Icon name={m.delivery === 'sent' ? 'check' : m.delivery === 'pending' ? 'clock' : 'alert'} size={14} />
            </span>
          )}
        </span>
        {actionable && (
          <MessageTools
            tabbable={focused}
            menuOpen={popup?.kind === 'menu'}
            onReact={(e) => open('picker', e.currentTarget as HTMLElement)}
            onMenu={(e) => (popup?.kind === 'menu' ? close(true) : open('menu', e.currentTarget as HTMLElement))}
          />
        )}
      </div>
      {m.reactions !== undefined && m.deleted !== true && (
        <ReactionBar reactions={m.reactions} me={me} onToggle={react} onAdd={(e) => open('picker', e.currentTarget as HTMLElement)} />
      )}
      {popup !== null && actionable && (
        <div class="message__popup" style={popup.style}>
          {popup.kind === 'menu' ? (
            <MessageMenu
              opener={popup.opener}
              canEdit={canEdit}
              canDelete={canDelete}
              onReact={() => setPopup({ ...popup, kind: 'picker' })}
              onEdit={() => {
                setPopup(null)
                actions.messages.startEdit(m.channel, m.seq!)
              }}
              onDelete={() => {
                close(true)
                actions.messages.askDelete(m.channel, m.seq!)
              }}
              onClose={close}
            />
          ) : (
            <EmojiPicker
              opener={popup.opener}
              mine={Object.entries(m.reactions ?? {}).filter(([, users]) => users.includes(me)).map(([emoji]) => emoji)}
              onPick={react}
              onClose={close}
            />
          )}
        </div>
      )}
      {m.delivery === 'failed' && m.deleted !== true && (
        <div class="message__failed" role="alert">
          <span>{m.error ?? 'Not sent.'}</span>
          <button type="button" class="link" onClick={() => actions.retry(m.clientMsgId)}>Retry</button>
          <button type="button" class="link" onClick={() => actions.discard(m.clientMsgId)}>Discard</button>
        </div>
      )}
    </div>
  )
}
