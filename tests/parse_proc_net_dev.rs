//! The parser against the files in `fixtures/proc_net_dev/`: one named case per quirk, two sweeps
//! over every fixture, the kernel's name rules, and properties over arbitrary and kernel-formatted
//! input.
//!
//! rstest's `#[files]` sweeps see a new fixture only when this file recompiles: `make test`
//! touches it first.

use std::path::PathBuf;

use ifstatsd::sample::proc_net_dev::{
    is_valid_name, parse, parse_line, ParseError, ParseErrorKind, Parsed,
};
use proptest::prelude::*;
use rstest::rstest;

/// The two header lines of every kernel since 2.6 (`dev_seq_show()` in `net/core/net-procfs.c`).
const HEADER: &str = "Inter-|   Receive                                                |  Transmit\n \
    face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

const MAX: u64 = u64::MAX;

/// A fixture's bytes, tracked by cargo (`include_bytes!`): a change to the file rebuilds the test.
macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../fixtures/proc_net_dev/", $name))
    };
}

/// Parses bytes the way the sampler does: bytes that are not UTF-8 become U+FFFD.
fn parse_bytes(bytes: &[u8]) -> Parsed {
    parse(&String::from_utf8_lossy(bytes))
}

fn names(parsed: &Parsed) -> Vec<&str> {
    parsed.interfaces.iter().map(|i| i.name.as_str()).collect()
}

fn counters(parsed: &Parsed, name: &str) -> [u64; 8] {
    parsed
        .interfaces
        .iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("{name:?} not parsed from {parsed:?}"))
        .counters
        .to_array()
}

/// Each skipped line's number points at the line that has that very problem: parsing the line
/// it names again gives the same error.
fn assert_skipped_lines_are_numbered_right(text: &str, parsed: &Parsed) {
    let lines: Vec<&str> = text.split('\n').collect();
    for error in &parsed.skipped {
        let line = lines[error.line - 1];
        let line = line.strip_suffix('\r').unwrap_or(line);
        assert_eq!(parse_line(line), Err(error.kind.clone()), "{error}");
    }
}

