//! PURE: a small raw-deflate decoder (RFC 1951: stored, fixed and dynamic Huffman blocks), for
//! the text the binary embeds compressed (`/openapi.yaml`, the dashboard): build.rs deflates
//! them, a request inflates them into its reply. After Mark Adler's `puff.c`: a Huffman code is
//! a count of codes per length and the symbols in code order, decoded a bit at a time. Slow
//! next to zlib (a few ms for the 73 KB document), but a few KB of code in place of the 75 KB
//! the raw text took. Total: any input, truncated or garbage, gives an `Err`, never a panic.

/// The stream is not valid deflate, is truncated, or inflates past the limit given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error;

/// Inflates the raw deflate stream `input` (no zlib or gzip header), at most `max_len` bytes.
pub fn inflate(input: &[u8], max_len: usize) -> Result<Vec<u8>, Error> {
    let mut state = State {
        input,
        pos: 0,
        bit_buf: 0,
        bit_count: 0,
        out: Vec::with_capacity(max_len),
        max_len,
    };
    loop {
        let last = state.bits(1)?;
        match state.bits(2)? {
            0 => state.stored()?,
            1 => state.fixed()?,
            2 => state.dynamic()?,
            _ => return Err(Error),
        }
        if last == 1 {
            return Ok(state.out);
        }
    }
}

/// The most codes of one alphabet: 288 literal/length codes.
const MAX_CODES: usize = 288;
/// The longest code, in bits.
const MAX_BITS: usize = 15;

/// A canonical Huffman code: how many codes of each length, and the symbols in code order.
struct Huffman {
    count: [u16; MAX_BITS + 1],
    symbol: [u16; MAX_CODES],
}

impl Huffman {
    /// The code for these code lengths (each at most 15), and how many codes it leaves unused
    /// (`left`): 0 complete, > 0 incomplete, < 0 over-subscribed.
    fn new(lengths: &[u8]) -> (Huffman, i32) {
        let mut h = Huffman {
            count: [0; MAX_BITS + 1],
            symbol: [0; MAX_CODES],
        };
        for &len in lengths {
            h.count[usize::from(len) & MAX_BITS] += 1;
        }
        if usize::from(h.count[0]) == lengths.len() {
            // No codes: complete, but any attempt to decode fails.
            return (h, 0);
        }
        let mut left: i32 = 1;
        for len in 1..=MAX_BITS {
            left = (left << 1) - i32::from(h.count[len]);
            if left < 0 {
                return (h, left);
            }
        }
        let mut offset = [0u16; MAX_BITS + 1];
        for len in 1..MAX_BITS {
            offset[len + 1] = offset[len] + h.count[len];
        }
        for (sym, &len) in lengths.iter().enumerate().take(MAX_CODES) {
            let len = usize::from(len) & MAX_BITS;
            if len != 0 {
                h.symbol[usize::from(offset[len])] = sym as u16;
                offset[len] += 1;
            }
        }
        (h, left)
    }
}

/// Lengths 257..285: the base length and its extra bits.
const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Distances 0..29: the base distance and its extra bits.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order the code-length code's lengths come in.
const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

struct State<'a> {
    input: &'a [u8],
    pos: usize,
    bit_buf: u32,
    bit_count: u32,
    out: Vec<u8>,
    max_len: usize,
}

