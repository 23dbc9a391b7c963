//! The MIB corpus and the base modules, as the corpus tests load them.

use std::path::PathBuf;

use flowvision_mib::{base, fs, SourceText};

/// The corpus: `FLOWVISION_MIBS`, else `../shared/mibs` beside the repository.
pub fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("FLOWVISION_MIBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/mibs"));
    assert!(dir.is_dir(), "MIB corpus not found at {} (set FLOWVISION_MIBS)", dir.display());
    dir
}

/// The base folders that exist (`FLOWVISION_BASE_MIBS`, else Debian's).
pub fn base_dirs() -> Vec<PathBuf> {
    base::dirs(std::env::var_os(base::ENV).as_deref()).into_iter().filter(|d| d.is_dir()).collect()
}

/// Every corpus file, then the base folders' files, read; and the corpus file paths.
#[allow(dead_code)] // Not every test file that includes this module uses it.
pub fn corpus_and_base() -> (Vec<SourceText>, Vec<PathBuf>) {
    let files = fs::collect_files(&[corpus_dir()]).unwrap();
    let mut sources = fs::read_files(&files).unwrap();
    sources.extend(fs::read_files(&fs::base_files(&base_dirs()).unwrap()).unwrap());
    (sources, files)
}