/// Each good fixture: one interface's counters (rx bytes, packets, errs, drop, then tx bytes,
/// packets, errs, drop: columns 1-4 and 9-12), and how many interfaces the file has.
#[rstest]
#[case::capture_of_this_machine(fixture!("linux-6.x-capture-ci.txt"), "eth0", [108862818, 5731, 0, 0, 353048, 3389, 0, 0], 4)]
#[case::capture_in_a_netns_with_veth(fixture!("linux-6.x-capture-netns-veth.txt"), "veth-a", [266, 3, 0, 0, 266, 3, 0, 0], 3)]
#[case::openwrt_router(fixture!("openwrt-router-typical.txt"), "pppoe-wan", [3701224500, 3380021, 0, 0, 970012050, 2190055, 0, 0], 6)]
#[case::bridge(fixture!("openwrt-router-typical.txt"), "br-lan", [912331002, 1780022, 0, 3, 3601221458, 3004115, 0, 0], 6)]
#[case::vlan_name_with_a_dot(fixture!("openwrt-router-typical.txt"), "eth0.2", [3720081231, 3390100, 0, 0, 988012200, 2200100, 0, 0], 6)]
#[case::errors_and_drops(fixture!("openwrt-router-typical.txt"), "wlan0", [812045511, 1455021, 7, 1, 3290114522, 2780211, 2, 9], 6)]
#[case::no_space_after_colon(fixture!("linux-2.6-no-space-after-colon.txt"), "eth0", [4046496815, 27661328, 0, 0, 1720447462, 18291031, 0, 0], 4)]
#[case::glued_exactly_eight_digits(fixture!("linux-2.6-no-space-after-colon.txt"), "lo", [78509297, 621430, 0, 0, 78509297, 621430, 0, 0], 4)]
#[case::glued_short_line(fixture!("linux-2.6-no-space-after-colon.txt"), "eth1", [0; 8], 4)]
#[case::glued_after_a_colon_in_the_name(fixture!("linux-2.6-no-space-after-colon.txt"), "bond0:1", [12345678, 98765, 2, 1, 87654321, 76543, 0, 3], 4)]
#[case::legacy_colon_in_name(fixture!("centos7-colon-in-name.txt"), "team0:1", [100, 1, 0, 0, 200, 2, 0, 0], 3)]
#[case::legacy_colon_in_bond_name(fixture!("centos7-colon-in-name.txt"), "bond0:1", [7000, 70, 0, 0, 8000, 80, 0, 0], 3)]
#[case::fifteen_byte_name(fixture!("linux-6.x-long-names-no-padding.txt"), "abcdefghijklmno", [1, 2, 3, 4, 5, 6, 7, 8], 3)]
#[case::long_name_no_padding(fixture!("linux-6.x-long-names-no-padding.txt"), "enp0s31f6", [123456789, 98765, 0, 0, 23456789, 8765, 0, 0], 3)]
#[case::ten_byte_name(fixture!("linux-6.x-long-names-no-padding.txt"), "virbr0-nic", [0; 8], 3)]
#[case::u64_max(fixture!("u64-max-counters.txt"), "eth0", [MAX; 8], 2)]
#[case::u64_max_beside_small_numbers(fixture!("u64-max-counters.txt"), "lo", [MAX, 1, 0, 0, MAX - 1, 2, 0, 0], 2)]
#[case::widened_2021_format(fixture!("netnext-2021-widened-format.txt"), "eth0", [123456789012, 98765432, 1, 2, 987654321, 7654321, 3, 4], 2)]
#[case::no_trailing_newline(fixture!("no-trailing-newline.txt"), "eth0", [500, 5, 0, 0, 600, 6, 0, 0], 2)]
#[case::crlf(fixture!("crlf-line-ends.txt"), "eth0", [500, 5, 0, 0, 600, 6, 0, 0], 2)]
#[case::blank_lines(fixture!("blank-lines.txt"), "eth0", [500, 5, 0, 0, 600, 6, 0, 0], 2)]
#[case::extra_columns_ignored(fixture!("extra-columns.txt"), "eth0", [500, 5, 0, 0, 600, 6, 0, 0], 1)]
#[case::good_lines_among_bad(fixture!("mixed-malformed-lines.txt"), "eth0", [500, 5, 0, 0, 600, 6, 0, 0], 2)]
#[case::pipe_in_name(fixture!("pipe-in-name.txt"), "a|b", [77, 7, 0, 0, 88, 8, 0, 0], 2)]
#[case::non_ascii_name(fixture!("non-ascii-names.txt"), "wlän0", [1234, 12, 0, 0, 4321, 21, 0, 0], 2)]
#[case::latin1_byte_in_name(fixture!("non-utf8-names.txt"), "wl\u{FFFD}n0", [3141592, 2718, 1, 2, 1414213, 1732, 3, 4], 3)]
#[case::fifteen_bytes_one_not_utf8(fixture!("non-utf8-names.txt"), "abcdefghijklmn\u{FFFD}", [5000, 50, 0, 0, 6000, 60, 0, 0], 3)]
fn fixtures_parse_to_the_right_counters(
    #[case] file: &[u8],
    #[case] name: &str,
    #[case] expected: [u64; 8],
    #[case] interfaces: usize,
) {
    let parsed = parse_bytes(file);
    assert_eq!(counters(&parsed, name), expected);
    assert_eq!(parsed.interfaces.len(), interfaces, "{parsed:?}");
}

/// CentOS 7 names with a colon, and a 2.6 kernel's colon name glued to its first counter: the
/// line is split at its last colon (prometheus/procfs#421, psutil#435). A first-colon split
/// would give `team0` twice and a bad number.
#[test]
fn names_are_split_at_the_last_colon() {
    let centos7 = parse_bytes(fixture!("centos7-colon-in-name.txt"));
    assert_eq!(names(&centos7), ["team0", "team0:1", "bond0:1"]);
    assert_eq!(counters(&centos7, "team0")[0], 5000);
    let glued = parse_bytes(fixture!("linux-2.6-no-space-after-colon.txt"));
    assert_eq!(names(&glued), ["lo", "eth0", "eth1", "bond0:1"]);
    assert_eq!(glued.skipped, []);
}

