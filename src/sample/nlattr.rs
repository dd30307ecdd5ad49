//! PURE: the netlink wire primitives the link table ([`crate::sample::netlink`]) and the flow
//! offload check ([`crate::sample::offload`]) share: attributes, alignment, native-endian fields.
//! Nothing here can panic on any input.

/// The `(type, value)` pairs of a run of `struct rtattr`; stops at the first malformed one.
pub fn attributes(mut rest: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let length = u16_at(rest, 0)? as usize;
        let kind = u16_at(rest, 2)?;
        if length < 4 || length > rest.len() {
            rest = &[];
            return None;
        }
        let value = &rest[4..length];
        rest = &rest[aligned(length).min(rest.len())..];
        // The top two bits are flags (NLA_F_NESTED, NLA_F_NET_BYTEORDER), not the type.
        Some((kind & 0x3fff, value))
    })
}

/// Netlink messages and attributes start on 4-byte boundaries.
pub fn aligned(length: usize) -> usize {
    length.saturating_add(3) & !3
}

/// The native-endian `u16` at byte `at`, if the bytes are there.
pub fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

/// The native-endian `u32` at byte `at`, if the bytes are there.
pub fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// A netlink attribute of `kind` holding `value`, padded to 4 bytes: how the tests of the link
/// table and the offload check build the kernel's messages.
#[cfg(test)]
pub fn attribute(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    bytes.extend_from_slice(&kind.to_ne_bytes());
    bytes.extend_from_slice(value);
    bytes.resize(aligned(bytes.len()), 0);
    bytes
}
