//! A UI module must declare its memory's maximum (64 MiB at most: the host
//! refuses one without), so the browser stops its growth there. Rust's
//! linker declares none unless told.
fn main() {
    println!("cargo:rustc-link-arg-cdylib=--max-memory=67108864");
}
