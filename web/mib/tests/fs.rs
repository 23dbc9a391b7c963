//! The I/O edge: which files a dump loads, in which order, and what it refuses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;

use flowvision_mib::fs::{base_files, collect_files, read_files, LoadError};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("flowvision-mib-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn walks_recursively_in_name_order_once_through_link_loops() {
    let t = TempDir::new("walk");
    let root = &t.0;
    std::fs::create_dir_all(root.join("b/deeper")).unwrap();
    std::fs::create_dir_all(root.join("a")).unwrap();
    for f in ["z.my", "a/IF-MIB", "b/deeper/x.txt", "b/10.mib", "b/9.mib"] {
        std::fs::write(root.join(f), f).unwrap();
    }
    // A link back up the tree, and a dangling one.
    std::os::unix::fs::symlink(root, root.join("b/up")).unwrap();
    std::os::unix::fs::symlink(root.join("gone"), root.join("b/dangling")).unwrap();

    let files = collect_files(std::slice::from_ref(root)).unwrap();
    let rel: Vec<String> =
        files.iter().map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(rel, ["a/IF-MIB", "b/10.mib", "b/9.mib", "b/deeper/x.txt", "z.my"]);

    // A file given directly is taken as is; base folders are not recursive.
    let direct = collect_files(&[root.join("z.my")]).unwrap();
    assert_eq!(direct, [root.join("z.my")]);
    let base = base_files(&[root.join("b"), root.join("missing")]).unwrap();
    assert_eq!(base, [root.join("b/10.mib"), root.join("b/9.mib")]);

    let sources = read_files(&direct).unwrap();
    assert_eq!((sources[0].label(), sources[0].bytes()), (root.join("z.my").to_str().unwrap(), &b"z.my"[..]));
}

#[test]
fn a_missing_path_is_refused_by_name() {
    let t = TempDir::new("missing");
    let missing = t.0.join("nope");
    let err = collect_files(&[t.0.clone(), missing.clone()]).unwrap_err();
    assert!(matches!(&err, LoadError::Missing { path, .. } if *path == missing), "{err:?}");
    assert_eq!(err.to_string(), format!("cannot use {}", missing.display()));
}
