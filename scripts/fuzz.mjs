// `npm run fuzz -- --runs N [--seed S]`: the fuzz tests (test/fuzz/) with more inputs than the
// bounded run of `npm test`. A failure prints its seed; pass it back with --seed to replay it.
import { spawn } from 'node:child_process'

const args = process.argv.slice(2)
const value = (flag, fallback) => {
  const i = args.indexOf(flag)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback
}
const runs = Number(value('--runs', '2000'))
const seed = value('--seed', undefined)
if (!Number.isInteger(runs) || runs < 1) {
  console.error('usage: npm run fuzz -- --runs N [--seed S]')
  process.exit(2)
}
// Time for the node to answer every input (generously), and for tap to wait for it.
const timeMs = Math.max(80_000, runs * 100)
const env = { ...process.env, FUZZ_RUNS: String(runs), FUZZ_TIME_MS: String(timeMs), ...(seed === undefined ? {} : { FUZZ_SEED: seed }) }
const child = spawn('npx', ['tap', 'test/fuzz/ws.test.ts', 'test/fuzz/http.test.ts', '--timeout', String(Math.ceil(timeMs / 1000) + 120), '--reporter', 'tap'], { env, stdio: 'inherit' })
child.on('exit', (code) => process.exit(code ?? 1))
