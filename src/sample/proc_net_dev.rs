//! PURE: parses the text of `/proc/net/dev` into per-interface counters.
//!
//! The rules follow the format's history (`shared/reference/proc-net-dev.md`):
//! - The two header lines are recognised by shape (a `|` and no `:`), never by exact text: the
//!   2021 net-next experiment changed them, and other kernels may again.
//! - A data line is split at its **last** `:`. Numbers never contain one, so this handles both the
//!   old glued form `eth0:4046496815 ...` (2.6 kernels, psutil#248, gopsutil#28) and legacy names
//!   with a colon such as `team0:1` (CentOS 7, prometheus/procfs#421).
//! - The counters are split on ASCII whitespace, never at fixed columns: the widths are minimums.
//! - At least 16 counters, each a `u64`. Extra trailing columns are ignored.
//! - A malformed line is skipped and reported with its line number; the rest of the file is used.
//! - CRLF line ends, blank lines and a missing final newline are accepted.

use std::fmt;

/// The kernel's name length limit (`IFNAMSIZ` minus the NUL).
pub const MAX_NAME_BYTES: usize = 15;

/// The number of counter columns the kernel prints per interface.
pub const COUNTER_COLUMNS: usize = 16;

/// The 16 counters of a `/proc/net/dev` line, in the kernel's `/sys/class/net/*/statistics`
/// names. The first eight are the ones ifstatsd tracks (rates, rings, the reset and wrap policy,
/// the state file: [`Counters::to_array`]); the other eight are served as they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped (the kernel adds `rx_missed_errors` here).
    pub rx_dropped: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Transmit errors.
    pub tx_errors: u64,
    /// Packets dropped on transmit.
    pub tx_dropped: u64,
    /// Receive FIFO (ring buffer) overruns (`rx_fifo_errors`).
    pub rx_fifo: u64,
    /// Receive framing errors (`rx_frame_errors`, with length and CRC errors).
    pub rx_frame: u64,
    /// Compressed packets received (CSLIP, PPP).
    pub rx_compressed: u64,
    /// Multicast packets received.
    pub rx_multicast: u64,
    /// Transmit FIFO errors (`tx_fifo_errors`).
    pub tx_fifo: u64,
    /// Collisions detected while sending (`collisions`).
    pub tx_colls: u64,
    /// Carrier errors while sending (`tx_carrier_errors` and friends).
    pub tx_carrier: u64,
    /// Compressed packets sent.
    pub tx_compressed: u64,
}

/// The number of tracked counters: [`Counters::to_array`]'s length.
pub const COUNTERS: usize = 8;

/// The names of [`Counters`]' fields, in [`Counters::to_array`] order.
pub const COUNTER_NAMES: [&str; COUNTERS] = [
    "rx_bytes",
    "rx_packets",
    "rx_errors",
    "rx_dropped",
    "tx_bytes",
    "tx_packets",
    "tx_errors",
    "tx_dropped",
];

impl Counters {
    /// The tracked counters as an array, in [`COUNTER_NAMES`] order.
    pub fn to_array(self) -> [u64; COUNTERS] {
        [
            self.rx_bytes,
            self.rx_packets,
            self.rx_errors,
            self.rx_dropped,
            self.tx_bytes,
            self.tx_packets,
            self.tx_errors,
            self.tx_dropped,
        ]
    }

    /// The inverse of [`Counters::to_array`]; the untracked counters are 0.
    pub fn from_array(a: [u64; COUNTERS]) -> Self {
        let [rx_bytes, rx_packets, rx_errors, rx_dropped, tx_bytes, tx_packets, tx_errors, tx_dropped] =
            a;
        Counters {
            rx_bytes,
            rx_packets,
            rx_errors,
            rx_dropped,
            tx_bytes,
            tx_packets,
            tx_errors,
            tx_dropped,
            ..Counters::default()
        }
    }
}

/// One interface's line of `/proc/net/dev`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceCounters {
    /// The interface name, as the kernel prints it.
    pub name: String,
    /// Its counters.
    pub counters: Counters,
}

/// What [`parse`] found in a file: the interfaces, and the lines it had to skip.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The interfaces of the well-formed lines, in file order. A name listed twice (never seen
    /// from a real kernel) appears twice here; the statistics keep the first.
    pub interfaces: Vec<InterfaceCounters>,
    /// One error per skipped line.
    pub skipped: Vec<ParseError>,
}

/// A line that could not be used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The 1-based line number in the file.
    pub line: usize,
    /// What was wrong with it.
    pub kind: ParseErrorKind,
}

