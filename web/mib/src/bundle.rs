//! Uploaded MIB bundles: one MIB file, or a `.zip`, `.tar`, `.tar.gz`/`.tgz` (or a
//! single gzipped file) of many, unpacked in memory with bounds.
//!
//! The console accepts uploads from operators, so everything here treats its input as
//! hostile: the expanded size, the number of entries and each file's size are bounded
//! before the bytes are read (a zip bomb stops at the bound, it is never inflated
//! whole), entry names that would climb out of the archive (`..`, absolute paths,
//! drive letters) refuse the whole upload, and links, devices and nested archives are
//! skipped with a reason. The kind is told by content (magic numbers), never by the
//! file name. Errors are typed ([`BundleError::code`]) so the API can answer with a
//! stable code and the right HTTP status.
//!
//! No file system access: bytes in, named byte buffers out.

use std::io::{Cursor, Read};

use flate2::read::MultiGzDecoder;

/// Bounds of one upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Entries of an archive (files, folders, links…), counted before any is read.
    pub max_entries: usize,
    /// Size of one expanded file.
    pub max_file_bytes: u64,
    /// Size of everything expanded (the decompressed tar stream, or the zip's files
    /// added up).
    pub max_total_bytes: u64,
    /// Length of an entry's name, in bytes.
    pub max_name_bytes: usize,
}

impl Default for Limits {
    /// 5,000 entries, 16 MiB per file, 256 MiB in all, names up to 1,024 bytes: the
    /// whole 1,000-file corpus of docs/mib.md (38 MB) fits; the largest real MIB
    /// module seen there is under 2 MB.
    fn default() -> Self {
        Self {
            max_entries: 5_000,
            max_file_bytes: 16 << 20,
            max_total_bytes: 256 << 20,
            max_name_bytes: 1_024,
        }
    }
}

/// What an upload was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleKind {
    /// One MIB file as is.
    File,
    /// One gzip-compressed MIB file.
    GzipFile,
    /// A zip archive.
    Zip,
    /// A tar archive.
    Tar,
    /// A gzip-compressed tar archive.
    TarGz,
}

impl BundleKind {
    /// A short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            BundleKind::File => "file",
            BundleKind::GzipFile => "gzip",
            BundleKind::Zip => "zip",
            BundleKind::Tar => "tar",
            BundleKind::TarGz => "tar.gz",
        }
    }
}

/// One file of the upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    /// Its name inside the archive (folders kept, `/`-separated), or the uploaded
    /// file's own name.
    pub name: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// An entry that was not taken, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The entry's name.
    pub name: String,
    /// Why it was skipped.
    pub reason: String,
}

/// An unpacked upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// What it was.
    pub kind: BundleKind,
    /// Its regular files, in archive order.
    pub files: Vec<BundleFile>,
    /// Entries not taken (links, devices, nested archives, macOS metadata).
    pub skipped: Vec<Skipped>,
}

/// Why an upload cannot be unpacked. Each refuses the whole upload: a partly read
/// archive would store an arbitrary part of what the operator meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Nothing was uploaded.
    #[error("the upload is empty")]
    Empty,
    /// The archive has more entries than allowed.
    #[error("the archive has more than {limit} entries")]
    TooManyEntries {
        /// The bound.
        limit: usize,
    },
    /// One file expands past the bound.
    #[error("{name}: larger than {limit} bytes once expanded")]
    FileTooLarge {
        /// The entry.
        name: String,
        /// The bound.
        limit: u64,
    },
    /// Everything together expands past the bound.
    #[error("the archive expands to more than {limit} bytes")]
    TotalTooLarge {
        /// The bound.
        limit: u64,
    },
    /// An entry name that is absolute, climbs with `..`, holds NUL or is too long.
    #[error("unsafe entry name {name:?}: archives may only hold relative paths without '..'")]
    UnsafePath {
        /// The name as found (lossily decoded).
        name: String,
    },
    /// The archive's structure is broken (truncated, bad checksum, not what its magic
    /// number says).
    #[error("corrupt {kind} archive: {message}")]
    Corrupt {
        /// What it looked like.
        kind: &'static str,
        /// The decoder's words.
        message: String,
    },
    /// A well-formed archive using what is not supported here (encryption, a
    /// compression method other than stored/deflate).
    #[error("unsupported archive content: {message}")]
    Unsupported {
        /// What is not supported.
        message: String,
    },
}

