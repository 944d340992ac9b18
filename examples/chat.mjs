#!/usr/bin/env node
// A terminal chat client built on the SDK. It imports the compiled SDK, so build first:
//   npm run build
//   node examples/chat.mjs --url http://127.0.0.1:8080 --user alice --password secret123 --to bob
// Type a line and press Enter to send it. Commands: /more (older messages), /who (presence),
// /edit TEXT (your last message), /delete (your last message), /react EMOJI (the last message of
// someone else), /search WORDS, /quit.
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { ApiError, ChatClient, HttpApi, dmChannelId } from '../dist/client/index.js'

const USAGE = `usage: node examples/chat.mjs --user NAME --password PASS (--to USER | --group g:ID | --new-group NAME [--members a,b])
  --url URL        HTTP address of any node (default http://127.0.0.1:8080); the node to chat on is discovered
  --user NAME      signs up first if the account does not exist
  --to USER        1:1 chat with USER
  --group ID       chat in an existing group
  --new-group NAME create a group (with --members) and chat in it`

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    user: { type: 'string' },
    password: { type: 'string' },
    to: { type: 'string' },
    group: { type: 'string' },
    'new-group': { type: 'string' },
    members: { type: 'string', default: '' },
    help: { type: 'boolean', short: 'h' },
  },
})
const targets = [args.to, args.group, args['new-group']].filter((v) => v !== undefined)
if (args.help || !args.user || !args.password || targets.length !== 1 || args.to === args.user) {
  console.log(USAGE)
  process.exit(args.help ? 0 : 2)
}

const time = (ts) => new Date(ts).toTimeString().slice(0, 5)
const note = (text) => console.log(`-- ${text}`)

// A 1:1 chat needs both accounts. The other side may not have signed up yet (the first of two
// terminals to start): wait for it rather than fail, then ask to be friends so that both see each
// other's presence once both asked.
async function befriend(user) {
  for (let waiting = false; ; waiting = true) {
    try {
      await api.addFriend(user)
      return
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'NOT_FOUND')) return note(`friend request to ${user}: ${err.message}`)
      if (!waiting) note(`waiting for ${user} to sign up (Ctrl-C to give up)`)
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
  }
}

const api = new HttpApi({ baseUrl: args.url })
try {
  await api.signup({ username: args.user, password: args.password })
  note(`created account ${args.user}`)
} catch (err) {
  if (!(err instanceof ApiError && err.code === 'USERNAME_TAKEN')) throw err
}
const session = await api.login({ username: args.user, password: args.password })

let channel
if (args.to) {
  channel = dmChannelId(args.user, args.to)
  await befriend(args.to)
} else if (args.group) {
  channel = args.group
} else {
  const members = args.members.split(',').map((m) => m.trim()).filter(Boolean)
  channel = (await api.createGroup(args['new-group'], members)).id
  note(`created group ${channel}; others join the chat with --group ${channel}`)
}

// Node 22+ and browsers have a global WebSocket; Node 20 uses the `ws` package.
const WebSocket = globalThis.WebSocket ?? (await import('ws')).default
const client = new ChatClient({ token: session.token, deviceId: session.deviceId, discover: args.url, WebSocket })

// History and live events can overlap right after connecting; show each message once.
const shown = new Set()
/** seq of this user's last message, and of the last message from someone else, in this chat. */
const last = { mine: undefined, theirs: undefined }
const line = (m) => (m.deleted ? '(deleted)' : `${m.text}${m.editedAt ? ' (edited)' : ''}`)
function show(message) {
  if (message.channel === channel) {
    if (message.from === args.user) last.mine = Math.max(last.mine ?? 0, message.seq)
    else last.theirs = Math.max(last.theirs ?? 0, message.seq)
    if (shown.has(message.seq)) return
    shown.add(message.seq)
    console.log(`[${time(message.ts)}] ${message.from}: ${line(message)}`)
  } else {
    console.log(`[${time(message.ts)}] (${message.channel}) ${message.from}: ${line(message)}`)
  }
}

