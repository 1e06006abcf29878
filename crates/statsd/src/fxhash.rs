//! A small, fast, non-cryptographic hasher for short keys (metric names, segments). The
//! keys come from the network, but the tables they index are bounded (glob segments are
//! from the config; the mapping cache is size-capped), so flooding costs little.

use std::hash::{BuildHasherDefault, Hasher};

/// `BuildHasher` for [`FxHasher`].
pub type FxBuild = BuildHasherDefault<FxHasher>;

const K: u64 = 0xf135_7aea_2e62_a9c5;

/// Multiply-rotate hashing of 8-byte words.
#[derive(Default, Clone, Copy, Debug)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(26) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            self.add(small_word(rest) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash.rotate_left(26)
    }
}

/// Packs up to 7 bytes into a word, the same for equal slices and different for slices of
/// the same length that differ, with fixed-size loads only (a variable-length copy would
/// call `memcpy`, which costs more than the hashing of a short key).
#[inline]
pub(crate) fn small_word(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        // Two overlapping 4-byte loads cover all of 4..=7 bytes.
        let mut lo = [0u8; 4];
        let mut hi = [0u8; 4];
        lo.copy_from_slice(&b[..4]);
        hi.copy_from_slice(&b[n - 4..]);
        u64::from(u32::from_le_bytes(lo)) | (u64::from(u32::from_le_bytes(hi)) << 32)
    } else if n > 0 {
        // Positions 0, n/2 and n-1 cover all of 1..=3 bytes.
        u64::from(b[0]) | (u64::from(b[n / 2]) << 8) | (u64::from(b[n - 1]) << 16)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::small_word;

    #[test]
    fn small_words_tell_same_length_slices_apart() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..8usize {
            seen.clear();
            for i in 0..(n * 256) {
                let mut b = vec![b'a'; n];
                b[i / 256] = (i % 256) as u8;
                let w = small_word(&b);
                assert_eq!(w, small_word(&b.clone()));
                seen.insert((b.clone(), w));
            }
            let words: std::collections::HashSet<u64> = seen.iter().map(|(_, w)| *w).collect();
            let slices: std::collections::HashSet<&Vec<u8>> = seen.iter().map(|(b, _)| b).collect();
            assert_eq!(words.len(), slices.len(), "length {n}");
        }
    }
}