impl BundleError {
    /// A stable machine-readable code for API answers.
    pub fn code(&self) -> &'static str {
        match self {
            BundleError::Empty => "empty_upload",
            BundleError::TooManyEntries { .. } => "too_many_entries",
            BundleError::FileTooLarge { .. } => "file_too_large",
            BundleError::TotalTooLarge { .. } => "archive_too_large",
            BundleError::UnsafePath { .. } => "unsafe_path",
            BundleError::Corrupt { .. } => "corrupt_archive",
            BundleError::Unsupported { .. } => "unsupported_archive",
        }
    }
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const ZIP_EMPTY_MAGIC: &[u8] = b"PK\x05\x06";

fn is_tar(bytes: &[u8]) -> bool {
    // POSIX ustar and GNU tar both write "ustar" at offset 257; pre-POSIX v7 archives
    // (no magic) are not recognised and are taken as one (odd) file.
    bytes.get(257..262) == Some(b"ustar")
}

fn is_archive(bytes: &[u8]) -> bool {
    bytes.starts_with(GZIP_MAGIC)
        || bytes.starts_with(ZIP_MAGIC)
        || bytes.starts_with(ZIP_EMPTY_MAGIC)
        || is_tar(bytes)
}

/// Unpacks an upload named `name` (the client's file name, used only as the name of a
/// single file).
pub fn unpack(name: &str, bytes: &[u8], limits: &Limits) -> Result<Bundle, BundleError> {
    if bytes.is_empty() {
        return Err(BundleError::Empty);
    }
    if bytes.starts_with(ZIP_MAGIC) || bytes.starts_with(ZIP_EMPTY_MAGIC) {
        return unzip(bytes, limits);
    }
    if bytes.starts_with(GZIP_MAGIC) {
        let inner = read_bounded(MultiGzDecoder::new(bytes), limits.max_total_bytes)
            .map_err(|e| corrupt("gzip", e))?
            .ok_or(BundleError::TotalTooLarge { limit: limits.max_total_bytes })?;
        if is_tar(&inner) {
            return untar(&inner, BundleKind::TarGz, limits);
        }
        let base = base_name(name);
        let inner_name = [".gz", ".GZ", ".z", ".Z"]
            .iter()
            .find_map(|ext| base.strip_suffix(ext))
            .filter(|s| !s.is_empty())
            .unwrap_or(&base)
            .to_owned();
        return single(inner_name, inner, BundleKind::GzipFile, limits);
    }
    if is_tar(bytes) {
        return untar(bytes, BundleKind::Tar, limits);
    }
    single(base_name(name), bytes.to_vec(), BundleKind::File, limits)
}

fn single(name: String, bytes: Vec<u8>, kind: BundleKind, limits: &Limits) -> Result<Bundle, BundleError> {
    if bytes.is_empty() {
        return Err(BundleError::Empty);
    }
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(BundleError::FileTooLarge { name, limit: limits.max_file_bytes });
    }
    Ok(Bundle { kind, files: vec![BundleFile { name, bytes }], skipped: Vec::new() })
}

/// The last path component of a client-given name (browsers send a bare name; other
/// clients may send a path), or `upload.mib`.
fn base_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if base.is_empty() || base == "." || base == ".." || base.contains('\0') {
        "upload.mib".to_owned()
    } else {
        base.chars().take(255).collect()
    }
}

fn corrupt(kind: &'static str, e: impl std::fmt::Display) -> BundleError {
    BundleError::Corrupt { kind, message: e.to_string() }
}

/// Reads at most `limit` bytes; `Ok(None)` when there are more.
fn read_bounded(reader: impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    reader.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    Ok((out.len() as u64 <= limit).then_some(out))
}

/// The entry name, checked: relative, no `..`, no NUL, not too long. `\` counts as a
/// separator (archives made on Windows). Returns the `/`-joined normal components, or
/// `None` for a name without any (`./`); folders are told apart by the entry's type.
fn safe_name(raw: &[u8], limits: &Limits) -> Result<Option<String>, BundleError> {
    let shown = String::from_utf8_lossy(raw).into_owned();
    let unsafe_path = || BundleError::UnsafePath { name: shown.chars().take(200).collect() };
    if raw.len() > limits.max_name_bytes || raw.contains(&0) {
        return Err(unsafe_path());
    }
    let text = shown.replace('\\', "/");
    let drive =
        text.as_bytes().get(1) == Some(&b':') && text.as_bytes().first().is_some_and(u8::is_ascii_alphabetic);
    if text.starts_with('/') || drive {
        return Err(unsafe_path());
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_path()),
            p => parts.push(p),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// A reason to skip a regular file by its name or content, if any.
fn skip_reason(name: &str, bytes: &[u8]) -> Option<&'static str> {
    let base = name.rsplit('/').next().unwrap_or(name);
    if name.starts_with("__MACOSX/") || base.starts_with("._") || base == ".DS_Store" {
        return Some("macOS metadata");
    }
    if is_archive(bytes) {
        return Some("nested archive: not expanded (upload it on its own)");
    }
    None
}

