/**
 * Builds the browser app into web/dist: hashed, immutable files under /assets, plus a service
 * worker (sw.js) that precaches exactly the files of this build, so every deploy gets a fresh
 * shell cache and the old one is dropped.
 */
import { createHash } from 'node:crypto'
import { resolve } from 'node:path'
import { build, defineConfig, type Plugin, type Rollup } from 'vite'

const here = import.meta.dirname

/**
 * Emits sw.js: web/sw/sw.js bundled on its own (with the SDK's push handler it imports) as one
 * classic script, after the list of files to precache. A plugin of thirty lines does what a
 * service-worker toolkit would, without its build-time dependencies.
 */
function serviceWorker(): Plugin {
  return {
    name: 'chat-service-worker',
    apply: 'build',
    async generateBundle(_options, bundle) {
      const files = Object.keys(bundle).filter((f) => !f.endsWith('.map')).map((f) => `/${f}`)
      const shell = ['/', '/manifest.webmanifest', '/icons/icon.svg', '/icons/icon-192.png', ...files]
      const version = createHash('sha256').update(shell.join('\n')).digest('hex').slice(0, 12)
      this.emitFile({
        type: 'asset',
        fileName: 'sw.js',
        // Semicolons: the bundle starts with `(`, which would otherwise call the array before it.
        source: `// Generated at build time; see web/sw/.\nconst SHELL_VERSION = ${JSON.stringify(version)};\nconst SHELL_FILES = ${JSON.stringify(shell)};\n${await bundleWorker()}`,
      })
    },
  }
}

/** The worker's code as one script (an IIFE: no imports, so no module worker is needed). */
async function bundleWorker(): Promise<string> {
  const result = await build({
    configFile: false,
    root: here,
    publicDir: false,
    logLevel: 'warn',
    build: {
      write: false,
      target: 'es2022',
      minify: false,
      lib: { entry: resolve(here, 'sw', 'sw.js'), formats: ['iife'], name: 'chatServiceWorker', fileName: () => 'sw.js' },
    },
  })
  const outputs = (Array.isArray(result) ? result : [result]) as Rollup.RollupOutput[]
  const chunk = outputs[0]?.output.find((o): o is Rollup.OutputChunk => o.type === 'chunk')
  if (chunk === undefined) throw new Error('the service worker bundle is empty')
  return chunk.code
}

export default defineConfig({
  root: here,
  base: '/',
  publicDir: resolve(here, 'public'),
  plugins: [serviceWorker()],
  // The app talks to the server only through the SDK, imported from its sources.
  resolve: { alias: { '@sdk': resolve(here, '../src/client/index.ts') } },
  // `npm run dev:web`: the app with hot reload, the API and WebSocket of a running node behind it.
  server: {
    proxy: {
      '/v1': process.env.CHAT_DEV_SERVER ?? 'http://127.0.0.1:8080',
      '/ws': { target: process.env.CHAT_DEV_SERVER ?? 'http://127.0.0.1:8080', ws: true },
    },
  },
  build: {
    outDir: resolve(here, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    sourcemap: false,
    // The budget is 150 KB gzipped of first-load JS; warn well before it.
    chunkSizeWarningLimit: 200,
  },
})
