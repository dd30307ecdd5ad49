//! The command line: flags, their defaults, and the `--help` text. Parsing is pure over the
//! argument list, so every rule is tested without a process.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::sample::filter::Filter;
use crate::sample::proc_net_dev::is_valid_name;
use crate::sample::{DEFAULT_SOURCE, DEFAULT_SYSFS};
use crate::stats::calendar::BILLING_DAYS;

/// The default `--listen` address: loopback only, so nothing is exposed by accident.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9310";
/// The default `--interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// The shortest `--interval`: below it the rates measure scheduler jitter, not traffic.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// The longest `--interval`: one sample per 15-minute window at least.
pub const MAX_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// The default `--save-interval`.
pub const DEFAULT_SAVE_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// The default `--boot-id-file`.
pub const DEFAULT_BOOT_ID_FILE: &str = "/proc/sys/kernel/random/boot_id";

/// The default `--max-interfaces`: at the default interval, 128 rings take 3.4 MB.
pub const DEFAULT_MAX_INTERFACES: usize = 128;
/// The largest `--max-interfaces` accepted.
pub const MAX_INTERFACES_LIMIT: usize = 100_000;

/// The default `--max-connections`: a router's LAN, a dashboard or two, Prometheus, scripts.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// The default `--idle-timeout`: longer than the dashboard's 5 s refresh.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// The default `--write-timeout`.
pub const DEFAULT_WRITE_TIMEOUT: Duration = crate::serve::WRITE_TIMEOUT;

/// Everything the daemon needs to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Where the HTTP server listens.
    pub listen: SocketAddr,
    /// The file to sample, normally `/proc/net/dev`.
    pub source: PathBuf,
    /// The sysfs directory with one subdirectory per interface (ifindex, operstate).
    pub sysfs: PathBuf,
    /// The time between samples.
    pub interval: Duration,
    /// The most verbose level logged.
    pub log_level: log::LevelFilter,
    /// Where to save and restore the statistics; `None`: no persistence.
    pub state_file: Option<PathBuf>,
    /// How often to save; zero: only at exit.
    pub save_interval: Duration,
    /// Where the kernel's boot id is read from.
    pub boot_id_file: PathBuf,
    /// Which interfaces to keep.
    pub filter: Filter,
    /// At most this many interfaces are tracked; newer ones are refused.
    pub max_interfaces: usize,
    /// Where the log goes.
    pub log_target: LogTarget,
    /// At most this many HTTP connections; the most idle beyond are cut.
    pub max_connections: usize,
    /// A connection with no request answered for this long is cut.
    pub idle_timeout: Duration,
    /// A write to a client blocked this long abandons the response and cuts the connection.
    pub write_timeout: Duration,
    /// `--link-speed NAME=RATE`: each named interface's capacity in bit/s, instead of (or
    /// below) the speed its driver reports.
    pub link_speeds: Vec<(String, u64)>,
    /// The day of the month each billing cycle starts, 1 to 28.
    pub billing_day: u8,
    /// Quotas per billing cycle, in bytes received plus sent, by interface name.
    pub quotas: Vec<(String, u64)>,
}

/// Where the log goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogTarget {
    /// Standard error (procd, systemd and terminals take it from there).
    Stderr,
    /// The local syslog socket, `/dev/log` (OpenWrt's logd, syslog daemons).
    Syslog,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN.parse().expect("the default address parses"),
            source: PathBuf::from(DEFAULT_SOURCE),
            sysfs: PathBuf::from(DEFAULT_SYSFS),
            interval: DEFAULT_INTERVAL,
            log_level: log::LevelFilter::Info,
            state_file: None,
            save_interval: DEFAULT_SAVE_INTERVAL,
            boot_id_file: PathBuf::from(DEFAULT_BOOT_ID_FILE),
            filter: Filter::default(),
            max_interfaces: DEFAULT_MAX_INTERFACES,
            log_target: LogTarget::Stderr,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            link_speeds: Vec::new(),
            billing_day: 1,
            quotas: Vec::new(),
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    /// Run the daemon.
    Run(Box<Config>),
    /// Print [`HELP`] and exit 0.
    Help,
    /// Print the version and exit 0.
    Version,
}

/// A command-line mistake, printed as one line before exiting with status 2.
#[derive(Debug, PartialEq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (try --help)", self.0)
    }
}

impl std::error::Error for UsageError {}

impl From<lexopt::Error> for UsageError {
    fn from(e: lexopt::Error) -> Self {
        UsageError(e.to_string())
    }
}

/// The `--help` text.
pub const HELP: &str = "\
ifstatsd: live per-interface traffic statistics from /proc/net/dev over HTTP

Usage: ifstatsd [OPTIONS]

