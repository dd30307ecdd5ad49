//! The parser against the files in `fixtures/proc_net_dev/`, one named case per quirk, two sweeps
//! over every fixture, and properties over arbitrary input.
//!
//! rstest's `#[files]` sweeps see a new fixture only when this file recompiles: `make test`
//! touches it first.

use std::path::PathBuf;

use ifstatsd::proc_net_dev::{is_valid_name, parse, ParseError, ParseErrorKind, Parsed};
use proptest::prelude::*;
use rstest::rstest;

/// Parses a fixture's bytes the way the sampler does: bytes that are not UTF-8 become U+FFFD.
fn parse_bytes(bytes: &[u8]) -> Parsed {
    parse(&String::from_utf8_lossy(bytes))
}

fn counters(parsed: &Parsed, name: &str) -> [u64; 8] {
    parsed
        .interfaces
        .iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("{name} not parsed from {parsed:?}"))
        .counters
        .to_array()
}

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../fixtures/proc_net_dev/", $name))
    };
}

const MAX: u64 = u64::MAX;

/// Each good fixture: one interface's counters (rx bytes, packets, errs, drop, then tx), and how
/// many interfaces the file has.
#[rstest]
#[case::capture_of_this_ci_machine(fixture!("linux-6.x-capture-ci.txt"), "eth0", [108862818, 5731, 0, 0, 353048, 3389, 0, 0], 4)]
#[case::capture_in_a_netns_with_veth(fixture!("linux-6.x-capture-netns-veth.txt"), "veth-a", [266, 3, 0, 0, 266, 3, 0, 0], 3)]
#[case::openwrt_router(fixture!("openwrt-router-typical.txt"), "pppoe-wan", [3701224500, 3380021, 0, 0, 970012050, 2190055, 0, 0], 6)]
#[case::vlan_name_with_a_dot(fixture!("openwrt-router-typical.txt"), "eth0.2", [3720081231, 3390100, 0, 0, 988012200, 2200100, 0, 0], 6)]
#[case::errors_and_drops(fixture!("openwrt-router-typical.txt"), "wlan0", [812045511, 1455021, 7, 1, 3290114522, 2780211, 2, 9], 6)]
#[case::no_space_after_colon(fixture!("linux-2.6-no-space-after-colon.txt"), "eth0", [4046496815, 27661328, 0, 0, 1720447462, 18291031, 0, 0], 3)]
#[case::glued_short_line(fixture!("linux-2.6-no-space-after-colon.txt"), "eth1", [0, 0, 0, 0, 0, 0, 0, 0], 3)]
#[case::legacy_colon_in_name(fixture!("centos7-colon-in-name.txt"), "team0:1", [100, 1, 0, 0, 200, 2, 0, 0], 3)]
#[case::legacy_colon_glued(fixture!("centos7-colon-in-name.txt"), "bond0:1", [7000, 70, 0, 0, 8000, 80, 0, 0], 3)]
#[case::fifteen_byte_name(fixture!("linux-6.x-long-names-no-padding.txt"), "abcdefghijklmno", [1, 2, 3, 4, 5, 6, 7, 8], 3)]
#[case::long_name_no_padding(fixture!("linux-6.x-long-names-no-padding.txt"), "enp0s31f6", [123456789, 98765, 0, 0, 23456789, 8765, 0, 0], 3)]
#[case::u64_max(fixture!("u64-max-counters.txt"), "eth0", [MAX; 8], 2)]
#[case::widened_2021_format(fixture!("netnext-2021-widened-format.txt"), "eth0", [123456789012, 98765432, 1, 2, 987654321, 7654321, 3, 4], 2)]
#[case::no_trailing_newline(fixture!("no-trailing-newline.txt"), "eth0", [500, 5, 0, 0, 600, 6, 0, 0], 2)]
#[case::crlf(fixture!("crlf-line-ends.txt"), "eth0", [500, 5, 0, 0, 600, 6, 0, 0], 2)]
#[case::blank_lines(fixture!("blank-lines.txt"), "eth0", [500, 5, 0, 0, 600, 6, 0, 0], 2)]
#[case::extra_columns_ignored(fixture!("extra-columns.txt"), "eth0", [500, 5, 0, 0, 600, 6, 0, 0], 1)]
#[case::good_lines_among_bad(fixture!("mixed-malformed-lines.txt"), "eth0", [500, 5, 0, 0, 600, 6, 0, 0], 2)]
#[case::pipe_in_name(fixture!("pipe-in-name.txt"), "a|b", [77, 7, 0, 0, 88, 8, 0, 0], 2)]
#[case::non_ascii_name(fixture!("non-ascii-names.txt"), "wlän0", [1234, 12, 0, 0, 4321, 21, 0, 0], 2)]
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

