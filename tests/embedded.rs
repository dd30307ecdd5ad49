//! The texts the binary embeds deflated (`/openapi.yaml`, the dashboard) inflate to their sources
//! byte for byte, and a damaged copy of them is an error, never a panic. Here rather than in
//! `serve::inflate`'s unit tests, so that the decoder imports nothing that imports it.

use ifstatsd::serve::inflate::{inflate, Error};
use ifstatsd::serve::{api, dashboard};
use proptest::prelude::*;

const ASSETS: [(&[u8], &str); 2] = [
    (api::OPENAPI_DEFLATED, api::OPENAPI_YAML),
    (dashboard::PAGE_DEFLATED, dashboard::PAGE),
];

#[test]
fn the_embedded_assets_inflate_to_their_sources() {
    for (deflated, source) in ASSETS {
        // Dynamic Huffman blocks, as zlib makes for text.
        assert_eq!((deflated[0] >> 1) & 3, 2);
        assert!(deflated.len() < source.len() / 2);
        assert_eq!(
            inflate(deflated, source.len()).as_deref(),
            Ok(source.as_bytes())
        );
        // One byte short of room is an error, not a truncated page.
        assert_eq!(inflate(deflated, source.len() - 1), Err(Error));
    }
}

#[test]
fn a_truncated_asset_is_an_error() {
    for (deflated, _) in ASSETS {
        for end in (0..deflated.len()).step_by(101) {
            assert_eq!(inflate(&deflated[..end], 1 << 20), Err(Error), "to {end}");
        }
    }
}

proptest! {
    #[test]
    fn flipped_bits_never_panic(at in 0..2000usize, bit in 0..8u8) {
        let mut bytes = dashboard::PAGE_DEFLATED[..2000].to_vec();
        bytes[at] ^= 1 << bit;
        let _ = inflate(&bytes, 1 << 16);
    }
}
