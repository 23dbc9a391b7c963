// libtorch's shared libraries are found at run time through the binaries' rpath:
// `$LIBTORCH/lib` where the build found them, and `../lib/flowvision/libtorch` beside
// an installed binary (`/usr/bin` -> `/usr/lib/flowvision/libtorch`, the Debian package
// and the container images). torch-sys sets no rpath of its own.
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}/lib");
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/../lib/flowvision/libtorch");
}
