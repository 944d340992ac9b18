/**
 * The flags of `npm run bench`: every workload parameter of the comparison, with the defaults the
 * performance goals are stated for (docs/PERFORMANCE.md), and the extra runs (cluster unpinned,
 * overload, stored data).
 */
import { resolve } from 'node:path'

export const DEFAULTS = {
  // 1:1: `pairs` senders, each sending `msgs` messages to its own partner, `window` in flight.
  pairs: 200, msgs: 1000, window: 10,
  // group: `groups` groups of `groupSize` members; `groupSenders` of each send `groupMsgs` each.
  groups: 5, groupSize: 100, groupSenders: 3, groupMsgs: 200,
  // light: `lightPairs` pairs, one message in flight, `lightMsgs` each: the latency figure.
  lightPairs: 10, lightMsgs: 300, lightMaxSeconds: 4,
  // unloaded: one pair, one message every `unloadedGapMs`, `unloadedMsgs` of them: latency with the server idle in between.
  unloadedMsgs: 40, unloadedGapMs: 50,
  // idle memory: logged-in sockets left idle, RSS per socket.
  idle: 5000,
  textBytes: 100,
  text: 'words',
  runs: 3,
  warmupMsgs: 10,
  maxSeconds: 8,
  // The cluster's runs stop sooner: it makes a tenth of the relay's rate, so 8 s would be ~10,000 of
  // the 200,000 messages planned anyway, and its rate is as steady over 5 s (keeps the default run under 5 minutes).
  clusterMaxSeconds: 5,
  // Before each workload's runs: wait for the server to go idle (background work of the one before), at most this long.
  settleSeconds: 30,
  drain: 10,
  clusterNodes: 3, replicas: 3,
  clusterModes: 'pinned,unpinned',
  clusterGroup: false,
  // The chat nodes' --fsync (docs/RELIABILITY.md): run once per mode to compare their costs.
  fsync: 'never',
  // Overload: the cluster driven past saturation.
  overloadSeconds: 10, overloadPairs: 200, overloadWindow: 50, overloadBackoffMs: 100,
  maxLagMs: -1, maxInflightWrites: -1,
  // Stored data (--full): 1:1 on an empty node, then on one holding `stored` messages.
  full: false, stored: 1_000_000, storedWindow: 64,
  only: 'relay,standalone,cluster,overload',
  pin: 'auto',
  json: '',
  cpuProf: '',
  nodeFlags: '',
  root: '',
}

export const HELP = `usage: npm run bench -- [flags]

workloads (run ${DEFAULTS.runs} times each; the tables show medians)
  --pairs N              1:1 sender/receiver pairs (default ${DEFAULTS.pairs}); 0 skips 1:1
  --msgs N               messages each 1:1 sender sends per run (default ${DEFAULTS.msgs})
  --window N             sends each sender keeps unacknowledged (default ${DEFAULTS.window})
  --groups N             groups of the group workload (default ${DEFAULTS.groups}); 0 skips it
  --group-size N         members of each group (default ${DEFAULTS.groupSize})
  --group-senders N      members of each group that send (default ${DEFAULTS.groupSenders})
  --group-msgs N         messages each group sender sends per run (default ${DEFAULTS.groupMsgs})
  --light-pairs N        pairs of the light (latency) workload, one send in flight (default ${DEFAULTS.lightPairs}); 0 skips it
  --light-msgs N         messages each light sender sends per run (default ${DEFAULTS.lightMsgs})
  --light-max-seconds N  a light run stops sending after N s (default ${DEFAULTS.lightMaxSeconds}: a 3-node cluster on this
                         kind of machine has sent 700-1,300 messages by then, enough for a p99; the others finish first)
  --unloaded-msgs N      messages of the unloaded workload per run: one pair, one message at a time, paced (default ${DEFAULTS.unloadedMsgs}); 0 skips it
  --unloaded-gap-ms N    least time between two of its sends (default ${DEFAULTS.unloadedGapMs})
  --idle N               idle logged-in sockets for the memory figure (default ${DEFAULTS.idle}); 0 skips it
  --text-bytes N         length of every message text (default ${DEFAULTS.textBytes})
  --text words|repeat    sentences of Zipf-distributed words (indexed for search as people's are), or one letter repeated (default ${DEFAULTS.text})
  --runs N               runs of each workload (default ${DEFAULTS.runs})
  --warmup-msgs N        unmeasured messages per sender before the first run (default ${DEFAULTS.warmupMsgs})
  --max-seconds N        a run stops sending after N s even if short of its count (default ${DEFAULTS.maxSeconds})
  --cluster-max-seconds N  the same for the cluster's runs, at most --max-seconds (default ${DEFAULTS.clusterMaxSeconds})
  --settle-seconds N     before each workload's runs, wait up to N s for the server to go idle (under 5% of a core per
                         process): what the workload before it left to do (sockets closing, LevelDB writing out what
                         it stored) is not charged to it (default ${DEFAULTS.settleSeconds}; 0 does not wait)
  --drain N              seconds to wait for the pushes of acknowledged messages (default ${DEFAULTS.drain})

systems
  --only LIST            relay, standalone, cluster, overload, comma separated (default all)
  --cluster-nodes N      nodes of the cluster (default ${DEFAULTS.clusterNodes})
  --replicas N           replicas of the cluster (default ${DEFAULTS.replicas})
  --cluster-modes LIST   pinned (servers on one core, like the relay), unpinned (all cores) (default ${DEFAULTS.clusterModes})
  --cluster-group        also run the group workload on the cluster
  --fsync MODE           the chat nodes' --fsync: never, batch or always (default ${DEFAULTS.fsync}); one run per mode compares their costs
  --pin auto|off         taskset: servers on one core, load generator on another (default ${DEFAULTS.pin})
  --root DIR             measure the build in another checkout (its bin/chat-node and dist/)

overload (a cluster driven past saturation; --overload-seconds 0 skips it)
  --overload-seconds N   seconds of driving (default ${DEFAULTS.overloadSeconds})
  --overload-pairs N     sender/receiver pairs (default ${DEFAULTS.overloadPairs})
  --overload-window N    sends each sender keeps unacknowledged (default ${DEFAULTS.overloadWindow})
  --overload-backoff-ms N  pause before a refused (UNAVAILABLE) send is retried, same clientMsgId (default ${DEFAULTS.overloadBackoffMs})
  --max-lag-ms N         passed to the nodes (admission control; default: the node's own)
  --max-inflight-writes N  passed to the nodes (default: the node's own)

stored data
  --full                 also run 1:1 on an empty node and on one holding --stored messages
  --stored N             messages stored before the second measurement (default ${DEFAULTS.stored.toLocaleString('en-US')})
  --stored-window N      sends in flight per loader (default ${DEFAULTS.storedWindow})

output
  --json PATH            where the JSON results go (default: a file in the temp directory)
  --cpu-prof DIR         run every chat node with --cpu-prof; each writes a .cpuprofile into DIR when stopped
  --node-flags "F ..."   Node.js flags for every chat node, space-separated (V8 tuning: --max-semi-space-size=32,
                         --single-threaded-gc; a preloaded probe: --import FILE); the relay keeps its defaults`

