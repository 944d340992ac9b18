/**
 * One simulated run, decided entirely by its seed: a five-node cluster (replicas 3) with settings
 * drawn from the seed, users, groups and 1:1 channels, writers with at-least-once retries, the
 * nemesis for `seconds` of virtual time, then everything healed, the replicas waited on until they
 * agree, and the checker (checker.ts, the chaos suite's) judging every history and inbox. The same
 * seed gives the same run, step for step: `traceHash` proves it.
 */
import { turn } from '../clock-virtual.js'
import { sleep } from '../clock.js'
import type { NodeCore } from '../node-core.js'
import { SeededRandom } from '../random.js'
import { type CheckResult, check } from './checker.js'
import { type ClientLog, Writer } from './client.js'
import { livenessFigures, type LivenessFigures } from './figures.js'
import { LeakGuard } from './guard.js'
import type { Fault, FaultKind, InboxEvent, SendRecord, StoredMessage } from './history.js'
import { Nemesis, PARTITIONS } from './nemesis.js'
import { World, type Outcome, type SimNode } from './world.js'

export interface SimOptions {
  seed: number
  /** Virtual seconds of writes and faults. */
  seconds?: number
  /** Off: writers only (to show a deliberate bug needs no faults, or to measure a baseline). */
  faults?: boolean
  kinds?: FaultKind[]
  logLevel?: string
  /** Off: do not watch for calls to the real clock, timers or randomness (see guard.ts). */
  guard?: boolean
}

export interface SimResult extends CheckResult {
  seed: number
  traceHash: string
  steps: number
  virtualMs: number
  settings: Record<string, number>
  faults: Fault[]
  liveness: LivenessFigures
  /** For a failed run: the faults in order, and where each channel stands on every node. */
  diagnostics: string[]
}

const GROUPS = [['usr1', 'usr2', 'usr3', 'usr4'], ['usr3', 'usr5', 'usr6'], ['usr2', 'usr6', 'usr7', 'usr8', 'usr1']]
const DMS = [['usr1', 'usr5'], ['usr4', 'usr7'], ['usr8', 'usr3']]
/** The longest a run may take in virtual time before it is called stuck. */
const BUDGET_MS = 15 * 60_000

export async function simulate(options: SimOptions): Promise<SimResult> {
  const guard = options.guard === false ? null : new LeakGuard().install()
  try {
    const result = await run(options)
    const leaks = guard?.report() ?? []
    if (leaks.length > 0) {
      result.problems.unshift(...leaks)
      result.ok = false
    }
    return result
  } finally {
    guard?.uninstall()
  }
}

