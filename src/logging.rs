//! Logging to stderr through fern: one line per event, `LEVEL target: message`. No timestamps:
//! journald, procd's logd and syslog add their own.

use log::LevelFilter;

/// Installs the logger. Fails only if a logger is already installed.
pub fn init(level: LevelFilter) -> Result<(), fern::InitError> {
    fern::Dispatch::new()
        .format(|out, message, record| {
            out.finish(format_args!(
                "{} {}: {}",
                record.level(),
                record.target(),
                message
            ))
        })
        .level(level)
        // tiny_http logs every client error at error level; ours are the ones that matter.
        .level_for("tiny_http", LevelFilter::Warn.min(level))
        .chain(std::io::stderr())
        .apply()?;
    Ok(())
}
