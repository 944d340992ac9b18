#!/usr/bin/env node
// Longer chaos runs: npm run chaos -- --minutes N --seed S
// Runs test/chaos/chaos.test.ts (the same run the test suite makes, bounded there) with the given
// length and seed; prints the seed, the figures and every violation found.
import { spawn } from 'node:child_process'

const args = process.argv.slice(2)
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback
}
const minutes = Number(opt('minutes', '3'))
const seed = Number(opt('seed', String(Date.now() % 1_000_000)))
if (!Number.isFinite(minutes) || minutes <= 0 || !Number.isInteger(seed)) {
  console.error('usage: npm run chaos -- [--minutes N] [--seed S]')
  process.exit(2)
}
const seconds = Math.round(minutes * 60)
console.log(`chaos: ${minutes} min, seed ${seed}`)
const child = spawn('npx', ['tap', 'test/chaos/chaos.test.ts', '--timeout', String(seconds + 600), '--reporter', 'tap'], {
  stdio: 'inherit', env: { ...process.env, CHAOS_SECONDS: String(seconds), CHAOS_SEED: String(seed) },
})
child.on('exit', (code) => process.exit(code ?? 1))