/// What was wrong with a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// A non-blank line with no `:` that is not a header.
    MissingColon,
    /// Nothing but whitespace before the colon.
    EmptyName,
    /// A name the kernel would refuse ([`is_valid_name`]): over 15 bytes, `.`, `..`, or with `/`,
    /// whitespace or NUL.
    InvalidName {
        /// The name, cut to 20 characters.
        name: String,
    },
    /// Fewer than 16 counters.
    FieldCount {
        /// How many there were.
        found: usize,
    },
    /// A counter that is not a `u64`.
    BadNumber {
        /// The 1-based counter column.
        column: usize,
        /// The text found there, cut to 20 characters.
        text: String,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.kind {
            ParseErrorKind::MissingColon => write!(f, "no ':' after the interface name"),
            ParseErrorKind::EmptyName => write!(f, "empty interface name"),
            ParseErrorKind::InvalidName { name } => {
                write!(f, "{name:?} is not a valid interface name")
            }
            ParseErrorKind::FieldCount { found } => {
                write!(f, "expected {COUNTER_COLUMNS} counters, found {found}")
            }
            ParseErrorKind::BadNumber { column, text } => {
                write!(f, "counter {column} is not an unsigned integer: {text:?}")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses the whole text of `/proc/net/dev`. Never fails as a whole: a file with no usable line
/// gives an empty `interfaces`, which the caller treats as a failed sample.
pub fn parse(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    for entry in entries(text) {
        match entry {
            Ok(entry) => parsed.interfaces.push(entry.into()),
            Err(error) => parsed.skipped.push(error),
        }
    }
    parsed
}

/// One well-formed data line, its name borrowed from the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The interface name, as the kernel prints it.
    pub name: &'a str,
    /// Its counters.
    pub counters: Counters,
}

impl From<Entry<'_>> for InterfaceCounters {
    fn from(entry: Entry<'_>) -> Self {
        InterfaceCounters {
            name: entry.name.to_owned(),
            counters: entry.counters,
        }
    }
}

/// The data lines of `text` in file order, each an interface or the reason it is skipped; header
/// and blank lines are passed over. [`parse`] collects them; the sampler reads them as they come,
/// so that a well-formed file is parsed without allocating.
pub fn entries(text: &str) -> impl Iterator<Item = Result<Entry<'_>, ParseError>> {
    text.split('\n').enumerate().filter_map(|(index, raw)| {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        // The colon first: every data line has one, near its start, and a line with one is
        // neither blank nor a header (a header has a `|` and no `:`, as a name may hold a `|`).
        let entry = match first_colon(line) {
            Some(colon) => entry_at(line, colon),
            None if line.trim().is_empty() || line.contains('|') => return None,
            None => Err(ParseErrorKind::MissingColon),
        };
        Some(entry.map_err(|kind| ParseError {
            line: index + 1,
            kind,
        }))
    })
}

/// Where the first `:` of `line` is. A byte search: the colon is a few bytes in.
fn first_colon(line: &str) -> Option<usize> {
    line.bytes().position(|b| b == b':')
}

/// Whether Linux could have an interface of this name: the rules of the kernel's
/// `dev_valid_name()` (1 to 15 bytes; not `.` or `..`; no `/`, whitespace or NUL), except that
/// `:` is allowed, as 3.10 kernels allowed it (`team0:1`, prometheus/procfs#421).
///
/// The kernel checks bytes, not characters, and the name is checked the same way:
/// - Whitespace is what the kernel's `isspace()` matches (`lib/ctype.c`): ASCII whitespace and
///   the Latin-1 no-break space 0xA0, wherever that byte appears. So `eth\u{2009}0` (a thin
///   space, bytes E2 80 89) is a valid name, and `wlà0` (C3 A0) is not.
/// - U+FFFD counts as one byte: it stands for bytes that were not UTF-8, at least one each, as
///   the sampler reads the file lossily. A 15-byte name with one such byte is 17 bytes here.
pub fn is_valid_name(name: &str) -> bool {
    let kernel_bytes: usize = if name.is_ascii() {
        name.len()
    } else {
        name.chars()
            .map(|c| match c {
                char::REPLACEMENT_CHARACTER => 1,
                c => c.len_utf8(),
            })
            .sum()
    };
    (1..=MAX_NAME_BYTES).contains(&kernel_bytes)
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b'\0' || is_kernel_space(b))
}

/// The kernel's `isspace()` (`lib/ctype.c`): `\t`, `\n`, `\v`, `\f`, `\r`, space, and 0xA0.
fn is_kernel_space(byte: u8) -> bool {
    matches!(byte, b'\t'..=b'\r' | b' ' | 0xA0)
}

/// Parses one data line: `name: c1 c2 ... c16`, split at the last colon.
pub fn parse_line(line: &str) -> Result<InterfaceCounters, ParseErrorKind> {
    parse_entry(line).map(Into::into)
}

