/** Runs `bin/chat-node` operator commands (backup, restore, compact, members) as a child process. */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { BIN } from './node-process.js'

const run = promisify(execFile)

/** Runs `chat-node <args>`; resolves with its exit code and output, whatever the code. */
export async function chatNode(args: string[], timeout = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    // As in node-process.ts: the test runner's loader hooks must not reach the binary.
    const { stdout, stderr } = await run('env', ['-u', 'NODE_OPTIONS', process.execPath, BIN, ...args], { timeout })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}
