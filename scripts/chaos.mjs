#!/usr/bin/env node
// Longer chaos runs: npm run chaos -- --minutes N --seed S [--nemesis crash|partition]
// Runs the bounded chaos test of the suite with the given length and seed: test/chaos/chaos.test.ts
// (crashes: SIGKILL, wipe, SIGSTOP, NATS restarts) or test/chaos/partition.test.ts (network cuts
// in namespaces; needs root, iproute2 and nftables). Prints the seed, the figures and every violation.
import { spawn } from 'node:child_process'

const args = process.argv.slice(2)
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback
}
const minutes = Number(opt('minutes', '3'))
const seed = Number(opt('seed', String(Date.now() % 1_000_000)))
const nemesis = opt('nemesis', 'crash')
const files = { crash: 'test/chaos/chaos.test.ts', partition: 'test/chaos/partition.test.ts' }
if (!Number.isFinite(minutes) || minutes <= 0 || !Number.isInteger(seed) || !files[nemesis]) {
  console.error('usage: npm run chaos -- [--minutes N] [--seed S] [--nemesis crash|partition]')
  process.exit(2)
}
const seconds = Math.round(minutes * 60)
console.log(`chaos: ${minutes} min, seed ${seed}, ${nemesis} nemesis`)
const child = spawn('npx', ['tap', files[nemesis], '--timeout', String(seconds + 600), '--reporter', 'tap'], {
  stdio: 'inherit', env: { ...process.env, CHAOS_SECONDS: String(seconds), CHAOS_SEED: String(seed) },
})
child.on('exit', (code) => process.exit(code ?? 1))
