//! Compiles the XDP program (../xdp/flowvision.bpf.c) with clang into OUT_DIR, so the
//! object is built from source and never committed. Without clang the build still
//! succeeds with an empty object: the collector then reports "XDP program not built"
//! at start-up and (INGEST_MODE=auto) falls back to UDP sockets.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let source = manifest.join("../xdp/flowvision.bpf.c");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("flowvision.bpf.o");
    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rerun-if-env-changed=CLANG");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".into());
    // Debian keeps <asm/types.h> under the multiarch directory, which -target bpf
    // does not search by itself.
    let multiarch = format!("/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    let status = Command::new(&clang)
        .args(["-O2", "-g", "-Wall", "-target", "bpf", "-I", &multiarch, "-c"])
        .arg(&source)
        .arg("-o")
        .arg(&out)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            println!("cargo:warning=clang failed on {} ({s}); XDP ingest disabled", source.display());
            let _ = std::fs::write(&out, b"");
        }
        Err(e) => {
            println!(
                "cargo:warning={clang} not found ({e}); XDP ingest disabled (apt-get install clang llvm libbpf-dev)"
            );
            let _ = std::fs::write(&out, b"");
        }
    }
}
