/**
 * The messages of a conversation, grouped by day and by sender. Scrolling near the top loads the
 * older page and keeps what is on screen where it was (the height added above is added to the
 * scroll position, before the browser paints); when the view is at the bottom it stays there as
 * messages arrive. Up and down arrows move between messages.
 *
 * A search result's click brings its message here (`jump`): the list scrolls it to the middle,
 * focuses it and highlights it for a moment. When that message is further back than the loaded
 * messages, the list shows a window around it: scrolling down loads the newer pages, and "Jump to
 * latest" goes straight back to the end.
 */
import { useEffect, useLayoutEffect, useRef } from 'preact/hooks'
import { sameDay } from '../lib/format'
import { arrowNavigation } from '../lib/keys'
import { mayDelete, mayEdit, type ShownMessage } from '../store/state'
import { useActions, useAppState } from '../store/store'
import { DayDivider } from './DayDivider'
import { Icon } from './Icon'
import { MessageItem } from './MessageItem'

/** Distance from the top or the bottom (px) at which the next page is asked for. */
const LOAD_MARGIN = 400
/** Distance from the bottom (px) within which the view counts as at the bottom. */
const BOTTOM_SLACK = 60
/** Messages of one sender less than this apart form one group. */
const GROUP_GAP_MS = 5 * 60_000
/** How long a message jumped to stays highlighted. */
const FLASH_MS = 2500

const NO_MESSAGES: ShownMessage[] = []

/** A stable key: one per stored message (by seq, so a deletion keeps its element), ours on the way by id. */
function keyOf(m: ShownMessage): string {
  return m.seq !== null ? `s${m.seq}` : `c${m.clientMsgId}`
}

export function MessageList({ channel }: { channel: string }) {
  const actions = useActions()
  const me = useAppState((s) => s.session!.username)
  const conversation = useAppState((s) => s.conversations[channel])
  const timeline = useAppState((s) => s.timelines[channel])
  const outbox = useAppState((s) => s.outbox)
  const editing = useAppState((s) => (s.editing?.channel === channel ? s.editing : null))
  const jump = useAppState((s) => (s.jump?.channel === channel ? s.jump : null))
  const isGroup = conversation?.kind === 'group'
  const atEnd = timeline?.atEnd !== false
  const stored = timeline?.messages ?? NO_MESSAGES
  // Ours on the way show at the end, which is only on screen when the end is loaded.
  const pending = atEnd ? outbox.filter((m) => m.channel === channel && !stored.some((x) => x.clientMsgId === m.clientMsgId)) : []
  const messages = pending.length === 0 ? stored : [...stored, ...pending]

  const ref = useRef<HTMLDivElement>(null)
  /** Measured before each render's DOM changes, used right after them. */
  const before = useRef({ height: 0, top: 0, atBottom: true, atEnd: true, first: 0 as number | null, count: 0 })
  /** The jump (its `at`) the list already scrolled to. */
  const scrolledFor = useRef<number | null>(null)
  const flashTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  /** "Jump to latest" was pressed: once the end is loaded, the view goes to it. */
  const toLatest = useRef(false)
  const el = ref.current
  if (el !== null) {
    before.current = {
      height: el.scrollHeight,
      top: el.scrollTop,
      atBottom: el.scrollHeight - el.scrollTop - el.clientHeight <= BOTTOM_SLACK,
      atEnd: before.current.atEnd,
      first: before.current.first,
      count: before.current.count,
    }
  }

  const first = stored[0]?.seq ?? null
  useLayoutEffect(() => {
    const list = ref.current
    if (list === null) return
    const b = before.current
    const target = jump !== null && scrolledFor.current !== jump.at
      ? list.querySelector<HTMLElement>(`[data-testid="message"][data-seq="${jump.seq}"]`)
      : null
    const prepended = b.first !== null && first !== null && first < b.first
    if (target !== null) {
      const at = jump!.at
      scrolledFor.current = at
      target.scrollIntoView({ block: 'center' })
      target.focus({ preventScroll: true })
      clearTimeout(flashTimer.current)
      flashTimer.current = setTimeout(() => actions.history.jumped(at), FLASH_MS)
    } else if (toLatest.current && atEnd) {
      toLatest.current = false
      list.scrollTop = list.scrollHeight
    } else if (prepended) {
      list.scrollTop = b.top + (list.scrollHeight - b.height)
    } else if ((b.atBottom && b.atEnd && atEnd) || b.count === 0 || messages[messages.length - 1]?.delivery === 'pending') {
      // Pinned to the end; never while reading a window further back, whose next page appends below.
      if (atEnd || b.count === 0) list.scrollTop = list.scrollHeight
    }
    before.current = { ...b, first, count: messages.length, atEnd }
    // A page that does not fill the view cannot be scrolled: ask for the next one now.
    if (list.scrollHeight <= list.clientHeight + LOAD_MARGIN && timeline?.loaded) {
      if (!timeline.atStart) void actions.history.loadOlder(channel)
      if (!timeline.atEnd) void actions.history.loadNewer(channel)
    }
  })

  useEffect(() => {
    const list = ref.current
    // Opening on a message jumped to keeps it in view; otherwise a conversation opens at its end.
    if (list !== null && scrolledFor.current === null && jump === null) list.scrollTop = list.scrollHeight
  }, [channel])

  useEffect(() => () => clearTimeout(flashTimer.current), [])

  const onScroll = () => {
    const list = ref.current
    if (list === null) return
    const fromBottom = list.scrollHeight - list.scrollTop - list.clientHeight
    if (list.scrollTop < LOAD_MARGIN) void actions.history.loadOlder(channel)
    if (!atEnd && fromBottom < LOAD_MARGIN) void actions.history.loadNewer(channel)
    if (atEnd && fromBottom <= BOTTOM_SLACK) actions.markRead(channel)
  }

  return (
    <div class="messages-wrap">
      <div ref={ref} class="messages" role="log" aria-label="Messages" tabIndex={0} onScroll={onScroll} onKeyDown={(e) => arrowNavigation(e, '.message')}>
        <div class="messages__top" aria-live="polite">
          {timeline?.loadingOlder ? <span class="pill">Loading older messages…</span>
            : timeline?.atStart ? <span class="pill">This is the beginning of the conversation.</span> : null}
        </div>
        {messages.map((m, i) => {
          const prev = messages[i - 1]
          const newDay = prev === undefined || !sameDay(prev.ts, m.ts)
          const firstOfRun = newDay || prev.from !== m.from || m.ts - prev.ts > GROUP_GAP_MS || prev.deleted === true
          return (
            <div key={keyOf(m)} class="messages__row">
              {newDay && <DayDivider ts={m.ts} />}
              <MessageItem
                message={m}
                me={me}
                first={firstOfRun}
                showName={isGroup && firstOfRun && m.from !== me}
                canEdit={mayEdit(m, me)}
                canDelete={mayDelete(m, conversation, me)}
                editing={editing !== null && editing.seq === m.seq ? editing : null}
                flash={jump !== null && jump.seq === m.seq}
              />
            </div>
          )
        })}
        {!atEnd && (
          <div class="messages__bottom" aria-live="polite">
            {timeline?.loadingNewer && <span class="pill">Loading newer messages…</span>}
          </div>
        )}
      </div>
      {!atEnd && (
        <button type="button" class="jump-latest" data-testid="jump-latest" onClick={() => {
          toLatest.current = true
          void actions.history.jumpToLatest(channel)
        }}>
          <Icon name="down" size={18} /> Jump to latest
        </button>
      )}
    </div>
  )
}
