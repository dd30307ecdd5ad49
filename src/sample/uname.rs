//! What `uname(2)` says about the system, for node_exporter's `node_uname_info`: the request
//! loop asks at every scrape, as node_exporter does (the host name may change).

#![allow(unsafe_code)] // one uname(2) call; see the SAFETY comment

/// The six fields of `struct utsname`, as node_exporter labels them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Uname {
    /// `Linux`.
    pub sysname: String,
    /// The host name.
    pub nodename: String,
    /// The kernel release, `6.1.0-13-amd64`.
    pub release: String,
    /// The kernel build, `#1 SMP PREEMPT_DYNAMIC ...`.
    pub version: String,
    /// The hardware, `x86_64`, `armv7l`, `mips`.
    pub machine: String,
    /// The NIS domain name, `(none)` when unset.
    pub domainname: String,
}

/// Asks the kernel; `None` if it refuses (it never does on Linux).
pub fn uname() -> Option<Uname> {
    // SAFETY: `utsname` is plain old data (arrays of c_char), valid when zeroed; uname(2) fills
    // it with NUL-terminated strings within each array, and reads nothing.
    let mut raw: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is to a live, writable utsname owned by this frame.
    if unsafe { libc::uname(&mut raw) } != 0 {
        return None;
    }
    Some(Uname {
        sysname: field(&raw.sysname),
        nodename: field(&raw.nodename),
        release: field(&raw.release),
        version: field(&raw.version),
        machine: field(&raw.machine),
        domainname: field(&raw.domainname),
    })
}

/// One NUL-terminated field (the whole array if it has no NUL), lossily as UTF-8.
fn field(chars: &[libc::c_char]) -> String {
    // c_char is i8 or u8 depending on the architecture: take the byte either way.
    let bytes: Vec<u8> = chars
        .iter()
        .map(|&c| c as u8)
        .take_while(|&b| b != 0)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uname_matches_the_kernel_files() {
        let uname = uname().expect("uname");
        let file = |name: &str| {
            std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
                .unwrap()
                .trim_end()
                .to_owned()
        };
        assert_eq!(uname.sysname, file("ostype"));
        assert_eq!(uname.nodename, file("hostname"));
        assert_eq!(uname.release, file("osrelease"));
        assert_eq!(uname.version, file("version"));
        assert_eq!(uname.domainname, file("domainname"));
        assert!(!uname.machine.is_empty());
    }

    #[test]
    fn fields_end_at_the_first_nul_or_the_array() {
        let raw = [
            b'a' as libc::c_char,
            b'b' as libc::c_char,
            0,
            b'c' as libc::c_char,
        ];
        assert_eq!(field(&raw), "ab");
        assert_eq!(field(&raw[..2]), "ab");
    }
}
