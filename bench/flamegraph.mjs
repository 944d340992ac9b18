#!/usr/bin/env node
/**
 * Draws a flame graph (SVG) from V8 CPU profiles, the `.cpuprofile` files that `npm run bench --
 * --cpu-prof DIR` (or `node --cpu-prof`) writes, so a profile can sit in the docs as an image:
 *
 *   node bench/flamegraph.mjs --title "standalone 1:1" --out docs/perf/x.svg DIR/*.cpuprofile
 *
 * Several profiles are summed into one graph (frames merged by function and place). Time in
 * `(idle)` is left out: the graph is the process's busy time. Each box is a function in the stack
 * that was sampled, as wide as its share of the busy time, its callers below it; frames narrower
 * than `--min-pct` of the whole are dropped (their time stays in their caller's width). Hovering a
 * box in a browser shows its name, place, time and share. Colours say whose code it is: this
 * project's (orange), a dependency's (yellow), Node.js's own (blue), V8's and native (red).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const WIDTH = 1200
const ROW = 16
const TOP = 44
const CHAR_PX = 6.6

/** A frame's label: its function and where it is, shortened to the part a reader knows. */
export function frameLabel(callFrame) {
  const name = callFrame.functionName || '(anonymous)'
  if (!callFrame.url) return name
  let url = callFrame.url.replace(/^file:\/\//, '')
  const nm = url.indexOf('/node_modules/')
  const dist = url.lastIndexOf('/dist/')
  if (nm >= 0) url = url.slice(nm + 1)
  else if (dist >= 0) url = url.slice(dist + 1)
  else if (url.startsWith(`${process.cwd()}/`)) url = url.slice(process.cwd().length + 1)
  return `${name} ${url}:${callFrame.lineNumber + 1}`
}

/** Whose code a label is: 'ours', 'dependency', 'node' or 'native'. */
export function kindOf(label) {
  if (label.includes(' node_modules/')) return 'dependency'
  if (label.includes(' node:')) return 'node'
  if (label.includes(' dist/') || label.includes(' src/') || label.includes(' bin/')) return 'ours'
  return 'native'
}

/** Each sample's time in seconds since the profile's first sample. */
function sampleTimes(profile) {
  const times = new Array(profile.samples.length)
  let t = 0
  for (let i = 0; i < profile.samples.length; i++) {
    if (i > 0) t += profile.timeDeltas[i] ?? 0
    times[i] = t / 1e6
  }
  return times
}

/** Busy milliseconds in each second of a profile (samples not in `(idle)`): to choose a window. */
export function busyTimeline(profile) {
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id))
  const times = sampleTimes(profile)
  const perSecond = []
  for (let i = 0; i < profile.samples.length; i++) {
    if (idle.has(profile.samples[i])) continue
    const s = Math.floor(times[i])
    perSecond[s] = (perSecond[s] ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000
  }
  return Array.from(perSecond, (v) => v ?? 0)
}

/**
 * Sums profiles into one tree of { label, total, self, children: Map } in microseconds, merging
 * frames of the same label under the same caller and leaving `(idle)` out. With `from`/`to`
 * (seconds since each profile's first sample) only the samples between them count.
 */
export function foldProfiles(profiles, { from = 0, to = Infinity } = {}) {
  const root = { label: 'all', total: 0, self: 0, children: new Map() }
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]))
    const self = new Map()
    const times = sampleTimes(profile)
    for (let i = 0; i < profile.samples.length; i++) {
      if (times[i] < from || times[i] >= to) continue
      self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0))
    }
    const visit = (node, into) => {
      const label = frameLabel(node.callFrame)
      if (label === '(idle)') return
      let target = into
      if (label !== '(root)') {
        target = into.children.get(label)
        if (!target) into.children.set(label, (target = { label, total: 0, self: 0, children: new Map() }))
        target.self += Math.max(0, self.get(node.id) ?? 0)
      }
      for (const child of node.children ?? []) visit(byId.get(child), target)
    }
    const called = new Set(profile.nodes.flatMap((n) => n.children ?? []))
    for (const top of profile.nodes) if (!called.has(top.id)) visit(top, root)
  }
  const sum = (frame) => {
    frame.total = frame.self
    for (const child of frame.children.values()) frame.total += sum(child)
    return frame.total
  }
  sum(root)
  return root
}

const escapeXml = (text) => text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c])

function hash(text) {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h
}

const HUES = { ours: [18, 40], dependency: [48, 62], node: [195, 225], native: [0, 12] }

function colourOf(label) {
  const kind = kindOf(label)
  const [from, to] = HUES[kind]
  const h = hash(label)
  return `hsl(${from + (h % (to - from + 1))}, ${kind === 'node' ? 55 : 78}%, ${60 + ((h >>> 8) % 14)}%)`
}

