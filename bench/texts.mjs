/**
 * Message texts that look like chat to the parts of the node that care: words of a 20,000-word
 * vocabulary drawn with Zipf frequencies (a few very common, most rare, as in real messages),
 * joined by spaces, about `bytes` long. LevelDB's compression and the search index (one posting
 * per distinct word of a message) see them as they would see people's messages; random bytes
 * would compress not at all and make a handful of long words. Seeded: runs compare.
 */

/** mulberry32. */
export function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ra', 'te', 'su', 'no', 'vi', 'de', 'po', 'chu', 'bre', 'ta', 'ne', 'gri', 'sol']

/** A maker of texts of about `bytes` UTF-8 bytes (never more), from `seed`. */
export function chatTexts(seed, bytes) {
  const random = rng(seed)
  const vocabulary = Array.from({ length: 20_000 }, (_, i) => {
    let w = ''
    for (let n = i + 1; n > 0; n = Math.floor(n / SYLLABLES.length)) w += SYLLABLES[n % SYLLABLES.length]
    return w
  })
  // Zipf(s=1) by inverse CDF over the harmonic sums.
  const cdf = new Float64Array(vocabulary.length)
  let sum = 0
  for (let i = 0; i < vocabulary.length; i++) cdf[i] = sum += 1 / (i + 1)
  const word = () => {
    const x = random() * sum
    let lo = 0
    let hi = cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cdf[mid] < x) lo = mid + 1
      else hi = mid
    }
    return vocabulary[lo]
  }
  return () => {
    let text = word()
    for (;;) {
      const next = word()
      if (text.length + 1 + next.length > bytes) return text
      text += ` ${next}`
    }
  }
}
