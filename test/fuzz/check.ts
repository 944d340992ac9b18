/** What every reply of a fuzzed node must look like, and the health checks after a run. */
import { ERROR_CODES } from '../../src/protocol/codes.js'
import type { NodeProcess } from '../helpers/node-process.js'

const SERVER_OPS = new Set(['ack', 'sync', 'history', 'ok', 'presence', 'pong', 'error', 'message', 'member_added', 'member_removed', 'read', 'ready'])

/** A reason the frame breaks the contract, or null. */
export function badFrame(f: any): string | null {
  if (typeof f !== 'object' || f === null) return 'not an object'
  if (!SERVER_OPS.has(f.op)) return `unknown op ${String(f.op).slice(0, 40)}`
  if (f.op !== 'error') return null
  return badError(f)
}

/** A reason an error body (`{code, message}`) breaks the contract, or null. */
export function badError(e: any, status?: number): string | null {
  if (!Object.hasOwn(ERROR_CODES, e?.code)) return `unknown code ${String(e?.code)}`
  if (e.code === 'INTERNAL') return 'INTERNAL: a bug answered a client'
  if (status !== undefined && ERROR_CODES[e.code as keyof typeof ERROR_CODES].status !== status) return `${e.code} with status ${status}`
  if (typeof e.message !== 'string' || e.message.length > 260) return `message missing or too long (${String(e.message).length})`
  if (/RangeError|TypeError|SyntaxError|ReferenceError|stack|    at /.test(e.message)) return `internal text in message: ${e.message.slice(0, 80)}`
  return null
}

/** Log lines that mean the node itself failed (a bug), not that a client was refused. */
export function bugLines(node: NodeProcess): string[] {
  return node.lines.filter((l) => {
    try {
      const j = JSON.parse(l)
      return j.level >= 50
    } catch {
      return /Error|at /.test(l)
    }
  })
}
