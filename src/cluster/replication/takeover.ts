/**
 * The steps of taking a key over (OwnedLog.takeover in owner.ts): which epoch to propose, whose
 * promises count, and how this node comes to hold the most up-to-date log of those that promised,
 * from a peer's entries or, where they were compacted away, a snapshot of its state. See
 * docs/REPLICATION.md, "Taking over a key".
 */
import { errors } from '../../errors.js'
import { type ReplicationContext, replicationCall } from './context.js'
import { pullSnapshot } from './snapshot.js'
import { type AppendReply, type Epoch, type FetchReply, type PrepareReply, PEER_KINDS, majority } from './types.js'

export type Granted = Extract<PrepareReply, { ok: true }>

const FETCH_BYTES = 4 << 20
/** Times adopting a log may find the entries it needs compacted meanwhile and fetch a snapshot. */
const ADOPT_SNAPSHOTS = 3

/**
 * The `node` of this node's epochs: its id and its data dir's incarnation, so that a node whose
 * disk was wiped or restored from a backup (and forgot the epochs it used) never picks an epoch
 * it already used with other entries.
 */
export function epochOwner(ctx: ReplicationContext): string {
  return `${ctx.self}/${ctx.replica.incarnation}`
}

export function requireLiveMajority(ctx: ReplicationContext, set: string[], op: 'takeover' | 'commit'): void {
  const live = set.filter((n) => ctx.view.isLive(n)).length
  if (live < majority(set.length)) {
    ctx.metrics?.quorumFailures.inc({ op })
    throw errors.unavailable(`a majority of the replicas is down (${live} of ${set.length} live)`)
  }
}

/**
 * Enough promises to take over: a majority of the current replica set, and a majority of the
 * previous record's replica set unless the promises already show a takeover committed under the
 * current record (a marker with cfg at the current version: whoever wrote it had gathered the
 * previous set's majority and adopted all it held, so nothing committed under the old set can be
 * missed). This way a changed ring needs the old replicas once per key, not forever.
 *
 * A copy restored from a backup may differ from its peers' (backups of different nodes are taken
 * at different moments), so while any promise comes from such a copy, every replica the key had
 * when the backups were taken must promise too (and every member of the current set): the most
 * up-to-date log of all of them is adopted, and no copy's applied entries are left behind.
 */
export function quorate(ctx: ReplicationContext, granted: Granted[], current: string[], previous: string[]): boolean {
  const all = granted.some((r) => r.restored)
  if (!hasQuorum(ctx, granted, current, false, all)) return false
  for (const r of granted) {
    if (Array.isArray(r.restored) && !r.restored.every((n) => granted.some((g) => g.node === n))) return false
  }
  if (previous.length === 0 || granted.some((r) => current.includes(r.node) && r.cfg >= ctx.view.version)) return true
  return hasQuorum(ctx, granted, previous, true, false)
}

/** Counts promises from members of `set` whose incarnation matches the record's. */
function hasQuorum(ctx: ReplicationContext, granted: Granted[], set: string[], previous: boolean, all: boolean): boolean {
  if (set.length === 0) return true
  const ok = granted.filter((r) => set.includes(r.node) && (ctx.view.incarnation(r.node, previous) ?? r.incarnation) === r.incarnation)
  return ok.length >= (all ? set.length : majority(set.length))
}

/**
 * Asks every replica of both sets to promise `epoch` (and, when a copy restored from a backup
 * names replicas outside them, those too); resolves once enough promised or all answered.
 */
export async function prepareAll(ctx: ReplicationContext, key: string, epoch: Epoch, current: string[], previous: string[]): Promise<PrepareReply[]> {
  const asked = new Set<string>()
  const replies: PrepareReply[] = []
  let pending = 0
  return new Promise((resolve) => {
    const timer = ctx.clock.setTimeout(() => resolve([...replies]), ctx.rpcTimeoutMs + 100)
    const settle = () => {
      const granted = replies.filter((r): r is Granted => r.ok)
      const refused = replies.some((r) => !r.ok)
      if (pending === 0 || refused || quorate(ctx, granted, current, previous)) {
        ctx.clock.clearTimeout(timer)
        resolve([...replies])
      }
    }
    const ask = (node: string) => {
      if (asked.has(node)) return
      asked.add(node)
      pending++
      const req = { key, epoch }
      replicationCall<PrepareReply>(ctx, node, PEER_KINDS.prepare, req, () => ctx.replica.prepare(req))
        .then((r) => {
          replies.push(r)
          if (r.ok && Array.isArray(r.restored)) for (const n of r.restored) ask(n)
        }, () => undefined)
        .finally(() => {
          pending--
          settle()
        })
    }
    for (const node of new Set([...current, ...previous])) ask(node)
  })
}

/**
 * Makes sure this node holds a complete applied state that `best`'s log continues: a state left
 * half installed by an interrupted snapshot, or one older than what `best` compacted away, is
 * replaced by a snapshot from the promising replica with the most advanced state.
 */
export async function completeState(ctx: ReplicationContext, key: string, best: Granted, granted: Granted[]): Promise<void> {
  const local = await ctx.replica.meta(key)
  const behind = best.node !== ctx.self && best.base > local.applied
  if (!local.installing && !behind) return
  const floor = Math.max(local.base ?? 0, best.node !== ctx.self ? best.base : 0)
  const sources = granted.filter((r) => r.node !== ctx.self && !r.installing && r.applied >= floor)
    .sort((a, b) => (b.node === best.node ? 1 : 0) - (a.node === best.node ? 1 : 0) || b.applied - a.applied)
  for (const source of sources) {
    try {
      await pullSnapshot(ctx, source.node, key)
    } catch (err) {
      ctx.log.debug({ key, source: source.node, err: (err as Error).message }, 'snapshot for a takeover failed; trying another replica')
      continue
    }
    if (!(await ctx.replica.meta(key)).installing) return
  }
  throw errors.unavailable(`no replica of ${key} could provide a recent enough state`)
}

/**
 * Replaces this node's unapplied log with `source`'s, page by page. Entries the source has
 * compacted meanwhile come as a snapshot of its state, and the log goes on from there.
 */
export async function adoptLog(ctx: ReplicationContext, key: string, epoch: Epoch, source: string, upTo: number, commit: number): Promise<void> {
  let after = (await ctx.replica.meta(key)).applied
  let prevE: Epoch | null = null
  let first = true
  let snapshots = 0
  while (after < upTo) {
    const req = { key, after, upTo, maxBytes: FETCH_BYTES }
    const read = await replicationCall<FetchReply>(ctx, source, PEER_KINDS.fetch, req, () => ctx.replica.fetch(req))
    if (after < read.base) {
      if (++snapshots > ADOPT_SNAPSHOTS) throw errors.unavailable(`${source} keeps compacting ${key} past what this node could fetch`)
      await pullSnapshot(ctx, source, key)
      const local = await ctx.replica.meta(key)
      if (local.installing) throw errors.unavailable(`could not take ${key}'s state from ${source}`)
      after = local.applied
      first = true
      continue
    }
    const entries = read.entries
    if (entries.length === 0 || entries[0]!.p !== after + 1) throw errors.unavailable(`${source} could not hand over ${key} from ${after + 1}`)
    const reply: AppendReply = await ctx.replica.append({
      key, epoch, prevP: after, prevE: prevE ?? read.prevE, entries, commit, ...(first ? { truncateAfter: after } : {}),
    })
    if (!reply.ok) throw errors.unavailable(`could not adopt ${key}'s log: ${reply.reason}`)
    first = false
    const tail = entries[entries.length - 1]!
    after = tail.p
    prevE = tail.e
  }
}
