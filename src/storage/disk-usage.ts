/** Bytes a directory's files take on disk (allocated blocks, not apparent sizes), for the storage metric. */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

export async function dirBytes(dir: string): Promise<number> {
  let total = 0
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch {
    return 0
  }
  for (const e of entries) {
    const path = join(dir, e.name)
    try {
      if (e.isDirectory()) total += await dirBytes(path)
      else if (e.isFile()) {
        const s = await stat(path)
        total += s.blocks * 512
      }
    } catch {
      // removed while counting (LevelDB compaction): it no longer takes space
    }
  }
  return total
}
