//! The I/O edge: finds and reads MIB files into [`SourceText`]s for [`crate::resolve()`].
//!
//! Everything else in the crate works on bytes in memory.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use crate::base;
use crate::source::SourceText;

/// A path the loader cannot use.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The path does not exist (or cannot be examined).
    #[error("cannot use {}", path.display())]
    Missing {
        /// The path as given.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Reading a file or a folder failed.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// Every regular file under `paths`: a file as itself, a folder recursively, each
/// folder's entries in name order (so the result, and which of two copies of a module
/// wins, does not depend on the file system). Symbolic links are followed.
///
/// Every file is a candidate whatever its name: MIB files come as `.txt`, `.my`,
/// `.mib` or with no extension at all. Those without a module header are reported by
/// the resolver, not skipped here.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).map_err(|source| LoadError::Missing { path: path.clone(), source })?;
        if meta.is_dir() {
            walk(path, &mut out, &mut seen)?;
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, seen: &mut HashSet<PathBuf>) -> Result<(), LoadError> {
    let read_err = |source| LoadError::Read { path: dir.to_path_buf(), source };
    if !seen.insert(std::fs::canonicalize(dir).map_err(read_err)?) {
        return Ok(());
    }
    for p in sorted_entries(dir)? {
        // A dangling link or a file that vanished is not worth stopping for.
        let Ok(meta) = std::fs::metadata(&p) else { continue };
        if meta.is_dir() {
            walk(&p, out, seen)?;
        } else if meta.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads files, labelled by their path as given.
pub fn read_files(files: &[PathBuf]) -> Result<Vec<SourceText>, LoadError> {
    files
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).map_err(|source| LoadError::Read { path: p.clone(), source })?;
            Ok(SourceText::new(p.display().to_string(), bytes))
        })
        .collect()
}

/// The files directly in the base folders (not recursive: each of Debian's folders is
/// listed on its own, as net-snmp's search path lists them). Folders that do not exist
/// are skipped: a machine without libsnmp-base still loads the user's modules, with
/// the SMI base modules the parser carries.
pub fn base_files(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        out.extend(sorted_entries(dir)?.into_iter().filter(|p| p.is_file()));
    }
    Ok(out)
}

/// The base modules' files from the folders [`base::dirs`] gives for the current
/// environment.
pub fn load_base() -> Result<Vec<SourceText>, LoadError> {
    let dirs = base::dirs(std::env::var_os(base::ENV).as_deref());
    read_files(&base_files(&dirs)?)
}

/// The paths in `dir`, sorted (so loads do not depend on the file system's order).
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let read_err = |source| LoadError::Read { path: dir.to_path_buf(), source };
    let mut entries = std::fs::read_dir(dir)
        .map_err(read_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err)?;
    entries.sort();
    Ok(entries)
}