#[test]
fn names_are_trimmed_and_split_at_the_last_colon() {
    let parsed = parse_bytes(fixture!("centos7-colon-in-name.txt"));
    let names: Vec<&str> = parsed.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["team0", "team0:1", "bond0:1"]);
    let crlf = parse_bytes(fixture!("crlf-line-ends.txt"));
    assert!(crlf.interfaces.iter().all(|i| !i.name.contains('\r')));
    assert!(crlf.skipped.is_empty());
}

#[test]
fn malformed_lines_are_skipped_with_their_line_numbers() {
    let parsed = parse_bytes(fixture!("mixed-malformed-lines.txt"));
    let names: Vec<&str> = parsed.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["lo", "eth0"]);
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

#[test]
fn headers_of_any_shape_are_not_errors() {
    for file in [
        &fixture!("netnext-2021-widened-format.txt")[..],
        fixture!("openwrt-router-typical.txt"),
        fixture!("bad-headers-only.txt"),
    ] {
        assert!(parse_bytes(file).skipped.is_empty());
    }
}

/// Every good fixture gives interfaces with names Linux could have, and no skipped line unless
/// the fixture is about skipped lines.
#[rstest]
fn every_good_fixture_parses(
    #[files("fixtures/proc_net_dev/*.txt")]
    #[exclude("bad-")]
    path: PathBuf,
) {
    let parsed = parse_bytes(&std::fs::read(&path).unwrap());
    assert!(!parsed.interfaces.is_empty(), "{}", path.display());
    assert!(parsed.interfaces.iter().all(|i| is_valid_name(&i.name)));
    if !path.ends_with("mixed-malformed-lines.txt") {
        assert_eq!(parsed.skipped, [], "{}", path.display());
    }
}

/// Every `bad-` fixture has no usable line: a failed sample.
#[rstest]
fn every_bad_fixture_has_no_interface(#[files("fixtures/proc_net_dev/bad-*.txt")] path: PathBuf) {
    let parsed = parse_bytes(&std::fs::read(&path).unwrap());
    assert_eq!(parsed.interfaces, [], "{}", path.display());
    assert!(parsed.skipped.iter().all(|e| e.line > 0));
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
    assert_eq!(parse_bytes(fixture!("bad-garbage.txt")).skipped.len(), 3);
    assert_eq!(parse_bytes(fixture!("bad-empty.txt")), Parsed::default());
}

/// The parser's header rule, restated: a `|` and no `:`.
fn is_header(line: &str) -> bool {
    line.contains('|') && !line.contains(':')
}

/// The kernel's format string, for the round-trip property.
fn kernel_line(name: &str, c: &[u64; 16]) -> String {
    format!(
        "{name:>6}: {:7} {:7} {:4} {:4} {:4} {:5} {:10} {:9} {:8} {:7} {:4} {:4} {:4} {:5} {:7} {:10}\n",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13],
        c[14], c[15]
    )
}

/// Lines that look like the real thing, with the quirks mixed in.
fn plausible_line() -> impl Strategy<Value = String> {
    let name = "[a-zA-Z0-9.:_@|ä-]{0,17}";
    let token = prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        "[0-9]{1,25}",
        "-?[0-9a-f]{1,4}",
    ];
    let space = prop_oneof![Just(" "), Just("  "), Just("\t"), Just(""), Just("\r")];
    (
        name,
        space,
        prop::collection::vec((token, space_again()), 0..20),
    )
        .prop_map(move |(name, space, tokens)| {
            let mut line = format!("{name}:{space}");
            for (token, gap) in tokens {
                line.push_str(&token);
                line.push_str(gap);
            }
            line
        })
}

fn space_again() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(" "), Just("   "), Just("\t"), Just("\r\n"), Just("\n")]
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
        let _ = parse_bytes(&bytes);
    }

    /// No panic, and no line silently lost: every line that is neither blank nor a header is
    /// either an interface or a skipped line.
    #[test]
    fn accounts_for_every_plausible_line(lines in prop::collection::vec(plausible_line(), 0..12)) {
        let text = lines.join("\n");
        let parsed = parse(&text);
        let content_lines = text
            .split('\n')
            .filter(|l| !l.trim().is_empty() && !is_header(l))
            .count();
        prop_assert_eq!(parsed.interfaces.len() + parsed.skipped.len(), content_lines);
    }

    #[test]
    fn kernel_output_round_trips(
        name in "[a-z][a-z0-9.:_-]{0,14}",
        columns in prop::array::uniform16(any::<u64>()),
    ) {
        let text = format!(
            "Inter-|   Receive |  Transmit\n face |bytes    packets|bytes    packets\n{}",
            kernel_line(&name, &columns)
        );
        let parsed = parse(&text);
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