/// [`parse_line`], with the name borrowed from `line`.
pub fn parse_entry(line: &str) -> Result<Entry<'_>, ParseErrorKind> {
    entry_at(line, first_colon(line).ok_or(ParseErrorKind::MissingColon)?)
}

/// [`parse_entry`] of a line whose first `:` is at `first_colon`.
fn entry_at(line: &str, first_colon: usize) -> Result<Entry<'_>, ParseErrorKind> {
    // The first colon rather than a search of the whole line from its end for the last: where the
    // columns after it are plain numbers (no colon), it is the last.
    let (raw_name, columns) = match plain_columns(&line[first_colon + 1..]) {
        Some(columns) => (&line[..first_colon], Some(columns)),
        None => (&line[..line.rfind(':').unwrap_or(first_colon)], None),
    };
    // ASCII whitespace only: the kernel pads names with spaces, and a name may hold other spaces.
    let name = raw_name.trim_ascii();
    if name.is_empty() {
        return Err(ParseErrorKind::EmptyName);
    }
    if !is_valid_name(name) {
        return Err(ParseErrorKind::InvalidName {
            name: name.chars().take(20).collect(),
        });
    }
    let columns = match columns {
        Some(columns) => columns,
        None => general_columns(&line[raw_name.len() + 1..])?,
    };
    Ok(Entry {
        name,
        counters: Counters {
            rx_bytes: columns[0],
            rx_packets: columns[1],
            rx_errors: columns[2],
            rx_dropped: columns[3],
            tx_bytes: columns[8],
            tx_packets: columns[9],
            tx_errors: columns[10],
            tx_dropped: columns[11],
            rx_fifo: columns[4],
            rx_frame: columns[5],
            rx_compressed: columns[6],
            rx_multicast: columns[7],
            tx_fifo: columns[12],
            tx_colls: columns[13],
            tx_carrier: columns[14],
            tx_compressed: columns[15],
        },
    })
}

/// The counters of a line as the kernel writes it: exactly [`COUNTER_COLUMNS`] plain decimal
/// numbers, each fitting a u64, between ASCII whitespace. `None` for anything else, which
/// [`general_columns`] then reads or reports (a `+` sign, extra columns, bad numbers): the same
/// outcome, in one pass over the bytes instead of a token split and a `str::parse` per column.
fn plain_columns(numbers: &str) -> Option<[u64; COUNTER_COLUMNS]> {
    let bytes = numbers.as_bytes();
    let mut at = 0;
    let mut columns = [0u64; COUNTER_COLUMNS];
    for column in &mut columns {
        while bytes.get(at).is_some_and(|&b| is_column_gap(b)) {
            at += 1;
        }
        let digits_at = at;
        while let Some(&byte @ b'0'..=b'9') = bytes.get(at) {
            *column = column
                .checked_mul(10)?
                .checked_add(u64::from(byte - b'0'))?;
            at += 1;
        }
        // No digit here: the end of the line, or a byte that is neither a digit nor a gap.
        if at == digits_at {
            return None;
        }
    }
    bytes[at..]
        .iter()
        .all(|&b| is_column_gap(b))
        .then_some(columns)
}

/// What `split_ascii_whitespace` splits at.
fn is_column_gap(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r')
}

