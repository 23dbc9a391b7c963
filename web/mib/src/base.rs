//! Where the base modules (IETF, IANA, net-snmp's own) are looked for at run time.
//!
//! They come from the operating system's packages, never from the repository: on
//! Debian, libsnmp-base installs /usr/share/snmp/mibs (and the non-free
//! snmp-mibs-downloader, where installed, the iana/ and ietf/ folders below it).
//! `FLOWVISION_BASE_MIBS` (colon-separated folders) replaces that list.

use std::ffi::OsStr;
use std::path::PathBuf;

/// The environment variable that replaces [`DEFAULT_DIRS`].
pub const ENV: &str = "FLOWVISION_BASE_MIBS";

/// Debian's folders, in the order net-snmp searches them.
pub const DEFAULT_DIRS: [&str; 3] =
    ["/usr/share/snmp/mibs", "/usr/share/snmp/mibs/iana", "/usr/share/snmp/mibs/ietf"];

/// The base folders for the value of [`ENV`] (`None` when unset): its colon-separated
/// entries, empty entries skipped, or [`DEFAULT_DIRS`] when unset or empty. Folders
/// that do not exist are the loader's business ([`crate::fs::load_base`] skips them).
pub fn dirs(env_value: Option<&OsStr>) -> Vec<PathBuf> {
    let from_env: Vec<PathBuf> = env_value
        .map(|v| std::env::split_paths(v).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default();
    if from_env.is_empty() {
        DEFAULT_DIRS.iter().map(PathBuf::from).collect()
    } else {
        from_env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_replaces_defaults() {
        assert_eq!(dirs(Some(OsStr::new("/a::/b"))), [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(dirs(Some(OsStr::new(""))).len(), DEFAULT_DIRS.len());
        assert_eq!(dirs(None).first(), Some(&PathBuf::from("/usr/share/snmp/mibs")));
    }
}
