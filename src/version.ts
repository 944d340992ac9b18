/** The release this node runs: package.json's version (the info metric, backups, `chat-node status`). */
import { readFileSync } from 'node:fs'

export const SOFTWARE_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown'
  } catch {
    return 'unknown'
  }
})()
