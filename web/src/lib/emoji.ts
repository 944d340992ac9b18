/**
 * The reaction picker's emoji: a small fixed set that covers what people react with most, each
 * with the name a screen reader says. Reactions others made with any other emoji still show and
 * can be toggled from their chip.
 */
export const REACTION_EMOJI: ReadonlyArray<{ emoji: string; name: string }> = [
  { emoji: '👍', name: 'thumbs up' },
  { emoji: '❤️', name: 'red heart' },
  { emoji: '😂', name: 'tears of joy' },
  { emoji: '😮', name: 'surprised' },
  { emoji: '😢', name: 'crying' },
  { emoji: '🙏', name: 'thank you' },
  { emoji: '🎉', name: 'party' },
  { emoji: '🔥', name: 'fire' },
  { emoji: '👏', name: 'clapping' },
  { emoji: '😄', name: 'smiling' },
  { emoji: '😍', name: 'heart eyes' },
  { emoji: '🤔', name: 'thinking' },
  { emoji: '👀', name: 'eyes' },
  { emoji: '💯', name: 'hundred points' },
  { emoji: '✅', name: 'check mark' },
  { emoji: '👎', name: 'thumbs down' },
  { emoji: '😅', name: 'relieved laugh' },
  { emoji: '🙌', name: 'raised hands' },
  { emoji: '🚀', name: 'rocket' },
  { emoji: '😡', name: 'angry' },
  { emoji: '🤝', name: 'handshake' },
  { emoji: '⭐', name: 'star' },
  { emoji: '😎', name: 'cool' },
  { emoji: '👌', name: 'OK' },
]

/** Emoji per row of the picker (arrow keys move by this much up and down). */
export const PICKER_COLUMNS = 6