client.on('message', (message) => {
  show(message)
  if (message.channel === channel && message.from !== args.user) client.read(channel, message.seq).catch(() => {})
})
// Edits, deletes and reactions arrive as events; the SDK has already applied them to its cache.
client.on('change', ({ event: e, message }) => {
  if (e.channel !== channel) return
  const what = message && !message.deleted ? `"${message.text}"` : `message ${e.seq}`
  if (e.op === 'edit') note(`${e.by} edited: ${e.deleted ? '(deleted since)' : e.text}`)
  else if (e.op === 'delete') note(`${e.by} deleted ${what}`)
  else note(`${e.user} ${e.on ? 'reacted' : 'took back'} ${e.emoji} ${e.on ? 'to' : 'on'} ${what}`)
})
client.on('member', (e) => note(`${e.by} ${e.op === 'member_added' ? 'added' : 'removed'} ${e.user} (${e.channel})`))
client.on('presence', (p) => note(`${p.user} is ${p.status}`))
client.on('state', (s) => {
  if (s.state === 'open') note(`connected to ${s.ready.node}`)
  else if (s.state === 'connecting' && s.attempt > 0) note(`reconnecting in ${s.delayMs} ms`)
})
client.on('auth_failed', () => {
  note('the server rejected our token; log in again')
  process.exit(1)
})

await client.connect()
for (const message of await client.history(channel, { limit: 20 })) show(message)
note(`chatting in ${channel}; /more for older messages, /who for presence, /edit, /delete, /react, /search, /quit to leave`)

const pending = new Set()
const rl = createInterface({ input: process.stdin })
rl.on('line', async (line) => {
  const text = line.trim()
  if (text === '') return
  if (text === '/quit') return rl.close()
  if (text === '/more') {
    const older = (await client.olderMessages(channel, 20).catch((err) => note(err.message)) ?? [])
      .filter((message) => !shown.has(message.seq))
    note(older.length === 0 ? 'no older messages' : 'older messages:')
    for (const message of older) show(message)
    return
  }
  if (text === '/who') {
    const users = args.to ? [args.to] : (await api.channels()).find((c) => c.id === channel)?.members ?? []
    const presence = await client.presence(users).catch((err) => note(err.message))
    for (const p of presence ?? []) note(`${p.user}: ${p.status}`)
    return
  }
  const [command, ...rest] = text.split(' ')
  const arg = rest.join(' ').trim()
  const act = (what, promise) => promise.catch((err) => note(`${what} failed (${err.code}): ${err.message}`))
  if (command === '/edit' && arg) {
    if (last.mine === undefined) return note('nothing of yours to edit here')
    return act('edit', client.edit(channel, last.mine, arg))
  }
  if (command === '/delete') {
    if (last.mine === undefined) return note('nothing of yours to delete here')
    return act('delete', client.deleteMessage(channel, last.mine))
  }
  if (command === '/react' && arg) {
    if (last.theirs === undefined) return note('no message of someone else to react to')
    return act('react', client.react(channel, last.theirs, arg))
  }
  if (command === '/search' && arg) {
    const found = await act('search', client.search(arg, { limit: 10 }))
    if (!found) return
    note(found.messages.length === 0 ? `nothing found for "${arg}"` : `found for "${arg}", newest first:`)
    for (const m of found.messages) console.log(`   [${time(m.ts)}] (${m.channel}) ${m.from}: ${m.text}`)
    return
  }
  // The message is shown when the server pushes it back, so every terminal shows the same order.
  const sent = client.send(channel, text).catch((err) => note(`not sent (${err.code}): ${text}`))
  pending.add(sent)
  sent.finally(() => pending.delete(sent))
})

// At end of input (Ctrl-D or a closed pipe) wait a little for unacknowledged messages.
rl.on('close', async () => {
  const deadline = new Promise((resolve) => setTimeout(resolve, 5000).unref())
  await Promise.race([Promise.allSettled([...pending]), deadline])
  if (pending.size > 0) note(`${pending.size} message(s) not acknowledged`)
  client.close()
  process.exit(0)
})
process.on('SIGINT', () => rl.close())