impl State<'_> {
    /// The next `n` (at most 16) bits, least significant first.
    fn bits(&mut self, n: u32) -> Result<u32, Error> {
        let mut buf = self.bit_buf;
        while self.bit_count < n {
            let byte = *self.input.get(self.pos).ok_or(Error)?;
            self.pos += 1;
            buf |= u32::from(byte) << self.bit_count;
            self.bit_count += 8;
        }
        self.bit_buf = buf >> n;
        self.bit_count -= n;
        Ok(buf & ((1 << n) - 1))
    }

    fn push(&mut self, byte: u8) -> Result<(), Error> {
        if self.out.len() >= self.max_len {
            return Err(Error);
        }
        self.out.push(byte);
        Ok(())
    }

    /// A stored block: byte-aligned LEN, its complement, LEN bytes.
    fn stored(&mut self) -> Result<(), Error> {
        self.bit_buf = 0;
        self.bit_count = 0;
        let header = self.input.get(self.pos..self.pos + 4).ok_or(Error)?;
        let len = u16::from_le_bytes([header[0], header[1]]);
        let nlen = u16::from_le_bytes([header[2], header[3]]);
        if len != !nlen {
            return Err(Error);
        }
        self.pos += 4;
        let bytes = self
            .input
            .get(self.pos..self.pos + usize::from(len))
            .ok_or(Error)?;
        if self.out.len() + bytes.len() > self.max_len {
            return Err(Error);
        }
        self.out.extend_from_slice(bytes);
        self.pos += usize::from(len);
        Ok(())
    }

    /// One symbol of the code `h`.
    fn decode(&mut self, h: &Huffman) -> Result<u16, Error> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for &count in &h.count[1..] {
            code |= self.bits(1)? as i32;
            let count = i32::from(count);
            if code - first < count {
                return h
                    .symbol
                    .get((index + code - first) as usize)
                    .copied()
                    .ok_or(Error);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(Error)
    }

    /// The literals and matches of a Huffman block, up to its end-of-block code.
    fn codes(&mut self, lencode: &Huffman, distcode: &Huffman) -> Result<(), Error> {
        loop {
            let sym = usize::from(self.decode(lencode)?);
            if sym < 256 {
                self.push(sym as u8)?;
            } else if sym == 256 {
                return Ok(());
            } else {
                let i = sym - 257;
                let (base, extra) = (LENGTH_BASE.get(i), LENGTH_EXTRA.get(i));
                let (Some(&base), Some(&extra)) = (base, extra) else {
                    return Err(Error);
                };
                let len = usize::from(base) + self.bits(u32::from(extra))? as usize;
                let d = usize::from(self.decode(distcode)?);
                let (Some(&base), Some(&extra)) = (DIST_BASE.get(d), DIST_EXTRA.get(d)) else {
                    return Err(Error);
                };
                let dist = usize::from(base) + self.bits(u32::from(extra))? as usize;
                if dist > self.out.len() {
                    return Err(Error);
                }
                for _ in 0..len {
                    self.push(self.out[self.out.len() - dist])?;
                }
            }
        }
    }

    /// A block with the fixed codes of RFC 1951, 3.2.6.
    fn fixed(&mut self) -> Result<(), Error> {
        let mut lengths = [8u8; 288];
        lengths[144..256].fill(9);
        lengths[256..280].fill(7);
        let (lencode, _) = Huffman::new(&lengths);
        let (distcode, _) = Huffman::new(&[5; 30]);
        self.codes(&lencode, &distcode)
    }

    /// A block with its own codes, themselves Huffman-coded.
    fn dynamic(&mut self) -> Result<(), Error> {
        let nlen = self.bits(5)? as usize + 257;
        let ndist = self.bits(5)? as usize + 1;
        let ncode = self.bits(4)? as usize + 4;
        if nlen > 286 || ndist > 30 {
            return Err(Error);
        }
        let mut lengths = [0u8; 286 + 30];
        for &at in &CODE_LENGTH_ORDER[..ncode] {
            lengths[at] = self.bits(3)? as u8;
        }
        let (lencode, left) = Huffman::new(&lengths[..19]);
        if left != 0 {
            return Err(Error);
        }
        let mut index = 0;
        while index < nlen + ndist {
            let sym = self.decode(&lencode)?;
            if sym < 16 {
                lengths[index] = sym as u8;
                index += 1;
                continue;
            }
            let (len, repeat) = match sym {
                16 => {
                    let previous = *lengths.get(index.wrapping_sub(1)).ok_or(Error)?;
                    (previous, 3 + self.bits(2)?)
                }
                17 => (0, 3 + self.bits(3)?),
                _ => (0, 11 + self.bits(7)?),
            };
            let end = index + repeat as usize;
            lengths.get_mut(index..end).ok_or(Error)?.fill(len);
            if end > nlen + ndist {
                return Err(Error);
            }
            index = end;
        }
        // A block with no end-of-block code could not end.
        if lengths[256] == 0 {
            return Err(Error);
        }
        // An incomplete code is allowed only with a single code (of length 1).
        let complete = |(h, left): (Huffman, i32), n: usize| {
            if left < 0 || (left > 0 && n - usize::from(h.count[0]) != 1) {
                Err(Error)
            } else {
                Ok(h)
            }
        };
        let lencode = complete(Huffman::new(&lengths[..nlen]), nlen)?;
        let distcode = complete(Huffman::new(&lengths[nlen..nlen + ndist]), ndist)?;
        self.codes(&lencode, &distcode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A hand-made stored block, python's zlib (raw, level 9) fixed blocks.
    const STREAMS: &[(&[u8], &[u8])] = &[
        // Stored: final, type 0; LEN 5, NLEN !5; "hello".
        (
            &[0x01, 0x05, 0x00, 0xfa, 0xff, b'h', b'e', b'l', b'l', b'o'],
            b"hello",
        ),
        // Two stored blocks, the first not final; then an empty one.
        (
            &[
                0x00, 0x02, 0x00, 0xfd, 0xff, b'h', b'i', 0x01, 0x00, 0x00, 0xff, 0xff,
            ],
            b"hi",
        ),
        // Fixed: one literal.
        (&[75, 4, 0], b"a"),
        // Fixed: literals and a match reaching back 6 bytes for 17.
        (
            &[203, 72, 205, 201, 201, 87, 200, 64, 39, 1],
            b"hello hello hello hello",
        ),
    ];

    #[test]
    fn hand_made_streams_inflate() {
        for (stream, want) in STREAMS {
            assert_eq!(inflate(stream, 1000).as_deref(), Ok(*want), "{stream:?}");
        }
    }

    #[test]
    fn truncated_streams_are_errors() {
        for (stream, _) in STREAMS {
            for end in 0..stream.len() {
                assert_eq!(
                    inflate(&stream[..end], 1000),
                    Err(Error),
                    "{stream:?} to {end}"
                );
            }
        }
    }

    #[test]
    fn bad_streams_are_errors() {
        for stream in [
            &[0x07][..],                           // block type 3
            &[0x01, 0x05, 0x00, 0xfa, 0xfe],       // NLEN not LEN's complement
            &[0x01, 0x05, 0x00, 0xfa, 0xff, b'h'], // stored: bytes missing
            &[0x03, 0xff],                         // fixed: distance code 31, which does not exist
            &[0x05, 0xff, 0xff, 0xff],             // dynamic: 32 distance codes (30 at most)
        ] {
            assert_eq!(inflate(stream, 1000), Err(Error), "{stream:?}");
        }
        // Within its limit only.
        assert_eq!(inflate(STREAMS[3].0, 22), Err(Error));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = inflate(&bytes, 1 << 16);
        }

    }
}