/** The SVG of a folded tree: the root at the bottom, callees above their callers. */
export function renderSvg(root, { title = 'CPU profile', minPct = 0.1 } = {}) {
  const minTotal = (root.total * minPct) / 100
  const boxes = []
  let depth = 0
  const place = (frame, x, level) => {
    depth = Math.max(depth, level)
    boxes.push({ frame, x, level })
    let at = x
    const children = [...frame.children.values()].sort((a, b) => (a.label < b.label ? -1 : 1))
    for (const child of children) {
      if (child.total >= minTotal) place(child, at, level + 1)
      at += child.total
    }
  }
  place(root, 0, 0)
  const height = TOP + (depth + 1) * ROW + 24
  const scale = root.total > 0 ? (WIDTH - 20) / root.total : 0
  const ms = (us) => (us / 1000).toLocaleString('en-US', { maximumFractionDigits: us >= 10_000 ? 0 : 1 })
  const pct = (us) => (root.total > 0 ? ((100 * us) / root.total).toFixed(2) : '0')
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Verdana, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fdfdf8"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
    `<text x="${WIDTH / 2}" y="36" text-anchor="middle" fill="#555">busy ${ms(root.total)} ms (idle left out); frames under ${minPct}% not drawn; orange: this project, yellow: dependencies, blue: Node.js, red: V8 and native</text>`,
  ]
  for (const { frame, x, level } of boxes) {
    const w = frame.total * scale
    const px = 10 + x * scale
    const py = height - 24 - (level + 1) * ROW
    const tip = `${frame.label}: ${ms(frame.total)} ms, ${pct(frame.total)}% (self ${ms(frame.self)} ms, ${pct(frame.self)}%)`
    const fill = level === 0 ? '#ddd' : colourOf(frame.label)
    out.push(`<g><title>${escapeXml(tip)}</title><rect x="${px.toFixed(1)}" y="${py}" width="${Math.max(0.3, w - 0.5).toFixed(1)}" height="${ROW - 1}" fill="${fill}" rx="1"/>`)
    const fits = Math.floor((w - 6) / CHAR_PX)
    if (fits >= 3) {
      const text = frame.label.length <= fits ? frame.label : `${frame.label.slice(0, fits - 2)}..`
      out.push(`<text x="${(px + 3).toFixed(1)}" y="${py + 11.5}">${escapeXml(text)}</text>`)
    }
    out.push('</g>')
  }
  out.push('</svg>')
  return out.join('\n')
}

const USAGE = `usage: node bench/flamegraph.mjs [--title T] [--out FILE.svg] [--min-pct P] PROFILE.cpuprofile...
  --title T      the graph's heading (default: the profiles' names)
  --out FILE     where to write the SVG (default: standard output)
  --min-pct P    frames narrower than P% of the busy time are not drawn (default 0.1)
  --from S       count only samples at least S seconds after each profile's first one
  --to S         and before S seconds
  --timeline     print each profile's busy milliseconds per second instead (to choose --from/--to)`

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({
    options: {
      title: { type: 'string' }, out: { type: 'string' }, 'min-pct': { type: 'string', default: '0.1' },
      from: { type: 'string', default: '0' }, to: { type: 'string', default: 'Infinity' }, timeline: { type: 'boolean' }, help: { type: 'boolean' },
    },
    allowPositionals: true,
  })
  if (values.help || positionals.length === 0) {
    console.log(USAGE)
    process.exit(values.help ? 0 : 2)
  }
  const number = (flag) => {
    const n = Number(values[flag])
    if (Number.isNaN(n) || n < 0) {
      console.error(`--${flag} must be a number >= 0, not ${values[flag]}`)
      process.exit(2)
    }
    return n
  }
  const minPct = number('min-pct')
  const window = { from: number('from'), to: number('to') }
  const profiles = positionals.map((file) => {
    try {
      const profile = JSON.parse(readFileSync(file, 'utf8'))
      if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples)) throw new Error('not a V8 CPU profile (no nodes and samples)')
      return profile
    } catch (err) {
      console.error(`${file}: ${err.message}`)
      process.exit(1)
    }
  })
  if (values.timeline) {
    profiles.forEach((profile, i) => console.log(`${positionals[i]}: busy ms per second: ${busyTimeline(profile).map((ms) => Math.round(ms)).join(' ')}`))
    process.exit(0)
  }
  const svg = renderSvg(foldProfiles(profiles, window), { title: values.title ?? positionals.join(', '), minPct })
  if (values.out) writeFileSync(values.out, svg)
  else process.stdout.write(svg)
}
