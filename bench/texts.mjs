/**
 * Message texts of an exact length. A chat node indexes every word of a message for search and
 * stores it in LevelDB (compressed), so what a text looks like changes what a send costs: one
 * 100-character word is one posting and compresses to nothing. `words` (the default) builds
 * sentences from a 2,000-word vocabulary with Zipf frequencies, about 15 words per 100 characters,
 * as people write; `repeat` is one letter repeated (the cheapest case, as earlier figures used).
 * A fixed pool is made once per run (seeded, so every run and system gets the same texts).
 */
const POOL = 4096
const VOCABULARY = 2000

/** A small seeded generator (mulberry32): same texts on every run. */
function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function vocabulary(rand) {
  const letters = 'etaoinshrdlcumwfgypbvkjxqz'
  const words = new Set()
  while (words.size < VOCABULARY) {
    const len = 3 + Math.floor(rand() * 7)
    let w = ''
    // Frequent letters more often, so words look a little like words.
    for (let i = 0; i < len; i++) w += letters[Math.floor(rand() * rand() * letters.length)]
    words.add(w)
  }
  return [...words]
}

/** Index into the vocabulary with Zipf(1) frequencies: rank r is drawn with weight 1/r. */
function zipf(rand, n) {
  const harmonic = Math.log(n) + 0.5772
  return Math.min(n - 1, Math.floor(Math.exp(rand() * harmonic)) - 1)
}

const made = new Map()

/** `POOL` texts of exactly `length` characters (made once per length and kind). */
export function messageTexts(length, kind = 'words') {
  const key = `${kind}:${length}`
  if (!made.has(key)) made.set(key, make(length, kind))
  return made.get(key)
}

function make(length, kind) {
  if (kind === 'repeat') return ['x'.repeat(length)]
  const rand = rng(12)
  const vocab = vocabulary(rand)
  const out = []
  for (let i = 0; i < POOL; i++) {
    let text = ''
    while (text.length < length) text += (text ? ' ' : '') + vocab[zipf(rand, vocab.length)]
    out.push(text.slice(0, length).replace(/ $/, 'a'))
  }
  return out
}