Options:
  --listen ADDR:PORT    address to serve HTTP on [default: 127.0.0.1:9310]
  --source PATH         the /proc/net/dev file to sample [default: /proc/net/dev]
  --sysfs DIR           where to read link speeds, and ifindex and operstate when
                        the kernel's link table (rtnetlink) cannot say
                        [default: /sys/class/net]
  --interval DURATION   time between samples: 10s, 500ms, 1m or plain seconds;
                        from 100ms to 15m [default: 10s]
  --log-level LEVEL     error, warn, info, debug or trace [default: info]
  --state-file PATH     save the statistics there (at exit and every save
                        interval) and restore them at start-up [default: off]
  --save-interval DURATION
                        time between saves to the state file: 30s, 15m, 1h;
                        0 saves only at exit [default: 15m]
  --boot-id-file PATH   the kernel's boot id, to tell a reboot from a restart
                        [default: /proc/sys/kernel/random/boot_id]
  --include GLOB        keep only interfaces matching a glob (* and ?);
                        repeatable [default: all]
  --exclude GLOB        drop interfaces matching a glob; repeatable
  --max-interfaces N    track at most N interfaces; newer ones are refused
                        and counted on /health [default: 128]
  --log-target TARGET   stderr or syslog (/dev/log) [default: stderr]
  --max-connections N   at most N HTTP connections; the most idle beyond are
                        cut [default: 64]
  --idle-timeout DURATION
                        cut a connection with no request answered for this
                        long [default: 15s]
  --write-timeout DURATION
                        abandon a response (and its connection) when a write
                        blocks this long [default: 300ms]
  --link-speed NAME=RATE
                        the capacity of interface NAME in bit/s, with an SI
                        unit: wan=100M, eth0=1G, wwan0=2.5M; for links whose
                        speed the kernel does not know or that are shaped
                        below it; repeatable [default: the driver's speed]
  --billing-day N       the day of the month (1 to 28) each billing cycle
                        starts, at local midnight [default: 1]
  --quota NAME=SIZE     a cap per billing cycle on the interface's received
                        plus sent bytes: wan=500G, lte=20GiB (SI: k, M, G, T,
                        P; IEC: Ki, Mi, Gi, Ti, Pi; B optional); repeatable
  -h, --help            print this help and exit
  -V, --version         print the version and exit

Every option can also be set with an environment variable named after it:
IFSTATSD_LISTEN, IFSTATSD_LOG_LEVEL, IFSTATSD_INCLUDE='eth* wlan*', ...
A flag wins over its variable.

Routes (GET and HEAD):
  /                                      the live dashboard
  /api/v1/interfaces                     every interface seen in the last hour
  /api/v1/interface/{net_id}/stats       one interface's counters, rates and uptime
  /api/v1/interface/{net_id}/history     its rates per interval (?window=1m|5m|15m|60m)
  /api/v1/interface/{net_id}/usage       its daily, monthly and billing-cycle totals
  /health                                200 ok, or 503 degraded
  /metrics                               Prometheus text format
  /openapi.yaml                          this API's OpenAPI 3.0.3 document
  /docs                                  Swagger UI over it
";

/// Every option that takes a value. Each is also read from the environment variable
/// `IFSTATSD_<OPTION>` (`--log-level` from `IFSTATSD_LOG_LEVEL`); a flag wins over its variable.
pub const OPTIONS: [&str; 18] = [
    "listen",
    "source",
    "sysfs",
    "interval",
    "log-level",
    "log-target",
    "state-file",
    "save-interval",
    "boot-id-file",
    "include",
    "exclude",
    "max-interfaces",
    "max-connections",
    "idle-timeout",
    "write-timeout",
    "link-speed",
    "billing-day",
    "quota",
];

/// The options that may be given more than once. Their variables hold a list separated by
/// spaces or commas, which flags replace rather than extend.
const LISTS: [&str; 4] = ["include", "exclude", "link-speed", "quota"];

/// The environment variable of `option`.
pub fn env_name(option: &str) -> String {
    format!("IFSTATSD_{}", option.to_ascii_uppercase().replace('-', "_"))
}

/// Parses the arguments after the program name, over the process's environment.
pub fn parse_args<I>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    parse(args, |name| std::env::var_os(name))
}

/// Parses `args` over the environment `env` gives: variables first, then flags.
pub fn parse<I>(args: I, env: impl Fn(&str) -> Option<OsString>) -> Result<Command, UsageError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::prelude::*;
    let mut config = Config::default();
    for option in OPTIONS {
        let name = env_name(option);
        let Some(value) = env(&name) else { continue };
        let values: Vec<OsString> = if LISTS.contains(&option) {
            let text = value.to_string_lossy().into_owned();
            let items = text.split(|c: char| c == ',' || c.is_whitespace());
            items
                .filter(|item| !item.is_empty())
                .map(OsString::from)
                .collect()
        } else {
            vec![value]
        };
        for value in values {
            set(&mut config, option, &value)
                .map_err(|why| UsageError(format!("invalid {name}={value:?}: {why}")))?;
        }
    }
    let mut lists_given: Vec<String> = Vec::new();
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Long(option) if OPTIONS.contains(&option) => {
                let option = option.to_owned();
                let value = parser.value()?;
                if LISTS.contains(&option.as_str()) && !lists_given.contains(&option) {
                    // The first flag of a list replaces what its variable said.
                    clear_list(&mut config, &option);
                    lists_given.push(option.clone());
                }
                set(&mut config, &option, &value)
                    .map_err(|why| UsageError(format!("invalid --{option} {value:?}: {why}")))?;
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Run(Box::new(config)))
}

