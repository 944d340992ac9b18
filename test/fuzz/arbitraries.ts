/**
 * Inputs for the fuzz tests: random and mutated WebSocket frames and HTTP requests, built around
 * the real shapes (so that most inputs get past JSON parsing and reach the interesting checks)
 * and around the names of real users and channels (so that authorization is exercised too).
 */
import fc from 'fast-check'

/** How many inputs a property tries: small in `npm test`, `npm run fuzz -- --runs N` for more. */
export const RUNS = Number(process.env.FUZZ_RUNS ?? 120)
/** How long a property may run before it stops early (the runs done so far still count). */
export const TIME_MS = Number(process.env.FUZZ_TIME_MS ?? 80_000)
/** A seed to replay a failure (fast-check prints it). */
export const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)

export interface World { self: string; friend: string; victims: [string, string]; group: string }

const weird = fc.oneof(
  fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('', ' ', '\u0000', '\u202E', '__proto__', 'constructor', '../..', '%00', '{}', 'null'),
  fc.string({ minLength: 1000, maxLength: 5000 }),
)
const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 1, 2 ** 53, -(2 ** 53), 1e308, Number.MAX_SAFE_INTEGER + 2), fc.nat(100))
const anyValue = fc.oneof(weird, number, fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 5 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }))

function channelIn(w: World) {
  return fc.oneof(
    fc.constantFrom(`dm:${w.self}:${w.friend}`, `dm:${w.friend}:${w.self}`, `dm:${w.victims[0]}:${w.victims[1]}`, w.group, `dm:${w.self}:${w.self}`, 'g:nope', 'dm:a', 'x:1'),
    fc.string().map((s) => `g:${s}`), fc.string().map((s) => `dm:${s}`), weird,
  )
}

/** A client frame: valid-looking, with any field possibly wrong. */
export function frame(w: World): fc.Arbitrary<string> {
  const channel = channelIn(w)
  const maybe = <T>(a: fc.Arbitrary<T>) => fc.oneof(a, anyValue)
  const op = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('send', 'sync', 'history', 'read', 'presence', 'ping') }, { weight: 1, arbitrary: weird })
  const shaped = fc.record({
    op,
    ref: fc.option(fc.oneof(fc.string(), fc.integer(), anyValue), { nil: undefined }),
    channel: fc.option(maybe(channel), { nil: undefined }),
    clientMsgId: fc.option(maybe(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/)), { nil: undefined }),
    text: fc.option(maybe(fc.string({ maxLength: 200 })), { nil: undefined }),
    since: fc.option(maybe(fc.nat(1000)), { nil: undefined }),
    limit: fc.option(maybe(fc.nat(2000)), { nil: undefined }),
    before: fc.option(maybe(fc.nat(100)), { nil: undefined }),
    after: fc.option(maybe(fc.nat(100)), { nil: undefined }),
    seq: fc.option(maybe(fc.nat(100)), { nil: undefined }),
    users: fc.option(maybe(fc.array(fc.oneof(fc.constantFrom(w.friend, ...w.victims), fc.string()), { maxLength: 20 })), { nil: undefined }),
  }, { requiredKeys: ['op'] }).map((f) => JSON.stringify(f))
  return fc.oneof(
    { weight: 6, arbitrary: shaped },
    { weight: 2, arbitrary: mutate(shaped) },
    { weight: 1, arbitrary: fc.json() },
    { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
  )
}

/** Flips, drops or inserts characters of a valid text. */
export function mutate(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(base, fc.array(fc.tuple(fc.nat(), fc.nat(4), fc.string({ minLength: 1, maxLength: 1 })), { minLength: 1, maxLength: 6 })).map(([text, edits]) => {
    let s = text
    for (const [at, kind, c] of edits) {
      const i = s.length === 0 ? 0 : at % s.length
      if (kind === 0) s = s.slice(0, i) + s.slice(i + 1)
      else if (kind === 1) s = s.slice(0, i) + c + s.slice(i)
      else if (kind === 2) s = s.slice(0, i) + c + s.slice(i + 1)
      else if (kind === 3) s = s.slice(0, i)
      else s = s + s.slice(0, i)
    }
    return s
  })
}

