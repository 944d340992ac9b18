/**
 * Error codes come from one module and are all documented: every code of src/protocol/codes.ts
 * has a row in docs/ERRORS.md with the same status and retry advice, every code the contract
 * names exists, and the factory builds each code with its status.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ChatError, ERROR_CODES, type ErrorCode, asChatError, errors, fromWire } from '../../src/errors.js'
import { isErrorCode } from '../../src/protocol/codes.js'
import { ROOT } from '../helpers/node-process.js'

const CODES = Object.keys(ERROR_CODES) as ErrorCode[]
const ERRORS_MD = join(ROOT, 'docs', 'ERRORS.md')
const PROTOCOL_MD = join(ROOT, '..', 'shared', 'PROTOCOL.md')

/** Rows of the docs table: `| \`CODE\` | status | yes/no | when |`. */
function documentedRows(markdown: string): Map<string, { status: number; retry: boolean; when: string }> {
  const rows = new Map<string, { status: number; retry: boolean; when: string }>()
  for (const line of markdown.split('\n')) {
    const m = /^\|\s*`([A-Z_]+)`\s*\|\s*(\d{3})\s*\|\s*(yes|no)\s*\|(.+)\|\s*$/.exec(line)
    if (m) rows.set(m[1]!, { status: Number(m[2]), retry: m[3] === 'yes', when: m[4]!.trim() })
  }
  return rows
}

/**
 * Codes the contract names in its HTTP and WebSocket sections: upper-case words in backquotes,
 * except environment variables (`CHAT_...`) and gRPC status names (written "gRPC `NAME`").
 */
function contractCodes(markdown: string): Set<string> {
  const from = markdown.indexOf('## 2.')
  const text = from >= 0 ? markdown.slice(from) : markdown
  const codes = new Set<string>()
  for (const m of text.matchAll(/(gRPC\s+)?`([A-Z][A-Z_]{3,})`/g)) {
    if (m[1] || m[2]!.startsWith('CHAT_')) continue
    codes.add(m[2]!)
  }
  return codes
}

t.test('every error code is documented in docs/ERRORS.md with its status and retry advice', async (t) => {
  t.ok(existsSync(ERRORS_MD), 'docs/ERRORS.md exists')
  const rows = documentedRows(readFileSync(ERRORS_MD, 'utf8'))
  for (const code of CODES) {
    const row = rows.get(code)
    if (!row) {
      t.fail(`${code} is not documented in docs/ERRORS.md`)
      continue
    }
    t.equal(row.status, ERROR_CODES[code].status, `${code}: documented status`)
    t.equal(row.retry, ERROR_CODES[code].retryable, `${code}: documented retry advice`)
    t.ok(row.when.length > 20, `${code}: says when it happens`)
  }
  for (const code of rows.keys()) t.ok(isErrorCode(code), `docs/ERRORS.md documents ${code}, which exists`)
})

t.test('every code is in the contract or in docs/ERRORS.md, and every contract code exists', async (t) => {
  const documented = documentedRows(readFileSync(ERRORS_MD, 'utf8'))
  if (!existsSync(PROTOCOL_MD)) {
    // The contract lives beside the repository; without it, docs/ERRORS.md must carry everything.
    for (const code of CODES) t.ok(documented.has(code), `${code} documented`)
    return
  }
  const contract = contractCodes(readFileSync(PROTOCOL_MD, 'utf8'))
  t.ok(contract.size >= 8, 'the contract names its error codes')
  for (const code of CODES) t.ok(contract.has(code) || documented.has(code), `${code} is in the contract or docs/ERRORS.md`)
  for (const code of contract) t.ok(isErrorCode(code), `the contract's ${code} is a code of src/protocol/codes.ts`)
})

t.test('the factory makes every code with its status and retry flag', async (t) => {
  const made: ChatError[] = [
    errors.badRequest('x'), errors.badFrame('x'), errors.unauthorized(), errors.forbidden('x'), errors.notFound('x'),
    errors.usernameTaken('alice'), errors.groupFull(3), errors.messageTooLarge(10), errors.rateLimited(),
    errors.unavailable(), errors.internal(), new ChatError('PAYLOAD_TOO_LARGE', 'big'), errors.limitReached('x'),
  ]
  t.same(new Set(made.map((e) => e.code)), new Set(CODES), 'every code can be made')
  for (const e of made) {
    t.ok(e instanceof Error && e instanceof ChatError)
    t.equal(e.status, ERROR_CODES[e.code].status, `${e.code} status`)
    t.equal(e.retryable, ERROR_CODES[e.code].retryable, `${e.code} retryable`)
    t.same(JSON.parse(JSON.stringify(e)), { code: e.code, message: e.message }, `${e.code} serializes to the contract's error body`)
  }
  t.match(errors.groupFull(3).message, /3/)
  t.match(errors.usernameTaken('alice').message, /alice/)
  t.equal(errors.rateLimited('slow down', 7).retryAfterSec, 7, 'a refusal can say when to retry')
  for (const [code, { status }] of Object.entries(ERROR_CODES)) {
    t.ok(status >= 400 && status < 600, `${code} has an error status`)
  }
})

t.test('unknown failures become INTERNAL without leaking details; wire errors round-trip', async (t) => {
  const bug = new TypeError('cannot read properties of undefined (secret detail)')
  const e = asChatError(bug)
  t.equal(e.code, 'INTERNAL')
  t.equal(e.status, 500)
  t.notMatch(e.message, /secret detail/, 'the message does not leak the cause')
  t.equal(e.cause, bug, 'the cause is kept for the log')
  const known = errors.forbidden('nope')
  t.equal(asChatError(known), known, 'a ChatError passes through')
  t.match(fromWire({ code: 'GROUP_FULL', message: 'full' }), { code: 'GROUP_FULL', status: 422, message: 'full' })
  t.match(fromWire({ code: 'NO_SUCH_CODE', message: 'odd' }), { code: 'INTERNAL', status: 500 })
  t.notOk(isErrorCode('toString'), 'inherited names are not codes')
})