/// Sets one option from its text; the error says why the value is refused.
fn set(config: &mut Config, option: &str, value: &OsStr) -> Result<(), String> {
    let text = || value.to_str().ok_or_else(|| "not valid UTF-8".to_owned());
    match option {
        "listen" => {
            config.listen = text()?
                .parse()
                .map_err(|_| "expected IP:PORT, e.g. 127.0.0.1:9310 or [::1]:9310".to_owned())?;
        }
        "source" => config.source = value.into(),
        "sysfs" => config.sysfs = value.into(),
        "interval" => config.interval = parse_interval(text()?)?,
        "log-level" => {
            config.log_level = parse_log_level(text()?)
                .ok_or_else(|| "expected error, warn, info, debug or trace".to_owned())?;
        }
        "log-target" => {
            config.log_target = match text()? {
                "stderr" => LogTarget::Stderr,
                "syslog" => LogTarget::Syslog,
                _ => return Err("expected stderr or syslog".to_owned()),
            };
        }
        "state-file" => config.state_file = Some(value.into()),
        "save-interval" => config.save_interval = parse_save_interval(text()?)?,
        "boot-id-file" => config.boot_id_file = value.into(),
        "include" | "exclude" => {
            let glob = text()?;
            if glob.is_empty() {
                return Err("an empty glob matches nothing".to_owned());
            }
            let list = if option == "include" {
                &mut config.filter.include
            } else {
                &mut config.filter.exclude
            };
            list.push(glob.to_owned());
        }
        "max-connections" => {
            config.max_connections = text()?
                .parse()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| "expected a number from 1 to 10000".to_owned())?;
        }
        "link-speed" => {
            let (name, bits_per_sec) = parse_link_speed(text()?)?;
            if config.link_speeds.iter().any(|(known, _)| *known == name) {
                return Err(format!("{name} is given twice"));
            }
            config.link_speeds.push((name, bits_per_sec));
        }
        "idle-timeout" => config.idle_timeout = parse_timeout(text()?)?,
        "write-timeout" => config.write_timeout = parse_timeout(text()?)?,
        "billing-day" => {
            config.billing_day = text()?
                .parse()
                .ok()
                .filter(|day| BILLING_DAYS.contains(day))
                .ok_or_else(|| {
                    "expected a day of the month from 1 to 28 (a cycle from the 29th, 30th or \
                     31st would have no start in February)"
                        .to_owned()
                })?;
        }
        "quota" => {
            let (name, bytes) = parse_quota(text()?)?;
            if config.quotas.iter().any(|(given, _)| *given == name) {
                return Err(format!("a second quota for {name}"));
            }
            config.quotas.push((name, bytes));
        }
        "max-interfaces" => {
            config.max_interfaces = text()?
                .parse()
                .ok()
                .filter(|n| (1..=MAX_INTERFACES_LIMIT).contains(n))
                .ok_or_else(|| format!("expected a number from 1 to {MAX_INTERFACES_LIMIT}"))?;
        }
        _ => return Err(format!("unknown option {option}")),
    }
    Ok(())
}

fn clear_list(config: &mut Config, option: &str) {
    match option {
        "include" => config.filter.include.clear(),
        "link-speed" => config.link_speeds.clear(),
        "quota" => config.quotas.clear(),
        _ => config.filter.exclude.clear(),
    }
}

/// Parses `NAME=SIZE`: an interface name and a size in bytes, more than zero.
pub fn parse_quota(text: &str) -> Result<(String, u64), String> {
    let (name, size) = text
        .split_once('=')
        .ok_or("expected NAME=SIZE, e.g. wan=500G")?;
    if !is_valid_name(name) {
        return Err(format!("{name:?} is not an interface name"));
    }
    let bytes = parse_size(size)?;
    if bytes == 0 {
        return Err("a quota of 0 bytes".to_owned());
    }
    Ok((name.to_owned(), bytes))
}

/// The size units: SI powers of 1000 and IEC powers of 1024, each with or without `B`.
const SIZE_UNITS: [(&str, u64); 11] = [
    ("", 1),
    ("k", 1_000),
    ("M", 1_000_000),
    ("G", 1_000_000_000),
    ("T", 1_000_000_000_000),
    ("P", 1_000_000_000_000_000),
    ("Ki", 1 << 10),
    ("Mi", 1 << 20),
    ("Gi", 1 << 30),
    ("Ti", 1 << 40),
    ("Pi", 1 << 50),
];