export interface HttpInput { method: string; path: string; headers: Record<string, string>; body: string | undefined }

/** An HTTP request to a route of the API (or near one), with random query, headers and body. */
export function httpRequest(w: World, token: string): fc.Arbitrary<HttpInput> {
  const seg = fc.oneof(fc.constantFrom(w.friend, w.victims[0], w.group, `dm:${w.self}:${w.friend}`, `dm:${w.victims[0]}:${w.victims[1]}`, 'current'), fc.string({ maxLength: 50 }).map(encodeURIComponent))
  const path = fc.oneof(
    fc.constantFrom('/v1/users', '/v1/sessions', '/v1/sessions/current', '/v1/me', '/v1/friends', '/v1/groups', '/v1/channels', '/v1/presence', '/v1/discover', '/v1/cluster', '/v1/blocks', '/healthz', '/v1/internal/replica'),
    seg.map((s) => `/v1/channels/${s}/messages`), seg.map((s) => `/v1/groups/${s}/members`),
    fc.tuple(seg, seg).map(([g, u]) => `/v1/groups/${g}/members/${u}`), seg.map((s) => `/v1/blocks/${s}`), seg.map((s) => `/${s}`),
  )
  const query = fc.option(fc.dictionary(fc.constantFrom('before', 'after', 'limit', 'users', 'region', 'key', 'x'), fc.oneof(fc.nat(300).map(String), fc.string({ maxLength: 40 }), fc.constant(`${w.friend},${w.victims[0]}`)), { maxKeys: 3 }), { nil: undefined })
  const bodyObject = fc.record({
    username: fc.oneof(fc.constantFrom(w.friend, w.victims[0], w.self, 'fz_newbie'), anyValue),
    password: fc.oneof(fc.constantFrom('password-123', 'wrong-password'), anyValue),
    displayName: fc.oneof(fc.string({ maxLength: 70 }), anyValue),
    name: fc.oneof(fc.string({ maxLength: 10 }), anyValue),
    members: fc.oneof(fc.array(fc.constantFrom(w.friend, w.victims[0], w.victims[1]), { maxLength: 4 }), anyValue),
    deviceId: fc.oneof(fc.stringMatching(/^[a-z0-9]{1,8}$/), anyValue),
  }, { requiredKeys: [] }).map((o) => JSON.stringify(o))
  const body = fc.option(fc.oneof({ weight: 4, arbitrary: bodyObject }, { weight: 2, arbitrary: mutate(bodyObject) }, { weight: 1, arbitrary: fc.json() }, { weight: 1, arbitrary: fc.string({ maxLength: 200 }) }), { nil: undefined })
  const headers = fc.record({
    'content-type': fc.oneof(fc.constant('application/json'), fc.constantFrom('text/plain', 'application/json; charset=utf-8', 'multipart/form-data', ''), fc.string({ maxLength: 30 })),
    authorization: fc.oneof(fc.constant(`Bearer ${token}`), fc.constantFrom('Bearer', 'Bearer x.y.z', `Basic ${token}`, `Bearer ${token}x`), fc.string({ maxLength: 60 })),
    'x-forwarded-for': fc.oneof(fc.constant('10.0.0.1'), fc.string({ maxLength: 30 })),
    accept: fc.string({ maxLength: 30 }),
  }, { requiredKeys: [] })
  return fc.record({
    method: fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS'),
    path, query, headers, body,
  }).map(({ method, path, query, headers, body }) => {
    const qs = query ? `?${new URLSearchParams(query).toString()}` : ''
    // Header values must be valid header text to leave the client at all.
    const clean = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v).replace(/[^\t\x20-\x7e]/g, '')]))
    return { method, path: path + qs, headers: clean, body: method === 'GET' || method === 'OPTIONS' ? undefined : body }
  })
}
