//! Generates `include/zcio.h` from the exported items in `src/` with cbindgen.
//!
//! The header is committed, so the file is rewritten only when its bytes
//! change: an unchanged header keeps its timestamp and does not trigger
//! rebuilds of the C and C++ code that includes it.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets the manifest dir"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    // The shared library carries the ABI's major version in its SONAME, so
    // programs linked against 0.x find `libzcio.so.0` at run time.
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libzcio.so.{major}");

    // The SIGBUS recovery for mapped copies needs sigsetjmp, which only C
    // can call safely; see the comment at the top of the file.
    cc::Build::new()
        .file("src/guard.c")
        .flag("-fvisibility=hidden")
        .warnings_into_errors(true)
        .compile("zcio_guard");

    let header = generate_header(&root);
    let path = root.join("include").join("zcio.h");
    if fs::read(&path).ok().as_deref() != Some(header.as_slice()) {
        fs::create_dir_all(root.join("include")).expect("create include/");
        fs::write(&path, &header).expect("write include/zcio.h");
    }
}

/// Runs cbindgen with `cbindgen.toml` and adds the version macros, which
/// come from `Cargo.toml` so that one number drives every version.
fn generate_header(root: &PathBuf) -> Vec<u8> {
    let mut config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("read cbindgen.toml");
    let version = |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).expect("version");
    let define = |part: &str, what: &str| {
        format!(
            "\n/**\n * The {what} version of the zcio these declarations belong to; compare\n * with zcio_version() at run time.\n */\n#define ZCIO_VERSION_{part} {}",
            version(part)
        )
    };
    config.after_includes =
        Some(define("MAJOR", "major") + &define("MINOR", "minor") + &define("PATCH", "patch"));

    let mut header = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate include/zcio.h")
        .write(&mut header);
    // cbindgen marks its C++ guards with // comments, which C89 lacks.
    String::from_utf8(header)
        .expect("cbindgen writes UTF-8")
        .replace("#endif // __cplusplus", "#endif /* __cplusplus */")
        .replace("#endif  // __cplusplus", "#endif  /* __cplusplus */")
        .replace("}  // extern \"C\"", "}  /* extern \"C\" */")
        .into_bytes()
}