/// The counters of any line: the first [`COUNTER_COLUMNS`] whitespace-separated columns, each
/// what `u64::from_str` reads; the first that is not, or too few of them, is the error.
fn general_columns(numbers: &str) -> Result<[u64; COUNTER_COLUMNS], ParseErrorKind> {
    let mut columns = [0u64; COUNTER_COLUMNS];
    let mut found = 0;
    for token in numbers.split_ascii_whitespace() {
        if found < COUNTER_COLUMNS {
            columns[found] = token.parse().map_err(|_| ParseErrorKind::BadNumber {
                column: found + 1,
                text: token.chars().take(20).collect(),
            })?;
        }
        found += 1;
    }
    if found < COUNTER_COLUMNS {
        return Err(ParseErrorKind::FieldCount { found });
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIXTEEN: &str = " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16";

    #[rstest::rstest]
    #[case::the_kernels_format(
        "   123456  789    0    0    0     0          0         0  42  7 0 0 0 0 0 0",
        true
    )]
    #[case::tabs_and_a_carriage_return(
        "1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\t13\t14\t15\t16\r",
        true
    )]
    #[case::largest_u64(&SIXTEEN.replace(" 16", " 18446744073709551615"), true)]
    #[case::u64_overflow(&SIXTEEN.replace(" 16", " 18446744073709551616"), false)]
    #[case::leading_zeros(&SIXTEEN.replace(" 1 ", " 0001 "), true)]
    #[case::a_plus_sign(&SIXTEEN.replace(" 2 ", " +2 "), false)]
    #[case::a_minus_sign(&SIXTEEN.replace(" 2 ", " -2 "), false)]
    #[case::extra_columns(&format!("{SIXTEEN} 17 x"), false)]
    #[case::too_few(" 1 2 3", false)]
    #[case::none("", false)]
    #[case::garbage(&SIXTEEN.replace(" 9 ", " 9x "), false)]
    #[case::non_ascii_whitespace(&SIXTEEN.replace(" 9 ", "\u{a0}9 "), false)]
    fn the_fast_path_reads_what_the_general_one_reads(#[case] numbers: &str, #[case] fast: bool) {
        let plain = plain_columns(numbers);
        assert_eq!(plain.is_some(), fast, "{numbers:?}");
        if let Some(columns) = plain {
            assert_eq!(Ok(columns), general_columns(numbers));
        }
    }

    /// Column texts near the kernel's: 15 to 17 tokens, mostly numbers of up to 21 digits (past
    /// u64), now and then a sign, a letter, a colon or a no-break space, between runs of any
    /// ASCII whitespace, now and then none (which joins two tokens).
    fn columns_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let token = prop_oneof![30 => "[0-9]{1,21}", 1 => "[+x:\u{a0}]"];
        let gap = prop_oneof![19 => "[ \t\r\n\x0c]{1,3}", 1 => Just(String::new())];
        (prop::collection::vec((gap.clone(), token), 15..=17), gap).prop_map(|(tokens, end)| {
            let mut text: String = tokens
                .into_iter()
                .map(|(gap, token)| gap + &token)
                .collect();
            text.push_str(&end);
            text
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        /// The fast path reads what the general one reads wherever it reads at all, and it reads
        /// every text of exactly 16 plain decimal numbers that fit a u64.
        #[test]
        fn the_fast_path_agrees_with_the_general_one(numbers in columns_text()) {
            let plain = plain_columns(&numbers);
            if let Some(columns) = plain {
                proptest::prop_assert_eq!(Ok(columns), general_columns(&numbers));
            }
            let tokens: Vec<&str> = numbers.split_ascii_whitespace().collect();
            let readable = tokens.len() == COUNTER_COLUMNS
                && tokens.iter().all(|t| t.bytes().all(|b| b.is_ascii_digit()))
                && general_columns(&numbers).is_ok();
            proptest::prop_assert_eq!(plain.is_some(), readable, "{:?}", numbers);
        }
    }

    #[test]
    fn lines_the_fast_path_leaves_parse_as_before() {
        // A colon in the name: the columns after the first colon are not plain numbers.
        let team = parse_line(&format!("  team0:1:{SIXTEEN}")).unwrap();
        assert_eq!((team.name.as_str(), team.counters.rx_bytes), ("team0:1", 1));
        // ... nor here, and split at the last colon, as always, the name is not one.
        let bad = parse_line(&format!("  eth0:{}", SIXTEEN.replace(" 5 ", " 5:5 ")));
        assert!(
            matches!(bad, Err(ParseErrorKind::InvalidName { .. })),
            "{bad:?}"
        );
        let plus = parse_line(&format!("eth0:{}", SIXTEEN.replace(" 2 ", " +2 "))).unwrap();
        assert_eq!(plus.counters.rx_packets, 2);
        let extra = parse_line(&format!("eth0:{SIXTEEN} 17 x")).unwrap();
        assert_eq!(extra.counters.tx_compressed, 16);
        let overflow = parse_line(&format!(
            "eth0:{}",
            SIXTEEN.replace(" 16", " 18446744073709551616")
        ));
        assert!(matches!(
            overflow,
            Err(ParseErrorKind::BadNumber { column: 16, .. })
        ));
    }

    #[test]
    fn counters_round_trip_through_the_array() {
        let c = Counters::from_array([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(c.rx_dropped, 4);
        assert_eq!(c.tx_bytes, 5);
        assert_eq!(c.to_array(), [1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn takes_the_right_columns() {
        let iface = parse_line("eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16").unwrap();
        assert_eq!(iface.counters.to_array(), [1, 2, 3, 4, 9, 10, 11, 12]);
        let c = iface.counters;
        let others = [c.rx_fifo, c.rx_frame, c.rx_compressed, c.rx_multicast];
        assert_eq!(others, [5, 6, 7, 8]);
        let others = [c.tx_fifo, c.tx_colls, c.tx_carrier, c.tx_compressed];
        assert_eq!(others, [13, 14, 15, 16]);
    }

    #[test]
    fn error_messages_name_line_and_problem() {
        let e = ParseError {
            line: 4,
            kind: ParseErrorKind::FieldCount { found: 15 },
        };
        assert_eq!(e.to_string(), "line 4: expected 16 counters, found 15");
    }
}