async function run(options: SimOptions): Promise<SimResult> {
  const setup = new SeededRandom((options.seed ^ 0x9e3779b9) >>> 0)
  const [heartbeatMs, deadAfterMs] = setup.pick([[250, 1000], [500, 1500], [1000, 3000]] as const)
  const settings = {
    heartbeatMs, deadAfterMs,
    passivateAfterMs: setup.pick([500, 3000, 60_000]),
    clientTimeoutMs: setup.int(1000, 5000),
    // Compaction every repair sweep, keeping 0, 5 or 50 entries for a lagging replica: with 0 every
    // replica that falls behind at all is caught up from a snapshot.
    compactMaxLag: setup.pick([0, 5, 50]),
    seconds: options.seconds ?? 20,
  }
  const world = new World({
    seed: options.seed, nodes: 5, replicas: 3, heartbeatMs, deadAfterMs, repairIntervalMs: 1000,
    passivateAfterMs: settings.passivateAfterMs, compactIntervalMs: 1000, compactMaxLag: settings.compactMaxLag,
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
  })
  const trace = new Trace()
  const driver = new Driver(world, trace)
  const start = world.time.now()
  for (const node of world.nodes) world.launch(node)
  await driver.until(async () => world.up().length === world.nodes.length && world.up().every((n) => ringOf(n) === world.nodes.length), start + 60_000, 'the cluster to form')

  const log: ClientLog = { sends: [], attempts: [], changes: [], searches: [], tried: new Map() }
  const members = await driver.run(setupChannels(world), 120_000, 'users and channels')
  const channelsOf = new Map<string, string[]>()
  for (const [channel, list] of members) for (const u of list) channelsOf.set(u, [...(channelsOf.get(u) ?? []), channel])
  const users = [...channelsOf.keys()].sort()

  const t0 = world.time.now()
  const until = t0 + settings.seconds * 1000
  const hardStop = until + 90_000
  const writers = users.map((u) => new Writer(world, u, channelsOf.get(u)!, world.rng.fork(), log, {
    timeoutMs: settings.clientTimeoutMs, thinkMs: [100, 1200], burst: 0.2, changes: 0.15, searches: 0.05,
  }))
  const probes: Array<Promise<void>> = []
  const probeTimes: Array<{ kind: FaultKind; ms: number }> = []
  const nemesis = new Nemesis(world, world.rng.fork(), {
    from: t0 + 2000, until: until - 1000, channels: [...members.keys()], ...(options.kinds ? { kinds: options.kinds } : {}),
    // After a partition heals, every channel is written to until it acknowledges: how long that takes is the figure.
    onHeal: (fault) => {
      [...members].forEach(([channel, list], i) => {
        const probe = new Writer(world, list[0]!, [channel], world.rng.fork(), log, { timeoutMs: 2000, thinkMs: [0, 0], burst: 0 })
        probes.push(probe.sendOne(channel, `probe${nemesis.faults.indexOf(fault)}c${i}`, hardStop).then((rec) => {
          if (rec.ackAt !== null) probeTimes.push({ kind: fault.kind, ms: rec.ackAt - fault.healedAt! })
        }))
      })
    },
  })
  const work = Promise.all([
    ...writers.map((w) => w.run(until, hardStop)),
    options.faults === false ? Promise.resolve() : nemesis.run(),
  ]).then(() => Promise.all(probes))
  await driver.run(work, hardStop - world.time.now() + 60_000, 'writers and nemesis')
  nemesis.healAll()

  const judged = await driver.run(judge(world, members, channelsOf, log.sends), 5 * 60_000, 'the judgement')
  const result = check({
    sends: log.sends, histories: judged.histories, inboxes: judged.inboxes, faults: nemesis.faults, changes: log.changes, searches: log.searches,
  })
  result.problems.unshift(...world.problems, ...judged.problems)
  Object.assign(result.figures, world.compaction())
  result.ok = result.problems.length === 0
  const diagnostics = result.ok ? [] : await diagnose(world, nemesis.faults, start, [...members.keys()].map((c) => `channel:${c}`))
  trace.text(JSON.stringify([...judged.histories].map(([c, byNode]) => [c, [...byNode.values()][0]?.length])))
  return {
    ...result, seed: options.seed, traceHash: trace.hex(), steps: world.time.steps, virtualMs: world.time.now() - start,
    settings, faults: nemesis.faults, liveness: livenessFigures(nemesis.faults, log.attempts, probeTimes, PARTITIONS), diagnostics,
  }
}

/** For a failed run: the faults in order, and where each channel stands on every node. */
async function diagnose(world: World, faults: Fault[], start: number, keys: string[]): Promise<string[]> {
  const out = faults.map((f) => `fault ${f.kind} ${(f.nodes ?? []).join(',')} at +${f.at - start} ms healed +${(f.healedAt ?? f.at) - start} ms`)
  for (const key of keys) {
    const parts: string[] = []
    for (const node of world.nodes) {
      const core = node.process?.core
      if (!core?.cluster) continue
      const m = await core.cluster.replica.meta(key)
      const wake = await core.kv.get(`w\x00${key}`)
      parts.push(`${node.id}: owner ${core.cluster.view.owner(key)} active ${core.runtime.isActive(key)} last ${m.last} commit ${m.commit} applied ${m.applied} promised ${m.promised?.n}/${m.promised?.node}${wake ? ' wake' : ''}`)
    }
    out.push(`${key}: ${parts.join('; ')}`)
  }
  return out
}

/**
 * A fingerprint of a run: every timer that ran (when, whose, which), folded with FNV-1a. Two runs
 * of one seed must end with the same one; any leak of real time or randomness changes it.
 */
class Trace {
  private h = 0x811c9dc5
  private readonly owners = new Map<string, number>()

  step(at: number, owner: string, seq: number): void {
    let o = this.owners.get(owner)
    if (o === undefined) {
      o = this.fold(0x811c9dc5, owner)
      this.owners.set(owner, o)
    }
    this.h = Math.imul(this.h ^ (at % 0x7fffffff), 0x01000193) >>> 0
    this.h = Math.imul(this.h ^ o, 0x01000193) >>> 0
    this.h = Math.imul(this.h ^ seq, 0x01000193) >>> 0
  }

  text(s: string): void {
    this.h = this.fold(this.h, s)
  }

  hex(): string {
    return this.h.toString(16).padStart(8, '0')
  }

  private fold(h: number, s: string): number {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0
    return h
  }
}

/** Runs the simulation's clock, one timer at a time, while some work of the simulation is pending. */
class Driver {
  constructor(private readonly world: World, private readonly trace: Trace) {}

