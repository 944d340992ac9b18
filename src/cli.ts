/**
 * `chat-node`: flags and environment to a running node. A bad flag is one line on stderr and
 * exit code 2 before anything starts; SIGTERM and SIGINT stop the node gracefully (exit 0).
 */
import { ConfigError, parseConfig, usage } from './config.js'
import { createLogger } from './log.js'
import type { ChatNode } from './node.js'
import { StorageLockedError } from './storage/kv.js'

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  exitWithParent(env.CHAT_EXIT_WITH_PARENT)
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage() + '\n')
    return
  }
  const command = argv[0]
  if (command === 'dev-certs') {
    const { DevCertsError, runDevCerts } = await import('./cluster/dev-certs.js')
    process.umask(0o077)
    try {
      process.stdout.write((await runDevCerts(argv.slice(1))) + '\n')
      process.exit(0)
    } catch (err) {
      process.stderr.write(`chat-node dev-certs: ${(err as Error).message}\n`)
      process.exit(err instanceof DevCertsError ? 2 : 1)
    }
  }
  if (command === 'members' || command === 'remove') {
    const { AdminError, runAdmin } = await import('./cluster/admin.js')
    try {
      process.stdout.write((await runAdmin(command, argv.slice(1), env)) + '\n')
      process.exit(0)
    } catch (err) {
      process.stderr.write(`chat-node ${command}: ${(err as Error).message}\n`)
      process.exit(err instanceof AdminError ? 2 : 1)
    }
  }
  if (command === 'backup' || command === 'restore' || command === 'compact' || command === 'status') {
    const { OpsError, runOps } = await import('./ops/commands.js')
    // A backup file and a restored data dir hold the same secrets as the node's own data dir.
    process.umask(0o077)
    try {
      process.stdout.write((await runOps(command, argv.slice(1), env)) + '\n')
      process.exit(0)
    } catch (err) {
      process.stderr.write(`chat-node ${command}: ${(err as Error).message}\n`)
      process.exit(err instanceof OpsError ? 2 : 1)
    }
  }
  // Everything the node writes (LevelDB files, certificates it makes) is for its own user only.
  process.umask(0o077)
  let config
  try {
    config = parseConfig(argv, env)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`chat-node: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  const log = createLogger(config.logLevel, config.id)
  let node: ChatNode
  try {
    // Loaded only now: a bad flag is answered before the node's dependencies load.
    const { ChatNode } = await import('./node.js')
    node = await ChatNode.start(config, { log })
  } catch (err) {
    const message = err instanceof StorageLockedError ? err.message : `failed to start: ${(err as Error).message}`
    log.fatal({ err }, message)
    process.stderr.write(`chat-node: ${message}\n`)
    process.exit(1)
  }
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'leaving')
    node.stop().then(() => process.exit(0), (err) => {
      log.error({ err }, 'stop failed')
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

/**
 * `CHAT_EXIT_WITH_PARENT=1`: the process ends at once, as a crash would, when the process that
 * started it is gone (it was reparented), so that a test runner or benchmark killed before its
 * cleanup leaves no node behind.
 */
function exitWithParent(flag: string | undefined): void {
  if (flag !== '1') return
  const parent = process.ppid
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL')
  }, 1000).unref()
}
