//! Seeds `fuzz/corpus/resolve/` (gitignored): the saved regression inputs, plus every
//! file of the shared MIB corpus up to 64 KiB (`../shared/mibs` beside the checkout,
//! or `FLOWVISION_MIBS`). Corpus bytes never enter the repository.
//!
//! `cargo run --release --example seed_corpus` from `web/mib/fuzz`.

use std::path::{Path, PathBuf};

const MAX_SEED: u64 = 64 * 1024;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mibs = std::env::var_os("FLOWVISION_MIBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| here.join("../../../../shared/mibs"));
    let out = here.join("corpus/resolve");
    std::fs::create_dir_all(&out)?;
    let mut files = Vec::new();
    walk(&here.join("../tests/fuzz_regressions/resolve"), &mut files)?;
    if mibs.is_dir() {
        walk(&mibs, &mut files)?;
    } else {
        eprintln!("MIB corpus not found at {} (set FLOWVISION_MIBS); regression seeds only", mibs.display());
    }
    let mut n = 0;
    for f in files {
        if std::fs::metadata(&f)?.len() <= MAX_SEED {
            std::fs::copy(&f, out.join(format!("seed-{n:04}")))?;
            n += 1;
        }
    }
    println!("{n} seeds in {}", out.display());
    bundle_seeds(&here.join("corpus/bundle"))
}

/// Seeds of the `bundle` target: small archives of every kind it reads, built here (a
/// tar with a folder, a link and a `..` name, a .tar.gz, a zip with a folder and a
/// nested archive, a gzipped file, a plain file).
fn bundle_seeds(out: &Path) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(out)?;
    let mib: &[u8] = b"A-MIB DEFINITIONS ::= BEGIN\nIMPORTS enterprises FROM SNMPv2-SMI;\na OBJECT IDENTIFIER ::= { enterprises 1 }\nEND\n";
    let gz = |data: &[u8]| -> std::io::Result<Vec<u8>> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data)?;
        e.finish()
    };
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_cksum();
    t.append_data(&mut h, "mibs/", std::io::empty())?;
    let mut h = tar::Header::new_gnu();
    h.set_size(mib.len() as u64);
    h.set_cksum();
    t.append_data(&mut h, "mibs/A-MIB.txt", mib)?;
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    t.append_link(&mut h, "mibs/link", "A-MIB.txt")?;
    let mut h = tar::Header::new_gnu();
    if let Some(name) = h.as_gnu_mut().and_then(|g| g.name.get_mut(..9)) {
        name.copy_from_slice(b"../x.mib\0");
    }
    h.set_size(mib.len() as u64);
    h.set_cksum();
    t.append(&h, mib)?;
    let tar = t.into_inner()?;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    z.add_directory("d/", opts).map_err(std::io::Error::other)?;
    z.start_file("d/A-MIB.my", opts).map_err(std::io::Error::other)?;
    z.write_all(mib)?;
    z.start_file("d/inner.tgz", opts.compression_method(zip::CompressionMethod::Stored)).map_err(std::io::Error::other)?;
    z.write_all(&gz(&tar)?)?;
    let zip = z.finish().map_err(std::io::Error::other)?.into_inner();
    let seeds: [(&str, Vec<u8>); 5] =
        [("tar", tar.clone()), ("tgz", gz(&tar)?), ("zip", zip), ("gz", gz(mib)?), ("mib", mib.to_vec())];
    for (name, bytes) in &seeds {
        std::fs::write(out.join(format!("seed-{name}")), bytes)?;
    }
    println!("{} seeds in {}", seeds.len(), out.display());
    Ok(())
}
