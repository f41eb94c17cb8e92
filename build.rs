//! Link flags for the shipped binary only (not the test harnesses).
//!
//! `-z pack-relative-relocs` (DT_RELR): the PIE's ~12,000 relative
//! relocations shrink from a 291 KB `.rela.dyn` that the dynamic loader
//! reads whole at every start to a 4 KB `.relr.dyn`. Measured on the TCP
//! check in a namespace testbed: binary 2.91 -> 2.63 MB, peak RSS 5356 ->
//! 5016 KiB, start-up task-clock -0.05 ms, the binary still a PIE (ASLR).
//! Needs glibc 2.36 at run time (the binary already needs 2.34) and lld
//! 15 or GNU ld 2.38 to link; older GNU ld ignores it with a warning.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
