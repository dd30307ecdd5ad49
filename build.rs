//! Deflates the texts the binary serves (openapi.yaml, the dashboard) into OUT_DIR, where
//! `src/serve/api.rs` and `src/serve/dashboard.rs` embed them and `src/serve/inflate.rs` inflates
//! them per request: about 75 KB less binary. The encoder (miniz_oxide) is a build dependency,
//! not in the binary.
//!
//! With the `swagger-ui` feature, fetches Swagger UI's assets from the npm registry (the
//! `swagger-ui-dist` package, a dependency like a crate: never committed) and gzips the two files
//! the page needs into OUT_DIR, where `src/docs.rs` embeds them. Without the feature, nothing.

use std::path::Path;
use std::process::Command;

/// The swagger-ui-dist version embedded.
const SWAGGER_UI_VERSION: &str = "5.35.0";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let out = Path::new(&out);
    for (source, name) in [
        ("openapi.yaml", "openapi.yaml.deflate"),
        ("src/serve/dashboard.html", "dashboard.html.deflate"),
    ] {
        println!("cargo::rerun-if-changed={source}");
        let text = std::fs::read(source).expect("read the text to embed");
        // Raw deflate (no zlib header), level 10: miniz_oxide's best.
        let deflated = miniz_oxide::deflate::compress_to_vec(&text, 10);
        std::fs::write(out.join(name), deflated).expect("write the deflated text");
    }
    if std::env::var_os("CARGO_FEATURE_SWAGGER_UI").is_none() {
        return;
    }
    let package = out.join("package");
    if !package.join("swagger-ui-bundle.js").exists() {
        let spec = format!("swagger-ui-dist@{SWAGGER_UI_VERSION}");
        run(Command::new("npm")
            .args(["pack", "--silent", &spec, "--pack-destination"])
            .arg(out));
        let tarball = out.join(format!("swagger-ui-dist-{SWAGGER_UI_VERSION}.tgz"));
        run(Command::new("tar")
            .arg("xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(out));
    }
    for file in ["swagger-ui-bundle.js", "swagger-ui.css"] {
        let gz = std::fs::File::create(out.join(format!("{file}.gz"))).expect("create the .gz");
        // -n: no name or time stamp, so the build is reproducible.
        run(Command::new("gzip")
            .args(["-9", "-n", "-c"])
            .arg(package.join(file))
            .stdout(gz));
    }
    std::fs::copy(package.join("LICENSE"), out.join("swagger-ui-LICENSE")).expect("the licence");
    std::fs::copy(package.join("NOTICE"), out.join("swagger-ui-NOTICE")).expect("the notice");
}

fn run(command: &mut Command) {
    let status = command.status().unwrap_or_else(|e| {
        panic!("the swagger-ui feature needs npm, tar and gzip: {command:?}: {e}")
    });
    assert!(status.success(), "{command:?} failed: {status}");
}
