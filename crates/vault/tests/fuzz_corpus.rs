//! Replays every input kept in fuzz/corpus (the minimized corpora) and
//! fuzz/regressions (the inputs that once broke an invariant; SECURITY.md lists
//! them) through the fuzz targets' checks, on stable and without libFuzzer, so
//! CI keeps every case the fuzzers found. New inputs come from `scripts/fuzz.sh`.

#[path = "../../../fuzz/checks.rs"]
mod checks;

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = fuzz.join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            assert_eq!(kind, "regressions", "{} is missing", dir.display());
            continue;
        };
        files.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .map(|p| {
                    let bytes = std::fs::read(&p).expect("read corpus file");
                    (p, bytes)
                }),
        );
    }
    files.sort();
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    let files = corpus(target);
    assert!(files.len() >= 3, "the {target} corpus is missing");
    for (path, bytes) in &files {
        let outcome = std::panic::catch_unwind(|| check(bytes));
        assert!(
            outcome.is_ok(),
            "{target}: {} breaks an invariant (see the panic above)",
            path.display()
        );
    }
}

#[test]
fn www_authenticate() {
    replay("www_authenticate", checks::www_authenticate);
}

#[test]
fn discovery_documents() {
    replay("discovery_documents", checks::discovery_documents);
}

#[test]
fn token_response() {
    replay("token_response", checks::token_response);
}

#[test]
fn callback_url() {
    replay("callback_url", checks::callback_url);
}

#[test]
fn deep_link() {
    replay("deep_link", checks::deep_link);
}

#[test]
fn export_jsonc() {
    replay("export_jsonc", checks::export_jsonc);
}