/// Parses a size in bytes: a decimal number and a unit of [`SIZE_UNITS`] (`500G`, `1.5TB`,
/// `20GiB`, `1000`), a whole number of bytes, at most 2^64 - 1. Anything else is refused: no
/// spaces, signs, exponents, lower-case units other than `k`, or `K` for kilo.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.strip_suffix('B').unwrap_or(unit);
    let scale = SIZE_UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|&(_, scale)| u128::from(scale))
        .ok_or_else(|| {
            format!(
                "unknown unit in {text:?}; use k, M, G, T, P (1000s) or Ki, Mi, Gi, Ti, Pi (1024s)"
            )
        })?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || number.ends_with('.') {
        return Err(format!(
            "expected a size such as 500G or 20GiB, not {text:?}"
        ));
    }
    let too_big = || format!("{text:?} is more than 2^64 - 1 bytes");
    let whole: u128 = whole.parse().map_err(|_| too_big())?;
    let fraction_digits = u32::try_from(fraction.len()).map_err(|_| too_big())?;
    let denominator = 10u128.checked_pow(fraction_digits).ok_or_else(too_big)?;
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| too_big())?
    };
    let fraction_bytes = fraction.checked_mul(scale).ok_or_else(too_big)?;
    if fraction_bytes % denominator != 0 {
        return Err(format!("{text:?} is not a whole number of bytes"));
    }
    let bytes = whole
        .checked_mul(scale)
        .and_then(|b| b.checked_add(fraction_bytes / denominator))
        .ok_or_else(too_big)?;
    u64::try_from(bytes).map_err(|_| too_big())
}

fn parse_log_level(text: &str) -> Option<log::LevelFilter> {
    match text {
        "error" => Some(log::LevelFilter::Error),
        "warn" => Some(log::LevelFilter::Warn),
        "info" => Some(log::LevelFilter::Info),
        "debug" => Some(log::LevelFilter::Debug),
        "trace" => Some(log::LevelFilter::Trace),
        _ => None,
    }
}

/// The largest `--link-speed`: 10 Tbit/s, well past any interface's.
pub const MAX_LINK_SPEED_BITS_PER_SEC: u64 = 10_000_000_000_000;

/// Parses `NAME=RATE` of `--link-speed`: an interface name Linux can have, and a rate in bit/s.
pub fn parse_link_speed(text: &str) -> Result<(String, u64), String> {
    let (name, rate) = text
        .split_once('=')
        .ok_or_else(|| "expected NAME=RATE, e.g. wan=100M".to_owned())?;
    if !crate::sample::proc_net_dev::is_valid_name(name) {
        return Err(format!("{name:?} is not an interface name"));
    }
    Ok((name.to_owned(), parse_rate(rate)?))
}

/// Parses a rate in bit/s: a decimal number with an optional SI unit `k`, `M`, `G` or `T`
/// (powers of 1000, as link speeds are counted), at most 10T, above zero. Exact: `2.5M` is
/// 2 500 000, and a fraction finer than 1 bit/s is refused rather than rounded.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    const EXPECTED: &str = "expected a rate in bit/s such as 100M, 1G, 2.5M or 64000";
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let digits_per_unit: usize = match unit {
        "" => 0,
        "k" | "K" => 3,
        "M" => 6,
        "G" => 9,
        "T" => 12,
        _ => return Err(format!("unknown unit {unit:?}; use k, M, G or T (bit/s)")),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(EXPECTED.to_owned());
    }
    if number.ends_with('.') {
        return Err(EXPECTED.to_owned());
    }
    if fraction.trim_end_matches('0').len() > digits_per_unit {
        return Err("finer than 1 bit/s".to_owned());
    }
    // The number in bit/s as a string of digits: the whole part, then the fraction padded
    // with zeros to the unit's power of ten.
    let mut bits = String::with_capacity(whole.len() + digits_per_unit);
    bits.push_str(whole);
    bits.push_str(&fraction[..fraction.len().min(digits_per_unit)]);
    bits.extend(std::iter::repeat_n(
        '0',
        digits_per_unit - fraction.len().min(digits_per_unit),
    ));
    let too_fast = || "at most 10T (10 Tbit/s)".to_owned();
    let bits_per_sec: u64 = bits.parse().map_err(|_| too_fast())?;
    if bits_per_sec == 0 {
        return Err("must be above zero".to_owned());
    }
    if bits_per_sec > MAX_LINK_SPEED_BITS_PER_SEC {
        return Err(too_fast());
    }
    Ok(bits_per_sec)
}

/// Parses a sampling interval, from [`MIN_INTERVAL`] to [`MAX_INTERVAL`].
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = parse_duration(text)?;
    if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
        return Err("must be from 100ms to 15m".to_owned());
    }
    Ok(interval)
}

/// Parses a connection timeout, from 100 ms to 1 h.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let timeout = parse_duration(text)?;
    if !(Duration::from_millis(100)..=Duration::from_secs(3600)).contains(&timeout) {
        return Err("must be from 100ms to 1h".to_owned());
    }
    Ok(timeout)
}

/// Parses a save interval: zero (only at exit), or from 1 s to 24 h.
pub fn parse_save_interval(text: &str) -> Result<Duration, String> {
    let interval = parse_duration(text)?;
    if !interval.is_zero()
        && !(Duration::from_secs(1)..=Duration::from_secs(86_400)).contains(&interval)
    {
        return Err("must be 0 (only at exit) or from 1s to 24h".to_owned());
    }
    Ok(interval)
}

