/** "Today", "Yesterday" or a date between the messages of different days. */
import { dayLabel } from '../lib/format'

export function DayDivider({ ts }: { ts: number }) {
  return <div class="day" role="heading" aria-level={2}><span>{dayLabel(ts)}</span></div>
}
