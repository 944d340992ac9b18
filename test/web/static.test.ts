/**
 * How a node serves the built web app: index.html never cached, hashed assets cached for a year,
 * a strict Content-Security-Policy with no inline script, the manifest and the service worker at
 * the root, API errors unchanged; and the first-load JavaScript within its budget (150 KB
 * gzipped), measured from the build.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runInNewContext } from 'node:vm'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { NodeProcess, ROOT } from '../helpers/node-process.js'

const DIST = join(ROOT, 'web', 'dist')
const BUDGET_BYTES = 150 * 1024
const node = await NodeProcess.start(t)

t.test('index.html: no cache, strict CSP, no inline script', async (t) => {
  const res = await fetch(`${node.url}/`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /text\/html/)
  t.equal(res.headers.get('cache-control'), 'no-cache')
  const csp = res.headers.get('content-security-policy') ?? ''
  for (const rule of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]) {
    t.ok(csp.split('; ').includes(rule), `CSP has ${rule}`)
  }
  t.notMatch(csp, /unsafe-inline|unsafe-eval/, 'nothing unsafe allowed')
  const html = await res.text()
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
  t.ok(scripts.length >= 1, 'the page loads its script')
  t.ok(scripts.every(([, attrs, body]) => /\bsrc="\/assets\/[^"]+\.js"/.test(attrs!) && body!.trim() === ''), 'every script is an external, hashed file: none inline')
  t.notMatch(html, /\son[a-z]+=/i, 'no inline event handlers')
})

t.test('hashed assets: immutable for a year; the rest revalidated', async (t) => {
  const html = readFileSync(join(DIST, 'index.html'), 'utf8')
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!)
  t.ok(assets.length >= 2, 'script and stylesheet')
  for (const asset of assets) {
    t.match(asset, /-[A-Za-z0-9_-]{8}\.(js|css)$/, `${asset} has a content hash in its name`)
    const res = await fetch(node.url + asset)
    t.equal(res.status, 200)
    t.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable', `${asset} is cached for a year`)
  }
  for (const [path, type] of [['/sw.js', /javascript/], ['/manifest.webmanifest', /application\/manifest\+json/], ['/icons/icon-192.png', /image\/png/]] as const) {
    const res = await fetch(node.url + path)
    t.equal(res.status, 200, `${path} is served`)
    t.match(res.headers.get('content-type'), type)
    t.equal(res.headers.get('cache-control'), 'no-cache', `${path} is revalidated`)
  }
})

t.test('the manifest makes it installable', async (t) => {
  const manifest = await (await fetch(`${node.url}/manifest.webmanifest`)).json() as any
  t.match(manifest, { name: 'Chat', start_url: '/', display: 'standalone' })
  const sizes = manifest.icons.map((i: any) => i.sizes)
  t.ok(sizes.includes('192x192') && sizes.includes('512x512'), 'icons of 192 and 512 px')
  for (const icon of manifest.icons) t.equal((await fetch(node.url + icon.src)).status, 200, `${icon.src} exists`)
  const sw = await (await fetch(`${node.url}/sw.js`)).text()
  t.match(sw, /SHELL_FILES = \[/, 'the service worker has the list of files of this build to cache')
})

t.test('the service worker is one classic script that installs all its handlers', async (t) => {
  const sw = await (await fetch(`${node.url}/sw.js`)).text()
  t.notMatch(sw, /^\s*(import|export)\s/m, 'no module syntax: it runs as a classic worker everywhere')
  const listeners: string[] = []
  const self = { addEventListener: (type: string) => listeners.push(type), location: { origin: node.url } }
  // Evaluating it is what a browser does first; a script that throws there never installs.
  runInNewContext(sw, { self, caches: {}, URL, Response })
  t.same(listeners.sort(), ['activate', 'fetch', 'install', 'notificationclick', 'push'], 'shell cache and push handlers')
})

t.test('API routes and errors are unchanged', async (t) => {
  const res = await fetch(`${node.url}/v1/nothing-here`)
  t.equal(res.status, 404)
  t.match(await res.json(), { error: { code: 'NOT_FOUND' } })
  t.equal((await fetch(`${node.url}/healthz`)).status, 200)
  t.equal((await fetch(`${node.url}/src/main.tsx`)).status, 404, 'sources are not served')
})

t.test('first-load JavaScript is within 150 KB gzipped', async (t) => {
  const html = readFileSync(join(DIST, 'index.html'), 'utf8')
  const scripts = [...html.matchAll(/<(?:script[^>]*src|link[^>]*rel="modulepreload"[^>]*href)="([^"]+\.js)"/g)].map((m) => m[1]!)
  let gzipped = 0
  let raw = 0
  for (const file of scripts) {
    const body = readFileSync(join(DIST, file))
    raw += body.length
    gzipped += gzipSync(body, { level: 9 }).length
  }
  t.comment(`first-load JavaScript: ${(raw / 1024).toFixed(1)} KB, ${(gzipped / 1024).toFixed(1)} KB gzipped (${scripts.join(', ')})`)
  t.ok(gzipped > 0 && gzipped < BUDGET_BYTES, `${(gzipped / 1024).toFixed(1)} KB gzipped is under the 150 KB budget`)
})
