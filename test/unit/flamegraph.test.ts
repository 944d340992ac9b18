// bench/flamegraph.mjs, run as a reader of docs/PERFORMANCE.md runs it: a small CPU profile in,
// an SVG whose boxes carry each frame's time and share out, idle time left out, a window of the
// profile chosen by time, and a file that is not a profile refused.
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)
const TOOL = join(import.meta.dirname, '../../bench/flamegraph.mjs')
const dir = mkdtempSync(join(tmpdir(), 'chat-flame-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0, scriptId: '0' })
// (root) calls send (ours), which calls put (a dependency); idle and garbage collection beside.
// One sample a second: send's self at 2 s, put at 0 and 1 s, idle at 3 and 4 s, GC at 5 s.
const profile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 5] },
    { id: 2, callFrame: frame('send', 'file:///srv/chat/dist/actors/channel.js', 41), children: [4] },
    { id: 3, callFrame: frame('(idle)') },
    { id: 4, callFrame: frame('put', 'file:///srv/chat/node_modules/classic-level/chained-batch.js', 12) },
    { id: 5, callFrame: frame('(garbage collector)') },
  ],
  startTime: 0,
  endTime: 6e6,
  samples: [4, 4, 2, 3, 3, 5],
  timeDeltas: [1e6, 1e6, 1e6, 1e6, 1e6, 1e6],
}
const file = join(dir, 'node.cpuprofile')
writeFileSync(file, JSON.stringify(profile))

/** Each box's hover text and width, by the frame's label. */
function boxes(svg: string): Map<string, { tip: string; width: number; fill: string }> {
  const out = new Map<string, { tip: string; width: number; fill: string }>()
  for (const m of svg.matchAll(/<g><title>([^<]*)<\/title><rect [^>]*width="([\d.]+)"[^>]*fill="([^"]+)"/g)) {
    out.set(m[1]!.slice(0, m[1]!.indexOf(': ')), { tip: m[1]!, width: Number(m[2]), fill: m[3]! })
  }
  return out
}

t.test('the whole profile: busy time only, each frame as wide as its share', async (t) => {
  const out = join(dir, 'all.svg')
  await run(process.execPath, [TOOL, '--title', 'a test profile', '--out', out, file])
  const svg = readFileSync(out, 'utf8')
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/, 'an SVG')
  t.match(svg, />a test profile</, 'headed by its title')
  t.match(svg, /busy 4,000 ms \(idle left out\)/, 'four of the six seconds were busy')
  const b = boxes(svg)
  t.notOk([...b.keys()].some((label) => label.includes('idle')), 'no idle box')
  t.equal(b.get('send dist/actors/channel.js:42')?.tip, 'send dist/actors/channel.js:42: 3,000 ms, 75.00% (self 1,000 ms, 25.00%)', 'our function: its callees in its width, its own time apart')
  t.equal(b.get('put node_modules/classic-level/chained-batch.js:13')?.tip, 'put node_modules/classic-level/chained-batch.js:13: 2,000 ms, 50.00% (self 2,000 ms, 50.00%)', 'a dependency, named by its package')
  t.equal(b.get('(garbage collector)')?.tip, '(garbage collector): 1,000 ms, 25.00% (self 1,000 ms, 25.00%)')
  const all = b.get('all')!.width
  t.ok(Math.abs(b.get('send dist/actors/channel.js:42')!.width / all - 0.75) < 0.01, 'widths follow the shares')
  t.match(b.get('send dist/actors/channel.js:42')!.fill, /^hsl\((1[89]|[23]\d|40),/, 'ours in orange')
  t.match(b.get('put node_modules/classic-level/chained-batch.js:13')!.fill, /^hsl\((4[89]|5\d|6[012]),/, 'a dependency in yellow')
})

t.test('a window of the profile, and the timeline to choose it', async (t) => {
  const { stdout } = await run(process.execPath, [TOOL, '--from', '2', '--to', '5', file])
  const b = boxes(stdout)
  t.equal(b.get('send dist/actors/channel.js:42')?.tip, 'send dist/actors/channel.js:42: 1,000 ms, 100.00% (self 1,000 ms, 100.00%)', 'only the samples from 2 s to 5 s')
  t.notOk(b.has('put node_modules/classic-level/chained-batch.js:13'), 'nothing from before the window')
  t.notOk(b.has('(garbage collector)'), 'nor after it')
  const timeline = await run(process.execPath, [TOOL, '--timeline', file])
  t.equal(timeline.stdout.trim(), `${file}: busy ms per second: 1000 1000 1000 0 0 1000`)
})

t.test('narrow frames are not drawn; a file that is not a profile is refused', async (t) => {
  const { stdout } = await run(process.execPath, [TOOL, '--min-pct', '30', file])
  t.notOk(boxes(stdout).has('(garbage collector)'), 'a frame under --min-pct is left out')
  t.ok(boxes(stdout).has('send dist/actors/channel.js:42'), 'wider ones stay')
  const notProfile = join(dir, 'other.json')
  writeFileSync(notProfile, '{"hello":1}')
  const refused = await run(process.execPath, [TOOL, notProfile]).then(() => null, (err: { code: number; stderr: string }) => err)
  t.equal(refused?.code, 1, 'exits 1')
  t.match(refused?.stderr, /not a V8 CPU profile/, 'and says why')
})
