/**
 * The layers point down (docs/ARCHITECTURE.md): every relative import in src/ is checked against
 * the layers each directory may use. In particular the cluster reaches sockets only through
 * LocalSessions, which the gateway implements, and never imports the gateway.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import t from 'tap'

const SRC = resolve(import.meta.dirname, '..', '..', 'src')

/**
 * Directory (or file, at the top) -> what its imports may reach (layers, or single files by their
 * path under src/); anything under itself always.
 */
const ALLOWED: Record<string, string[]> = {
  protocol: [],
  'clock.ts': [],
  'random.ts': [],
  'clock-virtual.ts': ['clock.ts'],
  'errors.ts': ['protocol'],
  storage: ['clock.ts'],
  actors: ['clock.ts', 'random.ts', 'errors.ts', 'protocol', 'storage', 'push'],
  // Push keeps the cluster's VAPID key in NATS, so it uses the cluster's NATS credentials (that one
  // file, which imports nothing of the project), and nothing else of the cluster.
  push: ['actors', 'cluster/nats-auth.ts', 'clock.ts', 'random.ts', 'errors.ts', 'protocol', 'storage', 'config.ts', 'metrics.ts'],
  cluster: ['actors', 'clock.ts', 'random.ts', 'errors.ts', 'protocol', 'storage', 'config.ts'],
  gateway: ['actors', 'cluster', 'clock.ts', 'random.ts', 'errors.ts', 'protocol', 'storage', 'push', 'config.ts', 'metrics.ts'],
  client: ['protocol'],
  // Operator tooling (backup, restore, compact, status) works on one node's storage and cluster.
  ops: ['cluster', 'clock.ts', 'errors.ts', 'storage', 'config.ts', 'version.ts'],
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

/** The layer of a path under src/: its top directory, or the file itself at the top. */
function layer(path: string): string {
  return relative(SRC, path).split('/')[0]!
}

t.test('every import in src/ goes to an allowed layer', async (t) => {
  const wrong: string[] = []
  let checked = 0
  for (const file of files(SRC)) {
    const from = layer(file)
    const allowed = ALLOWED[from]
    if (!allowed) continue
    for (const m of readFileSync(file, 'utf8').matchAll(/^(?:import|export)\b[^;]*?from '(\.[^']+)'/gm)) {
      const target = resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'))
      const to = layer(target)
      checked++
      if (to !== from && !allowed.includes(to) && !allowed.includes(relative(SRC, target))) wrong.push(`${relative(SRC, file)} imports ${m[1]} (${from} -> ${to})`)
    }
  }
  t.ok(checked > 100, `${checked} imports checked`)
  t.same(wrong, [], 'no import against the layering')
})
