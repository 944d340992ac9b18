/**
 * The messages of a conversation, grouped by day and by sender. Scrolling near the top loads the
 * older page and keeps what is on screen where it was (the height added above is added to the
 * scroll position, before the browser paints); when the view is at the bottom it stays there as
 * messages arrive. Up and down arrows move between messages.
 */
import { useEffect, useLayoutEffect, useRef } from 'preact/hooks'
import { sameDay } from '../lib/format'
import { arrowNavigation } from '../lib/keys'
import type { ShownMessage } from '../store/state'
import { useActions, useAppState } from '../store/store'
import { DayDivider } from './DayDivider'
import { MessageItem } from './MessageItem'

/** Distance from the top (px) at which the older page is asked for. */
const LOAD_MARGIN = 400
/** Distance from the bottom (px) within which the view counts as at the bottom. */
const BOTTOM_SLACK = 60
/** Messages of one sender less than this apart form one group. */
const GROUP_GAP_MS = 5 * 60_000

const NO_MESSAGES: ShownMessage[] = []

export function MessageList({ channel }: { channel: string }) {
  const actions = useActions()
  const me = useAppState((s) => s.session!.username)
  const isGroup = useAppState((s) => s.conversations[channel]?.kind === 'group')
  const timeline = useAppState((s) => s.timelines[channel])
  const outbox = useAppState((s) => s.outbox)
  const stored = timeline?.messages ?? NO_MESSAGES
  const pending = outbox.filter((m) => m.channel === channel && !stored.some((x) => x.clientMsgId === m.clientMsgId))
  const messages = pending.length === 0 ? stored : [...stored, ...pending]

  const ref = useRef<HTMLDivElement>(null)
  /** Measured before each render's DOM changes, used right after them. */
  const before = useRef({ height: 0, top: 0, atBottom: true, first: 0 as number | null, count: 0 })
  const el = ref.current
  if (el !== null) {
    before.current = {
      height: el.scrollHeight,
      top: el.scrollTop,
      atBottom: el.scrollHeight - el.scrollTop - el.clientHeight <= BOTTOM_SLACK,
      first: before.current.first,
      count: before.current.count,
    }
  }

  const first = stored[0]?.seq ?? null
  useLayoutEffect(() => {
    const list = ref.current
    if (list === null) return
    const b = before.current
    const prepended = b.first !== null && first !== null && first < b.first
    if (prepended) list.scrollTop = b.top + (list.scrollHeight - b.height)
    else if (b.atBottom || b.count === 0 || messages[messages.length - 1]?.delivery === 'pending') list.scrollTop = list.scrollHeight
    before.current = { ...b, first, count: messages.length }
    // A page that does not fill the view cannot be scrolled up: ask for the next one now.
    if (list.scrollHeight <= list.clientHeight + LOAD_MARGIN && timeline?.loaded && !timeline.atStart) void actions.loadOlder(channel)
  })

  useEffect(() => {
    const list = ref.current
    if (list !== null) list.scrollTop = list.scrollHeight
  }, [channel])

  const onScroll = () => {
    const list = ref.current
    if (list !== null && list.scrollTop < LOAD_MARGIN) void actions.loadOlder(channel)
    if (list !== null && list.scrollHeight - list.scrollTop - list.clientHeight <= BOTTOM_SLACK) actions.markRead(channel)
  }

  return (
    <div ref={ref} class="messages" role="log" aria-label="Messages" tabIndex={0} onScroll={onScroll} onKeyDown={(e) => arrowNavigation(e, '.message')}>
      <div class="messages__top" aria-live="polite">
        {timeline?.loadingOlder ? <span class="pill">Loading older messages…</span>
          : timeline?.atStart ? <span class="pill">This is the beginning of the conversation.</span> : null}
      </div>
      {messages.map((m, i) => {
        const prev = messages[i - 1]
        const newDay = prev === undefined || !sameDay(prev.ts, m.ts)
        const firstOfRun = newDay || prev.from !== m.from || m.ts - prev.ts > GROUP_GAP_MS
        return (
          <div key={m.clientMsgId} class="messages__row">
            {newDay && <DayDivider ts={m.ts} />}
            <MessageItem message={m} mine={m.from === me} first={firstOfRun} showName={isGroup && firstOfRun && m.from !== me} />
          </div>
        )
      })}
    </div>
  )
}
