//! The command line: flags, their defaults, and the `--help` text. Parsing is pure over the
//! argument list, so every rule is tested without a process.

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The default `--listen` address: loopback only, so nothing is exposed by accident.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9310";
/// The default `--source`.
pub const DEFAULT_SOURCE: &str = "/proc/net/dev";
/// The default `--sysfs`.
pub const DEFAULT_SYSFS: &str = "/sys/class/net";
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
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    /// Run the daemon.
    Run(Config),
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
  --sysfs DIR           where to read each interface's ifindex and operstate
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
  -h, --help            print this help and exit
  -V, --version         print the version and exit

Routes: /api/v1/interfaces, /api/v1/interface/{name}/stats, /health, /openapi.yaml
";

/// Parses the arguments after the program name.
pub fn parse_args<I>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::prelude::*;
    let mut config = Config::default();
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("listen") => {
                let text = string_value(&mut parser, "--listen")?;
                config.listen = text.parse().map_err(|_| {
                    UsageError(format!(
                        "invalid --listen {text:?}: expected IP:PORT, e.g. 127.0.0.1:9310 or [::1]:9310"
                    ))
                })?;
            }
            Long("source") => config.source = parser.value()?.into(),
            Long("sysfs") => config.sysfs = parser.value()?.into(),
            Long("interval") => {
                let text = string_value(&mut parser, "--interval")?;
                config.interval = parse_interval(&text)
                    .map_err(|why| UsageError(format!("invalid --interval {text:?}: {why}")))?;
            }
            Long("log-level") => {
                let text = string_value(&mut parser, "--log-level")?;
                config.log_level = parse_log_level(&text).ok_or_else(|| {
                    UsageError(format!(
                        "invalid --log-level {text:?}: expected error, warn, info, debug or trace"
                    ))
                })?;
            }
            Long("state-file") => config.state_file = Some(parser.value()?.into()),
            Long("save-interval") => {
                let text = string_value(&mut parser, "--save-interval")?;
                config.save_interval = parse_save_interval(&text).map_err(|why| {
                    UsageError(format!("invalid --save-interval {text:?}: {why}"))
                })?;
            }
            Long("boot-id-file") => config.boot_id_file = parser.value()?.into(),
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Run(config))
}

fn string_value(parser: &mut lexopt::Parser, flag: &str) -> Result<String, UsageError> {
    parser
        .value()?
        .into_string()
        .map_err(|_| UsageError(format!("invalid {flag}: not valid UTF-8")))
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

/// Parses a sampling interval, from [`MIN_INTERVAL`] to [`MAX_INTERVAL`].
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = parse_duration(text)?;
    if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
        return Err("must be from 100ms to 15m".to_owned());
    }
    Ok(interval)
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
    let millis_per_unit = match unit {
        "ms" => 1.0,
        "" | "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return Err(format!("unknown unit {unit:?}; use ms, s, m or h")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| "expected a number such as 10s, 500ms, 1m or 10".to_owned())?;
    let micros = value * millis_per_unit * 1000.0;
    if !micros.is_finite() || micros > 1e15 {
        return Err("too long".to_owned());
    }
    Ok(Duration::from_micros(micros.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn run(args: &[&str]) -> Result<Config, UsageError> {
        match parse_args(args.iter().copied())? {
            Command::Run(config) => Ok(config),
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
    fn help_and_version_win() {
        assert_eq!(parse_args(["--help"]), Ok(Command::Help));
        assert_eq!(parse_args(["-V"]), Ok(Command::Version));
    }
}
