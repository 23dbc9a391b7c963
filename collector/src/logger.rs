//! A minimal `log` backend: one line per message on stderr, UTC timestamp first, so
//! journald, Docker and a terminal all read the same thing. `FLOWVISION_LOG` sets the
//! level (error, warn, info [default], debug, trace).

use log::{Level, LevelFilter, Log, Metadata, Record};

struct StderrLogger {
    level: LevelFilter,
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let now = crate::clock::now_ms();
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        eprintln!(
            "{} {level} {}: {}",
            flowvision_codec::format_rfc3339_ms(now),
            record.target(),
            record.args()
        );
    }

    fn flush(&self) {}
}

/// Installs the logger (once; later calls do nothing).
pub fn init() {
    let level = std::env::var("FLOWVISION_LOG")
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::Info);
    if log::set_boxed_logger(Box::new(StderrLogger { level })).is_ok() {
        log::set_max_level(level);
    }
}