/// Padding spaces, `\r` and Latin-1 bytes never end up in a name; a 15-byte name has no padding.
#[rstest]
#[case::crlf(fixture!("crlf-line-ends.txt"), &["lo", "eth0"])]
#[case::padded(fixture!("openwrt-router-typical.txt"), &["lo", "eth0", "eth0.2", "br-lan", "wlan0", "pppoe-wan"])]
#[case::unpadded(fixture!("linux-6.x-long-names-no-padding.txt"), &["enp0s31f6", "virbr0-nic", "abcdefghijklmno"])]
#[case::widened(fixture!("netnext-2021-widened-format.txt"), &["lo", "eth0"])]
#[case::not_utf8(fixture!("non-utf8-names.txt"), &["lo", "wl\u{FFFD}n0", "abcdefghijklmn\u{FFFD}"])]
fn names_are_exact_and_in_file_order(#[case] file: &[u8], #[case] expected: &[&str]) {
    let parsed = parse_bytes(file);
    assert_eq!(names(&parsed), expected);
    assert_eq!(parsed.skipped, []);
}

#[test]
fn malformed_lines_are_skipped_with_their_line_numbers() {
    let parsed = parse_bytes(fixture!("mixed-malformed-lines.txt"));
    assert_eq!(names(&parsed), ["lo", "eth0"]);
    let bad = |line, kind| ParseError { line, kind };
    let number = |column: usize, text: &str| ParseErrorKind::BadNumber {
        column,
        text: text.into(),
    };
    let invalid = |name: &str| ParseErrorKind::InvalidName { name: name.into() };
    assert_eq!(
        parsed.skipped,
        [
            bad(4, ParseErrorKind::FieldCount { found: 15 }),
            bad(5, number(10, "ten")),
            bad(6, number(4, "-4")),
            bad(7, number(1, "18446744073709551616")),
            bad(8, invalid("abcdefghijklmnop")),
            bad(9, invalid("my eth")),
            bad(10, ParseErrorKind::MissingColon),
            bad(11, ParseErrorKind::EmptyName),
        ]
    );
}

/// The old header, the 2021 one (lore.kernel.org/netdev/20211009163511.vayjvtn3rrteglsu@skbuf),
/// and a `|` inside a name, which makes a data line, not a header.
#[rstest]
#[case::current(fixture!("openwrt-router-typical.txt"))]
#[case::widened_2021(fixture!("netnext-2021-widened-format.txt"))]
#[case::pipe_in_name(fixture!("pipe-in-name.txt"))]
#[case::headers_only(fixture!("bad-headers-only.txt"))]
fn headers_of_any_shape_are_not_errors(#[case] file: &[u8]) {
    assert_eq!(parse_bytes(file).skipped, []);
}

/// Every good fixture gives at least one interface, every name one Linux could have, and no
/// skipped line unless the fixture is about skipped lines.
#[rstest]
fn every_good_fixture_parses(
    #[files("fixtures/proc_net_dev/*.txt")]
    #[exclude("/bad-[^/]*$")]
    path: PathBuf,
) {
    let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
    let parsed = parse(&text);
    assert!(!parsed.interfaces.is_empty(), "{}", path.display());
    for iface in &parsed.interfaces {
        assert!(is_valid_name(&iface.name), "{:?}", iface.name);
    }
    if path.ends_with("mixed-malformed-lines.txt") {
        assert_skipped_lines_are_numbered_right(&text, &parsed);
    } else {
        assert_eq!(parsed.skipped, [], "{}", path.display());
    }
}

/// Every `bad-` fixture has no usable line (a failed sample), and says where the bad lines are.
#[rstest]
fn every_bad_fixture_has_no_interface(#[files("fixtures/proc_net_dev/bad-*.txt")] path: PathBuf) {
    let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
    let parsed = parse(&text);
    assert_eq!(parsed.interfaces, [], "{}", path.display());
    assert_skipped_lines_are_numbered_right(&text, &parsed);
}