/// Parses a decimal number with an optional unit `ms`, `s`, `m` or `h`; plain numbers are
/// seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let micros_per_unit: u128 = match unit {
        "ms" => 1_000,
        "" | "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        _ => return Err(format!("unknown unit {unit:?}; use ms, s, m or h")),
    };
    // Decimal arithmetic, exact to the microsecond (rounded to the nearest): digits and at
    // most one point, either side of it possibly empty (`.5`, `5.`), as a float would read.
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.len() + fraction.len() == 0 || fraction.contains('.') {
        return Err("expected a number such as 10s, 500ms, 1m or 10".to_owned());
    }
    let too_long = || "too long".to_owned();
    let whole: u128 = match whole {
        "" => 0,
        digits => digits.parse().map_err(|_| too_long())?,
    };
    // Past 20 digits a fraction is finer than a microsecond of an hour.
    let fraction = &fraction[..fraction.len().min(20)];
    let denominator = 10u128.pow(fraction.len() as u32);
    let fraction: u128 = match fraction {
        "" => 0,
        digits => digits.parse().map_err(|_| too_long())?,
    };
    let micros = whole
        .checked_mul(micros_per_unit)
        .and_then(|m| m.checked_add((fraction * micros_per_unit + denominator / 2) / denominator))
        .filter(|&m| m <= 1_000_000_000_000_000)
        .ok_or_else(too_long)?;
    Ok(Duration::from_micros(micros as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn run(args: &[&str]) -> Result<Config, UsageError> {
        run_with_env(args, &[])
    }

    fn run_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<Config, UsageError> {
        let lookup = |name: &str| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        };
        match parse(args.iter().copied(), lookup)? {
            Command::Run(config) => Ok(*config),
            other => panic!("expected Run, got {other:?}"),
        }
    }

    #[rstest]
    #[case::seconds("10s", 10_000)]
    #[case::plain_seconds("10", 10_000)]
    #[case::fraction("0.5", 500)]
    #[case::millis("500ms", 500)]
    #[case::minute("1m", 60_000)]
    #[case::minimum("100ms", 100)]
    #[case::maximum("15m", 900_000)]
    fn intervals_parse(#[case] text: &str, #[case] millis: u64) {
        assert_eq!(parse_interval(text), Ok(Duration::from_millis(millis)));
    }

    #[rstest]
    #[case::too_short("99ms")]
    #[case::zero("0")]
    #[case::too_long("16m")]
    #[case::hours_too_long("10h")]
    #[case::unknown_unit("10d")]
    #[case::empty("")]
    #[case::no_number("s")]
    #[case::negative("-1s")]
    #[case::two_dots("1.2.3s")]
    #[case::space("10 s")]
    fn bad_intervals_are_refused(#[case] text: &str) {
        assert!(parse_interval(text).is_err(), "{text:?} was accepted");
    }

    #[rstest]
    #[case::leading_point(".5s", Ok(500_000))]
    #[case::trailing_point("5.", Ok(5_000_000))]
    #[case::tenth_of_an_hour("0.1h", Ok(360_000_000))]
    #[case::third_of_a_minute("0.333333333333333333333333m", Ok(20_000_000))]
    #[case::half_a_microsecond_up("1.0000005s", Ok(1_000_001))]
    #[case::under_half_a_microsecond("0.0000004s", Ok(0))]
    #[case::longest("1000000000s", Ok(1_000_000_000_000_000))]
    #[case::past_the_longest("1000000000.000001s", Err("too long"))]
    #[case::more_digits_than_u128("9999999999999999999999999999999999999999h", Err("too long"))]
    #[case::point_only(".", Err("expected a number"))]
    #[case::two_dots("1.2.3", Err("expected a number"))]
    #[case::unit_only("ms", Err("expected a number"))]
    fn durations_are_exact_to_the_microsecond(
        #[case] text: &str,
        #[case] expected: Result<u64, &str>,
    ) {
        match (parse_duration(text), expected) {
            (Ok(got), Ok(micros)) => assert_eq!(got, Duration::from_micros(micros), "{text:?}"),
            (Err(got), Err(start)) => assert!(got.starts_with(start), "{text:?}: {got}"),
            (got, _) => panic!("{text:?}: {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn defaults_match_the_documented_contract() {
        let config = run(&[]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9310");
        assert_eq!(config.source, PathBuf::from("/proc/net/dev"));
        assert_eq!(config.sysfs, PathBuf::from("/sys/class/net"));
        assert_eq!(config.interval, Duration::from_secs(10));
        assert_eq!(config.log_level, log::LevelFilter::Info);
    }

    #[test]
    fn every_flag_is_read() {
        let config = run(&[
            "--listen",
            "[::1]:8080",
            "--source=/tmp/dev",
            "--sysfs",
            "/tmp/sys",
            "--interval",
            "250ms",
            "--log-level",
            "debug",
        ])
        .unwrap();
        assert_eq!(config.listen.to_string(), "[::1]:8080");
        assert_eq!(config.source, PathBuf::from("/tmp/dev"));
        assert_eq!(config.sysfs, PathBuf::from("/tmp/sys"));
        assert_eq!(config.interval, Duration::from_millis(250));
        assert_eq!(config.log_level, log::LevelFilter::Debug);
    }

    #[rstest]
    #[case::unknown_flag(&["--bogus"], "--bogus")]
    #[case::positional(&["eth0"], "eth0")]
    #[case::missing_value(&["--listen"], "--listen")]
    #[case::hostname(&["--listen", "localhost:80"], "--listen")]
    #[case::no_port(&["--listen", "127.0.0.1"], "--listen")]
    #[case::bad_level(&["--log-level", "loud"], "--log-level")]
    #[case::bad_interval(&["--interval", "fast"], "--interval")]
    fn mistakes_name_the_culprit(#[case] args: &[&str], #[case] culprit: &str) {
        let message = run(args).unwrap_err().to_string();
        assert!(message.contains(culprit), "{message:?} lacks {culprit:?}");
        assert!(!message.contains('\n'), "{message:?} is not one line");
    }

    #[rstest]
    #[case::only_at_exit("0", 0)]
    #[case::seconds("30s", 30_000)]
    #[case::default_like("15m", 900_000)]
    #[case::hours("1h", 3_600_000)]
    #[case::a_day("24h", 86_400_000)]
    fn save_intervals_parse(#[case] text: &str, #[case] millis: u64) {
        assert_eq!(parse_save_interval(text), Ok(Duration::from_millis(millis)));
    }

    #[rstest]
    #[case::too_short("500ms")]
    #[case::too_long("25h")]
    #[case::not_a_number("often")]
    #[case::huge("1e300")]
    fn bad_save_intervals_are_refused(#[case] text: &str) {
        assert!(parse_save_interval(text).is_err(), "{text:?} was accepted");
    }

    #[test]
    fn persistence_flags_are_read() {
        let config = run(&[
            "--state-file",
            "/tmp/s",
            "--save-interval",
            "0",
            "--boot-id-file",
            "/b",
        ])
        .unwrap();
        assert_eq!(config.state_file, Some(PathBuf::from("/tmp/s")));
        assert_eq!(config.save_interval, Duration::ZERO);
        assert_eq!(config.boot_id_file, PathBuf::from("/b"));
        let defaults = run(&[]).unwrap();
        assert_eq!(defaults.state_file, None);
        assert_eq!(defaults.save_interval, Duration::from_secs(900));
    }

    #[test]
    fn filters_and_limits_are_read() {
        let config = run(&[
            "--include",
            "eth*",
            "--include=wlan?",
            "--exclude",
            "eth0.*",
            "--max-interfaces",
            "16",
            "--log-target",
            "syslog",
        ])
        .unwrap();
        assert_eq!(config.filter.include, ["eth*", "wlan?"]);
        assert_eq!(config.filter.exclude, ["eth0.*"]);
        assert_eq!(config.max_interfaces, 16);
        assert_eq!(config.log_target, LogTarget::Syslog);
        let defaults = run(&[]).unwrap();
        assert_eq!(defaults.filter, Filter::default());
        assert_eq!(defaults.max_interfaces, 128);
        assert_eq!(defaults.log_target, LogTarget::Stderr);
    }

    #[rstest]
    #[case::zero(&["--max-interfaces", "0"], "--max-interfaces")]
    #[case::not_a_number(&["--max-interfaces", "many"], "--max-interfaces")]
    #[case::empty_glob(&["--include", ""], "--include")]
    #[case::log_target(&["--log-target", "file"], "--log-target")]
    fn bad_filter_values_name_the_flag(#[case] args: &[&str], #[case] culprit: &str) {
        let message = run(args).unwrap_err().to_string();
        assert!(message.contains(culprit), "{message}");
    }

    #[test]
    fn every_option_reads_its_environment_variable() {
        let env = [
            ("IFSTATSD_LISTEN", "0.0.0.0:80"),
            ("IFSTATSD_SOURCE", "/s"),
            ("IFSTATSD_SYSFS", "/y"),
            ("IFSTATSD_INTERVAL", "2s"),
            ("IFSTATSD_LOG_LEVEL", "warn"),
            ("IFSTATSD_LOG_TARGET", "syslog"),
            ("IFSTATSD_STATE_FILE", "/st"),
            ("IFSTATSD_SAVE_INTERVAL", "1h"),
            ("IFSTATSD_BOOT_ID_FILE", "/b"),
            ("IFSTATSD_INCLUDE", "eth*, wlan*"),
            ("IFSTATSD_EXCLUDE", "veth*"),
            ("IFSTATSD_MAX_INTERFACES", "9"),
            ("IFSTATSD_MAX_CONNECTIONS", "7"),
            ("IFSTATSD_IDLE_TIMEOUT", "30s"),
            ("IFSTATSD_WRITE_TIMEOUT", "2s"),
            ("IFSTATSD_LINK_SPEED", "wan=100M lan=1G"),
            ("IFSTATSD_BILLING_DAY", "15"),
            ("IFSTATSD_QUOTA", "wan=500G, lte=20GiB"),
        ];
        assert_eq!(env.len(), OPTIONS.len());
        let config = run_with_env(&[], &env).unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:80");
        assert_eq!(config.source, PathBuf::from("/s"));
        assert_eq!(config.sysfs, PathBuf::from("/y"));
        assert_eq!(config.interval, Duration::from_secs(2));
        assert_eq!(config.log_level, log::LevelFilter::Warn);
        assert_eq!(config.log_target, LogTarget::Syslog);
        assert_eq!(config.state_file, Some(PathBuf::from("/st")));
        assert_eq!(config.save_interval, Duration::from_secs(3600));
        assert_eq!(config.boot_id_file, PathBuf::from("/b"));
        assert_eq!(config.filter.include, ["eth*", "wlan*"]);
        assert_eq!(config.filter.exclude, ["veth*"]);
        assert_eq!(config.max_interfaces, 9);
        assert_eq!(config.max_connections, 7);
        assert_eq!(config.idle_timeout, Duration::from_secs(30));
        assert_eq!(config.write_timeout, Duration::from_secs(2));
        assert_eq!(
            config.link_speeds,
            [("wan".into(), 100_000_000), ("lan".into(), 1_000_000_000)]
        );
        assert_eq!(config.billing_day, 15);
        assert_eq!(
            config.quotas,
            [
                ("wan".to_owned(), 500_000_000_000),
                ("lte".to_owned(), 20 << 30)
            ]
        );
    }

    #[rstest]
    #[case::plain("64000", 64_000)]
    #[case::kilo("512k", 512_000)]
    #[case::kilo_upper("512K", 512_000)]
    #[case::mega("100M", 100_000_000)]
    #[case::giga("1G", 1_000_000_000)]
    #[case::fraction("2.5M", 2_500_000)]
    #[case::fraction_trailing_zeros("1.500G", 1_500_000_000)]
    #[case::tera("10T", 10_000_000_000_000)]
    #[case::one_bit("1", 1)]
    fn rates_parse_exactly(#[case] text: &str, #[case] bits_per_sec: u64) {
        assert_eq!(parse_rate(text), Ok(bits_per_sec));
    }

    #[rstest]
    #[case::zero("0", "above zero")]
    #[case::zero_mega("0M", "above zero")]
    #[case::binary_unit("100Mi", "unknown unit")]
    #[case::bytes("100MB", "unknown unit")]
    #[case::words("100Mbit", "unknown unit")]
    #[case::lower_mega("100m", "unknown unit")]
    #[case::empty("", "expected a rate")]
    #[case::negative("-1M", "unknown unit")]
    #[case::dot_only(".5M", "expected a rate")]
    #[case::trailing_dot("5.M", "expected a rate")]
    #[case::two_dots("1.2.3M", "expected a rate")]
    #[case::sub_bit("1.5", "finer than 1 bit/s")]
    #[case::sub_bit_kilo("1.0005k", "finer than 1 bit/s")]
    #[case::too_fast("11T", "at most 10T")]
    #[case::overflow("99999999999999999999999", "at most 10T")]
    #[case::space("100 M", "unknown unit")]
    fn bad_rates_say_why(#[case] text: &str, #[case] why: &str) {
        let error = parse_rate(text).unwrap_err();
        assert!(error.contains(why), "{text:?}: {error}");
    }

    #[test]
    fn link_speeds_are_read_and_checked() {
        let config = run(&["--link-speed", "wan=100M", "--link-speed=eth0.2=2.5M"]).unwrap();
        assert_eq!(
            config.link_speeds,
            [("wan".into(), 100_000_000), ("eth0.2".into(), 2_500_000)]
        );
        for (args, why) in [
            (&["--link-speed", "wan"][..], "expected NAME=RATE"),
            (&["--link-speed", "=1G"], "not an interface name"),
            (&["--link-speed", "a/b=1G"], "not an interface name"),
            (
                &["--link-speed", "sixteen-bytes-xx=1G"],
                "not an interface name",
            ),
            (&["--link-speed", "wan=fast"], "unknown unit"),
            (
                &["--link-speed", "wan=1G", "--link-speed", "wan=2G"],
                "given twice",
            ),
        ] {
            let message = run(args).unwrap_err().to_string();
            assert!(
                message.contains("--link-speed") && message.contains(why),
                "{message}"
            );
        }
        // A flag replaces the variable's list.
        let env = [("IFSTATSD_LINK_SPEED", "wan=1G,lan=1G")];
        let config = run_with_env(&["--link-speed", "wan=5M"], &env).unwrap();
        assert_eq!(config.link_speeds, [("wan".into(), 5_000_000)]);
    }

    #[rstest]
    #[case::plain_bytes("1000", 1000)]
    #[case::bytes_unit("1000B", 1000)]
    #[case::kilo("5k", 5_000)]
    #[case::kilobytes("5kB", 5_000)]
    #[case::mega("7M", 7_000_000)]
    #[case::giga("500G", 500_000_000_000)]
    #[case::gigabytes("500GB", 500_000_000_000)]
    #[case::tera_fraction("1.5T", 1_500_000_000_000)]
    #[case::peta("2P", 2_000_000_000_000_000)]
    #[case::kibi("1Ki", 1024)]
    #[case::mebibytes("3MiB", 3 << 20)]
    #[case::gibi("20GiB", 20 << 30)]
    #[case::gibi_half("0.5Gi", 1 << 29)]
    #[case::tebi("1Ti", 1 << 40)]
    #[case::pebi("16383Pi", 16_383 << 50)]
    #[case::largest("18446744073709551615", u64::MAX)]
    #[case::leading_zeros("007G", 7_000_000_000)]
    fn sizes_parse(#[case] text: &str, #[case] bytes: u64) {
        assert_eq!(parse_size(text), Ok(bytes));
    }

    #[rstest]
    #[case::empty("")]
    #[case::unit_only("G")]
    #[case::space("500 G")]
    #[case::negative("-5G")]
    #[case::plus("+5G")]
    #[case::exponent("1e9")]
    #[case::upper_kilo("5K")]
    #[case::lower_mega("5m")]
    #[case::bits("5Gb")]
    #[case::lower_iec("5gib")]
    #[case::words("5 gigabytes")]
    #[case::trailing_dot("5.G")]
    #[case::leading_dot(".5G")]
    #[case::two_dots("1.2.3G")]
    #[case::fraction_of_a_byte("1.5")]
    #[case::fraction_of_a_byte_kibi("0.0001Ki")]
    #[case::too_big("18446744073709551616")]
    #[case::too_big_unit("16384Pi")]
    #[case::double_b("5GBB")]
    fn bad_sizes_are_refused(#[case] text: &str) {
        assert!(parse_size(text).is_err(), "{text:?} was accepted");
    }

    #[rstest]
    #[case::no_equals(&["--quota", "wan"], "NAME=SIZE")]
    #[case::bad_name(&["--quota", "a/b=5G"], "interface name")]
    #[case::empty_name(&["--quota", "=5G"], "interface name")]
    #[case::bad_size(&["--quota", "wan=5 GB"], "--quota")]
    #[case::zero(&["--quota", "wan=0"], "0 bytes")]
    #[case::twice(&["--quota", "wan=1G", "--quota", "wan=2G"], "second quota")]
    #[case::billing_day_29(&["--billing-day", "29"], "1 to 28")]
    #[case::billing_day_31(&["--billing-day", "31"], "1 to 28")]
    #[case::billing_day_0(&["--billing-day", "0"], "1 to 28")]
    #[case::billing_day_word(&["--billing-day", "first"], "--billing-day")]
    fn bad_usage_flags_say_why(#[case] args: &[&str], #[case] why: &str) {
        let message = run(args).unwrap_err().to_string();
        assert!(message.contains(why), "{message:?} lacks {why:?}");
        assert!(!message.contains('\n'));
    }

    #[test]
    fn usage_flags_are_read() {
        let config = run(&[
            "--billing-day",
            "28",
            "--quota",
            "wan=500G",
            "--quota=pppoe-wan=1.5TiB",
        ])
        .unwrap();
        assert_eq!(config.billing_day, 28);
        assert_eq!(
            config.quotas,
            [
                ("wan".to_owned(), 500_000_000_000),
                ("pppoe-wan".to_owned(), 3 << 39)
            ]
        );
        let defaults = run(&[]).unwrap();
        assert_eq!((defaults.billing_day, defaults.quotas.len()), (1, 0));
    }

    #[test]
    fn flags_win_over_variables() {
        let env = [
            ("IFSTATSD_INTERVAL", "2s"),
            ("IFSTATSD_INCLUDE", "eth* wlan*"),
        ];
        let config = run_with_env(&["--interval", "5s", "--include", "br-*"], &env).unwrap();
        assert_eq!(config.interval, Duration::from_secs(5));
        assert_eq!(
            config.filter.include,
            ["br-*"],
            "a list flag replaces the variable's list"
        );
    }

    #[test]
    fn a_bad_variable_is_named_in_the_error() {
        let message = run_with_env(&[], &[("IFSTATSD_INTERVAL", "soon")])
            .unwrap_err()
            .to_string();
        assert!(message.contains("IFSTATSD_INTERVAL"), "{message}");
        assert!(!message.contains('\n'));
    }

    #[test]
    fn help_and_version_win() {
        assert_eq!(parse_args(["--help"]), Ok(Command::Help));
        assert_eq!(parse_args(["-V"]), Ok(Command::Version));
    }

    #[test]
    fn timeouts_go_down_to_100_ms() {
        assert_eq!(parse_timeout("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_timeout("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_timeout("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["99ms", "0", "61m"] {
            assert_eq!(
                parse_timeout(bad),
                Err("must be from 100ms to 1h".to_owned()),
                "{bad}"
            );
        }
    }
}
