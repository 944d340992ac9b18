/**
 * Key encoding. LevelDB compares keys as bytes, so every number in a key is zero-padded to a fixed
 * width (16 digits holds every safe integer), and parts are joined by a separator byte that sorts
 * below every printable character. See docs/STORAGE.md for the layout.
 */
export const SEP = '\x00'
/** Sorts above every key part made of printable characters. */
export const HIGH = '\xff'

const WIDTH = 16

export function num(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`key number out of range: ${n}`)
  return String(n).padStart(WIDTH, '0')
}

export function parseNum(s: string): number {
  return Number(s)
}

/** Prefix of every key an actor owns: `a<SEP><actorKey><SEP>`. */
export function actorPrefix(actorKey: string): string {
  if (actorKey.includes(SEP)) throw new RangeError('actor keys may not contain NUL')
  return `a${SEP}${actorKey}${SEP}`
}

/** Node-local keys that belong to no actor (the generated secret, node metadata). */
export function nodeKey(name: string): string {
  return `n${SEP}${name}`
}

/** Replication bookkeeping of an actor key on this node: its promise, log end and commit marks. */
export function replicaMetaKey(actorKey: string): string {
  return `r${SEP}${actorKey}`
}

/** Prefix of an actor key's replicated log entries; positions follow as `num(p)`. */
export function replicaLogPrefix(actorKey: string): string {
  return `l${SEP}${actorKey}${SEP}`
}