#[test]
fn the_bad_fixtures_say_what_is_wrong() {
    let truncated = parse_bytes(fixture!("bad-truncated-mid-line.txt"));
    assert_eq!(
        truncated.skipped,
        [ParseError {
            line: 3,
            kind: ParseErrorKind::FieldCount { found: 5 }
        }]
    );
    let garbage = parse_bytes(fixture!("bad-garbage.txt"));
    let kinds: Vec<&ParseErrorKind> = garbage.skipped.iter().map(|e| &e.kind).collect();
    assert_eq!(
        kinds,
        [
            &ParseErrorKind::MissingColon,
            &ParseErrorKind::MissingColon,
            &ParseErrorKind::BadNumber {
                column: 1,
                text: "1}".into()
            },
        ]
    );
    // Each binary line has a colon, and a NUL in what would be its name.
    let binary = parse_bytes(fixture!("bad-binary.txt"));
    let lines: Vec<usize> = binary.skipped.iter().map(|e| e.line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 6]);
    assert!(binary
        .skipped
        .iter()
        .all(|e| matches!(&e.kind, ParseErrorKind::InvalidName { name } if name.contains('\0'))));
    assert_eq!(parse_bytes(fixture!("bad-empty.txt")), Parsed::default());
    assert_eq!(
        parse_bytes(fixture!("bad-headers-only.txt")),
        Parsed::default()
    );
}

/// The kernel's `dev_valid_name()` byte for byte (`net/core/dev.c`, with `isspace()` from
/// `lib/ctype.c`), except that `:` is allowed, as 3.10 kernels allowed it.
#[rstest]
#[case::plain("eth0", true)]
#[case::one_byte("a", true)]
#[case::fifteen_bytes("abcdefghijklmno", true)]
#[case::sixteen_bytes("abcdefghijklmnop", false)]
#[case::empty("", false)]
#[case::dot(".", false)]
#[case::dot_dot("..", false)]
#[case::three_dots("...", true)]
#[case::slash("a/b", false)]
#[case::nul("a\0b", false)]
#[case::space("a b", false)]
#[case::tab("a\tb", false)]
#[case::vertical_tab("a\u{b}b", false)]
#[case::carriage_return("eth\r0", false)]
#[case::legacy_colon("team0:1", true)]
#[case::punctuation("a|b@c#d%e_f-g.h", true)]
#[case::utf8("wlän0", true)]
#[case::bytes_not_characters("ääääääää", false)]
#[case::fifteen_utf8_bytes("äääääääa", true)]
#[case::thin_space_has_no_space_byte("eth\u{2009}0", true)]
#[case::ideographic_space_has_no_space_byte("eth\u{3000}0", true)]
#[case::next_line_has_no_space_byte("eth\u{85}0", true)]
#[case::no_break_space_is_byte_a0("eth\u{a0}0", false)]
#[case::a_grave_holds_byte_a0("wlà0", false)]
#[case::replacement_counts_as_one_byte("abcdefghijklmn\u{FFFD}", true)]
#[case::replacements_over_the_limit("abcdefghijklm\u{FFFD}\u{FFFD}\u{FFFD}", false)]
fn names_follow_the_kernels_rules(#[case] name: &str, #[case] valid: bool) {
    assert_eq!(is_valid_name(name), valid, "{name:?}");
    // The parser applies the same rule to the text before the last colon.
    let line = format!("{name}: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16");
    let parsed = parse_line(&line).map(|iface| iface.name);
    if valid {
        assert_eq!(parsed.as_deref(), Ok(name));
    } else {
        assert!(parsed.is_err(), "{parsed:?}");
    }
}

/// The parser's header rule, restated: a `|` and no `:`.
fn is_header(line: &str) -> bool {
    line.contains('|') && !line.contains(':')
}

/// The current kernel's format string (`dev_seq_printf_stats()`).
fn kernel_line(name: &str, c: &[u64; 16]) -> String {
    format!(
        "{name:>6}: {:7} {:7} {:4} {:4} {:4} {:5} {:10} {:9} {:8} {:7} {:4} {:4} {:4} {:5} {:7} {:10}\n",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13],
        c[14], c[15]
    )
}

/// The 2.6 kernels' format string, `"%6s:%8lu %7lu ..."`: no space after the colon, so a
/// counter of 8 digits or more is glued to it (psutil#248).
fn kernel_2_6_line(name: &str, c: &[u64; 16]) -> String {
    format!(
        "{name:>6}:{:8} {:7} {:4} {:4} {:4} {:5} {:10} {:9} {:8} {:7} {:4} {:4} {:4} {:5} {:7} {:10}\n",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13],
        c[14], c[15]
    )
}