/// Adds a regular file within the bounds, or records why it is skipped.
/// `expected`: the size the archive declares; fewer bytes is a truncated archive
/// (the tar reader ends an entry quietly at the end of its input).
fn take(
    bundle: &mut Bundle,
    total: &mut u64,
    name: String,
    reader: impl Read,
    expected: u64,
    limits: &Limits,
    kind: &'static str,
) -> Result<(), BundleError> {
    let bytes = read_bounded(reader, limits.max_file_bytes)
        .map_err(|e| corrupt(kind, e))?
        .ok_or_else(|| BundleError::FileTooLarge { name: name.clone(), limit: limits.max_file_bytes })?;
    if (bytes.len() as u64) < expected {
        return Err(corrupt(kind, format!("{name}: truncated ({} of {expected} bytes)", bytes.len())));
    }
    *total = total.saturating_add(bytes.len() as u64);
    if *total > limits.max_total_bytes {
        return Err(BundleError::TotalTooLarge { limit: limits.max_total_bytes });
    }
    match skip_reason(&name, &bytes) {
        Some(reason) => bundle.skipped.push(Skipped { name, reason: reason.into() }),
        None if bytes.is_empty() => bundle.skipped.push(Skipped { name, reason: "empty file".into() }),
        None => bundle.files.push(BundleFile { name, bytes }),
    }
    Ok(())
}

fn untar(bytes: &[u8], kind: BundleKind, limits: &Limits) -> Result<Bundle, BundleError> {
    let mut bundle = Bundle { kind, files: Vec::new(), skipped: Vec::new() };
    let mut archive = tar::Archive::new(Cursor::new(bytes));
    let entries = archive.entries().map_err(|e| corrupt("tar", e))?;
    let mut total = 0u64;
    for (count, entry) in entries.enumerate() {
        if count >= limits.max_entries {
            return Err(BundleError::TooManyEntries { limit: limits.max_entries });
        }
        let entry = entry.map_err(|e| corrupt("tar", e))?;
        let raw = entry.path_bytes().into_owned();
        let Some(name) = safe_name(&raw, limits)? else { continue };
        let entry_type = entry.header().entry_type();
        if entry_type.is_dir() {
            continue;
        }
        // pax and GNU extension headers are consumed by the tar crate; anything else
        // that is not a plain file (links, devices, FIFOs) is not a MIB.
        if !(entry_type.is_file() || entry_type.is_contiguous()) {
            bundle.skipped.push(Skipped { name, reason: "not a regular file (link, device or FIFO)".into() });
            continue;
        }
        if entry.size() > limits.max_file_bytes {
            return Err(BundleError::FileTooLarge { name, limit: limits.max_file_bytes });
        }
        let size = entry.size();
        take(&mut bundle, &mut total, name, entry, size, limits, "tar")?;
    }
    Ok(bundle)
}

fn unzip(bytes: &[u8], limits: &Limits) -> Result<Bundle, BundleError> {
    let mut bundle = Bundle { kind: BundleKind::Zip, files: Vec::new(), skipped: Vec::new() };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zip_error)?;
    // The central directory is read first: the count is known before any entry is.
    if archive.len() > limits.max_entries {
        return Err(BundleError::TooManyEntries { limit: limits.max_entries });
    }
    let mut total = 0u64;
    for i in 0..archive.len() {
        let file = archive.by_index(i).map_err(zip_error)?;
        let Some(name) = safe_name(file.name_raw(), limits)? else { continue };
        if file.is_dir() {
            continue;
        }
        // Unix mode bits of the entry, when the archiver recorded them: S_IFLNK.
        if file.unix_mode().is_some_and(|m| m & 0o170_000 == 0o120_000) {
            bundle.skipped.push(Skipped { name, reason: "symbolic link".into() });
            continue;
        }
        // The declared size may lie; reading is bounded again in `take`.
        if file.size() > limits.max_file_bytes {
            return Err(BundleError::FileTooLarge { name, limit: limits.max_file_bytes });
        }
        let size = file.size();
        take(&mut bundle, &mut total, name, file, size, limits, "zip")?;
    }
    Ok(bundle)
}