  /** Steps virtual time until `work` settles; throws if it takes longer than `budgetMs` of virtual time. */
  async run<T>(work: Promise<T>, budgetMs: number, what: string): Promise<T> {
    let settled = false
    let value: T | undefined
    let error: unknown
    work.then((v) => { settled = true; value = v }, (err) => { settled = true; error = err ?? new Error('rejected') })
    const { time } = this.world
    const deadline = time.now() + Math.min(budgetMs, BUDGET_MS)
    await turn()
    while (!settled) {
      const step = time.step()
      if (!step) throw new Error(`${what}: nothing left to run at +${time.now()} ms and still waiting`)
      this.trace.step(step.at, step.owner, step.seq)
      if (time.now() > deadline) throw new Error(`${what}: not done within ${budgetMs} ms of virtual time`)
      await turn()
    }
    if (error !== undefined) throw error
    return value as T
  }

  /** Steps virtual time until `pred` holds, checking it every 100 ms of virtual time. */
  async until(pred: () => Promise<boolean> | boolean, deadline: number, what: string): Promise<void> {
    const clock = this.world.time.clock('driver')
    await this.run((async () => {
      while (!(await pred())) {
        if (clock.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await sleep(clock, 100)
      }
    })(), BUDGET_MS, what)
  }
}

function ringOf(node: SimNode): number {
  const view = node.process?.core?.cluster?.view
  return view ? view.members().filter((m) => view.isLive(m.id)).length : 0
}

/** A request to any node up, retried until it is answered (setting up, judging). */
async function ask<T>(world: World, who: string, work: (core: NodeCore) => Promise<T>): Promise<T> {
  const clock = world.time.clock(who)
  let last: Outcome<T> | undefined
  for (let i = 0; i < 200; i++) {
    const nodes = world.up()
    if (nodes.length > 0) {
      last = await world.request(who, world.rng.pick(nodes), work, 10_000)
      if (last.ok) return last.value
      if (!['UNAVAILABLE', 'TIMEOUT', 'CLOSED', 'RATE_LIMITED'].includes(last.code)) throw new Error(`${who}: ${last.code}`)
    }
    await sleep(clock, 200)
  }
  throw new Error(`${who}: no answer (${last && !last.ok ? last.code : 'no node up'})`)
}

async function setupChannels(world: World): Promise<Map<string, string[]>> {
  const users = [...new Set([...GROUPS.flat(), ...DMS.flat()])].sort()
  // Accounts go straight to the user actors: the simulation does not log in, so no password is hashed.
  for (const u of users) {
    await ask(world, 'setup', (core) => core.actors.user(u, { kind: 'signup', passwordHash: 'none', displayName: u }).catch((err) => {
      if (err?.code === 'USERNAME_TAKEN') return null
      throw err
    }))
  }
  const members = new Map<string, string[]>()
  for (const [i, list] of GROUPS.entries()) {
    const view = await ask(world, 'setup', (core) => core.service.createGroup(list[0]!, `g${i}`, list.slice(1)))
    members.set(view.id, list)
  }
  for (const [a, b] of DMS) members.set(`dm:${[a!, b!].sort().join(':')}`, [a!, b!])
  return members
}

interface Judged {
  histories: Map<string, Map<string, StoredMessage[]>>
  inboxes: Map<string, { events: InboxEvent[]; channels: string[] }>
  problems: string[]
}

/** After the heal: replicas must agree; then every node's view of every history, and every inbox. */
async function judge(world: World, members: Map<string, string[]>, channelsOf: Map<string, string[]>, sends: SendRecord[]): Promise<Judged> {
  const clock = world.time.clock('judge')
  const problems: string[] = []
  const keys = [...[...members.keys()].map((c) => `channel:${c}`), ...[...channelsOf.keys()].map((u) => `user:${u}`)]
  let apart: string[] = []
  const deadline = clock.now() + 120_000
  for (;;) {
    apart = await divergent(world, keys)
    if (apart.length === 0) break
    if (clock.now() > deadline) {
      problems.push(`replicas did not converge: ${apart.slice(0, 5).join(' | ')}`)
      break
    }
    await sleep(clock, 500)
  }
  const histories = new Map<string, Map<string, StoredMessage[]>>()
  for (const [channel, list] of members) {
    const byNode = new Map<string, StoredMessage[]>()
    for (const node of world.up()) {
      try {
        byNode.set(node.id, await history(world, node, list[0]!, channel))
      } catch (err) {
        problems.push(`${channel}: history unreadable on ${node.id}: ${(err as Error).message}`)
      }
    }
    histories.set(channel, byNode)
  }
  const inboxes = new Map<string, { events: InboxEvent[]; channels: string[] }>()
  const sent = new Map(sends.map((s) => [`${s.channel}/${s.clientMsgId}`, s.text]))
  for (const [user, channels] of channelsOf) {
    // Fan-out finishes in the background: wait until the inbox holds every event the histories
    // call for (each message, a delete for each deleted one, an edit for each edited text, each
    // reaction), or give up after a minute and let the checker say what is missing.
    const served = channels.flatMap((c) => [...histories.get(c)!.values()][0] ?? [])
    const required = requiredEvents(served, sent)
    let events: InboxEvent[] | null = null
    let failure = ''
    const until = clock.now() + 60_000
    for (;;) {
      try {
        events = await inbox(world, user)
        const held = new Set(events.map(eventKey))
        if ([...required].every((k) => held.has(k))) break
      } catch (err) {
        failure = (err as Error).message
      }
      if (clock.now() > until) break
      await sleep(clock, 500)
    }
    // An inbox that cannot be read (it points at a message its channel no longer has) is a violation.
    if (events === null) problems.push(`${user}: inbox unreadable: ${failure}`)
    inboxes.set(user, { events: events ?? [], channels: events === null ? [] : channels })
  }
  return { histories, inboxes, problems }
}

/** An inbox event, named for `requiredEvents`. */
function eventKey(e: InboxEvent): string {
  return e.op === 'reaction' ? `reaction ${e.channel}/${e.seq} ${e.user} ${e.emoji} ${e.on}` : `${e.op} ${e.channel}/${e.seq}`
}

/** The events every member's inbox must end up holding for `messages`, by `eventKey`. */
function requiredEvents(messages: StoredMessage[], sent: Map<string, string>): Set<string> {
  const out = new Set<string>()
  for (const m of messages) {
    const place = `${m.channel}/${m.seq}`
    out.add(`message ${place}`)
    if (m.deleted) {
      out.add(`delete ${place}`)
      continue
    }
    if (m.text !== sent.get(`${m.channel}/${m.clientMsgId}`)) out.add(`edit ${place}`)
    for (const [emoji, users] of Object.entries(m.reactions ?? {})) for (const u of users) out.add(`reaction ${place} ${u} ${emoji} true`)
  }
  return out
}

/** Keys whose replicas (of the current ring) do not all report the same applied position and state. */
async function divergent(world: World, keys: string[]): Promise<string[]> {
  const nodes = world.up()
  const view = nodes[0]?.process?.core?.cluster?.view
  if (!view) return ['no node up']
  const apart: string[] = []
  for (const key of keys) {
    const reports = []
    for (const id of view.replicaSet(key)) {
      const cluster = world.node(id).process?.core?.cluster
      reports.push(cluster ? await cluster.replica.report(key) : null)
    }
    const first = reports[0]
    if (!reports.every((r) => r && first && r.applied === first.applied && r.digest === first.digest && r.applied > 0)) {
      apart.push(`${key}: ${reports.map((r) => (r ? `${r.node} last ${r.last} commit ${r.commit} applied ${r.applied}` : 'down')).join('; ')}`)
    }
  }
  return apart
}

async function history(world: World, node: SimNode, user: string, channel: string): Promise<StoredMessage[]> {
  const out: StoredMessage[] = []
  let after = 0
  for (let page = 0; page < 1000; page++) {
    const outcome = await world.request('judge', node, (core) => core.service.history(user, channel, { after, limit: 200 }), 10_000)
    if (!outcome.ok) {
      if (page > 100) throw new Error(outcome.code)
      await sleep(world.time.clock('judge'), 200)
      continue
    }
    const { messages } = outcome.value
    for (const m of messages) {
      out.push(m.deleted
        ? { channel: m.channel, seq: m.seq, from: m.from, text: '', clientMsgId: '', deleted: true }
        : { channel: m.channel, seq: m.seq, from: m.from, text: m.text, clientMsgId: m.clientMsgId, ...(m.reactions ? { reactions: m.reactions } : {}) })
    }
    if (!outcome.value.more && messages.length < 200) return out
    after = messages[messages.length - 1]!.seq
  }
  return out
}

async function inbox(world: World, user: string): Promise<InboxEvent[]> {
  const out: InboxEvent[] = []
  let since = 0
  for (let page = 0; page < 1000; page++) {
    const r = await ask(world, 'judge', (core) => core.service.sync(user, since, 1000))
    for (const e of r.events) out.push(e as InboxEvent)
    since = r.next
    if (!r.more) return out
  }
  return out
}