const TARGETS = ['relay', 'standalone', 'cluster', 'overload']
const MODES = ['pinned', 'unpinned']

function list(value, allowed, flag) {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean)
  for (const i of items) if (!allowed.includes(i)) throw new Error(`${flag}: unknown ${i} (one of ${allowed.join(', ')})`)
  return items
}

export function parseArgs(argv) {
  const opts = { ...DEFAULTS }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--help' || arg === '-h') {
      console.log(HELP)
      process.exit(0)
    }
    const key = arg.replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    if (!arg.startsWith('--') || !(key in DEFAULTS)) throw new Error(`unknown flag ${arg}\n\n${HELP}`)
    if (typeof DEFAULTS[key] === 'boolean') opts[key] = true
    else if (typeof DEFAULTS[key] === 'string') opts[key] = argv[++i] ?? ''
    else {
      const v = Number(argv[++i])
      if (!Number.isFinite(v) || v < 0) throw new Error(`${arg} needs a number >= 0`)
      opts[key] = v
    }
  }
  opts.targets = list(opts.only, TARGETS, '--only')
  opts.modes = list(opts.clusterModes, MODES, '--cluster-modes')
  if (!['auto', 'off'].includes(opts.pin)) throw new Error('--pin: auto or off')
  if (!['words', 'repeat'].includes(opts.text)) throw new Error('--text: words or repeat')
  if (!['never', 'batch', 'always'].includes(opts.fsync)) throw new Error('--fsync: never, batch or always')
  opts.runs = Math.max(1, Math.floor(opts.runs))
  opts.window = Math.max(1, opts.window)
  opts.groupSenders = Math.max(1, Math.min(opts.groupSenders, opts.groupSize))
  if (opts.groups > 0 && opts.groupSize < 2) opts.groups = 0
  if (opts.textBytes < 1) throw new Error('--text-bytes must be at least 1')
  opts.root = opts.root ? resolve(opts.root) : ''
  return opts
}

/** Users a target needs: both sides of every pair, every group member (groups are disjoint). */
export function usersNeeded(opts, kind) {
  const measured = kind !== 'cluster' || opts.targets.includes('cluster')
  const pairs = Math.max(measured ? Math.max(opts.pairs, opts.lightPairs) : 0,
    kind === 'cluster' && opts.targets.includes('overload') ? opts.overloadPairs : 0)
  const groups = measured && (kind !== 'cluster' || opts.clusterGroup) ? opts.groups * opts.groupSize : 0
  return Math.max(2 * pairs, groups, 2)
}