fn zip_error(e: zip::result::ZipError) -> BundleError {
    match e {
        zip::result::ZipError::UnsupportedArchive(what) => {
            BundleError::Unsupported { message: what.to_owned() }
        }
        other => corrupt("zip", other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const MIB: &[u8] = b"A-MIB DEFINITIONS ::= BEGIN\nEND\n";

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn kinds_by_content() {
        let l = Limits::default();
        let f = unpack("dir/A-MIB.txt", MIB, &l).unwrap();
        assert_eq!((f.kind, f.files[0].name.as_str()), (BundleKind::File, "A-MIB.txt"));
        let g = unpack("A-MIB.txt.gz", &gz(MIB), &l).unwrap();
        assert_eq!(
            (g.kind, g.files[0].name.as_str(), g.files[0].bytes.as_slice()),
            (BundleKind::GzipFile, "A-MIB.txt", MIB)
        );
        let t = tar_of(&[("x/A-MIB.my", MIB), ("x/B.my", MIB)]);
        let u = unpack("whatever.bin", &t, &l).unwrap();
        assert_eq!((u.kind, u.files.len()), (BundleKind::Tar, 2));
        let u = unpack("m.tgz", &gz(&t), &l).unwrap();
        assert_eq!((u.kind, u.files[1].name.as_str()), (BundleKind::TarGz, "x/B.my"));
        let z = unpack("m.zip", &zip_of(&[("a/A.mib", MIB), ("__MACOSX/a/._A.mib", b"x")]), &l).unwrap();
        assert_eq!((z.kind, z.files.len(), z.skipped.len()), (BundleKind::Zip, 1, 1));
    }

    #[test]
    fn hostile_archives_are_refused() {
        let l = Limits::default();
        assert_eq!(unpack("x", b"", &l), Err(BundleError::Empty));
        let e = unpack("m.tar", &tar_of(&[("ok.mib", MIB)]).into_iter().take(700).collect::<Vec<_>>(), &l);
        assert!(matches!(e, Err(BundleError::Corrupt { .. }) | Ok(_)), "{e:?}");
        // The tar crate refuses `..` when building, so the name is written raw.
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..12].copy_from_slice(b"../../etc/pw");
        h.set_size(MIB.len() as u64);
        h.set_cksum();
        let mut b = tar::Builder::new(Vec::new());
        b.append(&h, MIB).unwrap();
        let e = unpack("evil.tar", &b.into_inner().unwrap(), &l).unwrap_err();
        assert_eq!(e.code(), "unsafe_path");
        let e = unpack("evil.zip", &zip_of(&[("/abs.mib", MIB)]), &l).unwrap_err();
        assert_eq!(e.code(), "unsafe_path");
        let e = unpack("evil.zip", &zip_of(&[("C:\\x.mib", MIB)]), &l).unwrap_err();
        assert_eq!(e.code(), "unsafe_path");
        let small = Limits { max_entries: 2, max_file_bytes: 64, max_total_bytes: 100, max_name_bytes: 50 };
        let e = unpack("m.zip", &zip_of(&[("a", MIB), ("b", MIB), ("c", MIB)]), &small).unwrap_err();
        assert_eq!(e.code(), "too_many_entries");
        let bomb = gz(&vec![b'A'; 1 << 20]);
        assert!(bomb.len() < 4096);
        assert_eq!(unpack("bomb.gz", &bomb, &small).unwrap_err().code(), "archive_too_large");
        let e = unpack("m.zip", &zip_of(&[("big", &[b' '; 65])]), &small).unwrap_err();
        assert_eq!(e.code(), "file_too_large");
        let e = unpack("m.zip", &zip_of(&[("a", &[b' '; 60]), ("b", &[b' '; 60])]), &small).unwrap_err();
        assert_eq!(e.code(), "archive_too_large");
        assert_eq!(unpack("x.zip", b"PK\x03\x04garbage", &l).unwrap_err().code(), "corrupt_archive");
        assert_eq!(unpack("x.gz", &[0x1f, 0x8b, 8, 0, 1, 2], &l).unwrap_err().code(), "corrupt_archive");
    }

    #[test]
    fn names() {
        let l = Limits::default();
        assert_eq!(safe_name(b"./a//b/./c.mib", &l).unwrap().as_deref(), Some("a/b/c.mib"));
        assert_eq!(safe_name(b"dir/", &l).unwrap().as_deref(), Some("dir"));
        assert_eq!(safe_name(b"./", &l).unwrap(), None);
        assert!(safe_name(b"a/../../b", &l).is_err());
        assert!(safe_name(b"a\\..\\b", &l).is_err());
        assert!(safe_name(b"a\0b", &l).is_err());
        assert_eq!(base_name("C:\\Users\\x\\IF-MIB.txt"), "IF-MIB.txt");
        assert_eq!(base_name(".."), "upload.mib");
    }
}
