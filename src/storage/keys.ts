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

/**
 * An actor that has background work left after a crash (a channel with events not yet fanned
 * out) sets this sub-key; storage mirrors it into a node-level index (`w<SEP><actorKey>`) so the
 * node can wake those actors after a restart or a failover without scanning all actors.
 */
export const WAKE_SUB = '~wake'

export function wakeIndexKey(actorKey: string): string {
  return `w${SEP}${actorKey}`
}

export const WAKE_INDEX_RANGE = { gt: `w${SEP}`, lt: `w${SEP}${HIGH}` } as const

/** The node-level index op mirroring a write of an actor's wake sub-key, if `op` is one. */
export function wakeIndexOp(actorKey: string, op: { type: 'put' | 'del'; key: string }): { type: 'put'; key: string; value: number } | { type: 'del'; key: string } | null {
  if (op.key !== WAKE_SUB) return null
  return op.type === 'put' ? { type: 'put', key: wakeIndexKey(actorKey), value: 1 } : { type: 'del', key: wakeIndexKey(actorKey) }
}