/// Names Linux could have (by construction, not through `is_valid_name`), with the characters
/// that trip parsers up: colons, dots, `|`, non-ASCII, and U+FFFD for bytes that were not UTF-8.
fn valid_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9.:_@#%|äàé网\u{2009}\u{FFFD}-]{1,15}".prop_filter(
        "1 to 15 bytes, not . or .., no byte 0xA0",
        |name| {
            let bytes = name.len() - 2 * name.matches('\u{FFFD}').count();
            bytes <= 15 && name != "." && name != ".." && !name.contains('à')
        },
    )
}

/// Counters of every size: small ones padded, 8-digit ones glued in the 2.6 format, up to
/// `u64::MAX`.
fn counter() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..100u64,
        10_000_000..100_000_000u64,
        any::<u64>(),
        Just(MAX)
    ]
}

/// Lines that look like the real thing, with the quirks mixed in: odd names, missing colons,
/// too few or too many tokens, tokens that are not `u64`, and every kind of whitespace.
fn plausible_line() -> impl Strategy<Value = String> {
    let name = "[ a-zA-Z0-9.:_@|äà\u{a0}\u{3000}\u{FFFD}/-]{0,18}";
    let colon = prop_oneof![4 => Just(":"), 1 => Just("")];
    let token = prop_oneof![
        counter().prop_map(|n| n.to_string()),
        "[0-9]{1,25}",
        "[-+]?[0-9a-f]{1,4}",
    ];
    let gap = prop_oneof![
        Just(" "),
        Just("   "),
        Just("\t"),
        Just(""),
        Just("\r"),
        Just("\r\n"),
        Just("\n"),
    ];
    (
        name,
        colon,
        prop::collection::vec((gap.clone(), token), 0..20),
        gap,
    )
        .prop_map(|(name, colon, tokens, end)| {
            let mut line = format!("{name}{colon}");
            for (gap, token) in tokens {
                line.push_str(gap);
                line.push_str(&token);
            }
            line.push_str(end);
            line
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_any_text(text in any::<String>()) {
        let parsed = parse(&text);
        prop_assert!(parsed.interfaces.iter().all(|i| is_valid_name(&i.name)));
    }

    #[test]
    fn never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let parsed = parse_bytes(&bytes);
        prop_assert!(parsed.interfaces.iter().all(|i| is_valid_name(&i.name)));
    }

    /// No panic, and no line lost or misnumbered: every line that is neither blank nor a header
    /// is an interface or a skipped line, and each skipped line's number finds its problem.
    #[test]
    fn accounts_for_every_plausible_line(lines in prop::collection::vec(plausible_line(), 0..12)) {
        let text = format!("{HEADER}{}", lines.join("\n"));
        let parsed = parse(&text);
        let content_lines = text
            .split('\n')
            .filter(|l| !l.trim().is_empty() && !is_header(l))
            .count();
        prop_assert_eq!(parsed.interfaces.len() + parsed.skipped.len(), content_lines);
        prop_assert!(parsed.skipped.windows(2).all(|w| w[0].line < w[1].line));
        assert_skipped_lines_are_numbered_right(&text, &parsed);
    }

    /// What the kernel prints, current or 2.6 format, parses back to exactly the right counters.
    #[test]
    fn kernel_output_round_trips(
        name in valid_name(),
        columns in prop::array::uniform16(counter()),
        old_format in any::<bool>(),
    ) {
        let line = if old_format {
            kernel_2_6_line(&name, &columns)
        } else {
            kernel_line(&name, &columns)
        };
        let parsed = parse(&format!("{HEADER}{line}"));
        prop_assert_eq!(parsed.skipped, vec![]);
        prop_assert_eq!(parsed.interfaces.len(), 1);
        prop_assert_eq!(&parsed.interfaces[0].name, &name);
        let expected = [
            columns[0], columns[1], columns[2], columns[3],
            columns[8], columns[9], columns[10], columns[11],
        ];
        prop_assert_eq!(parsed.interfaces[0].counters.to_array(), expected);
    }
}
