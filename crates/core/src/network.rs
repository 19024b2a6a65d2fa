//! The network a request crosses: which certificates are trusted, which
//! proxy is used, and how to say so (`mcpauth status`) and what to do when a
//! certificate is refused.
//!
//! Trust: the operating system's store (on Linux the system bundle, or the
//! files `SSL_CERT_FILE` / `SSL_CERT_DIR` name, read by `rustls-native-certs`
//! through reqwest), the compiled-in Mozilla roots, and one extra PEM bundle
//! (`--ca-file`, else `MCPAUTH_CA_FILE`) for a private CA or a TLS-inspecting
//! corporate proxy. Proxies: reqwest's own reading of `HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case), for every request.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;

use crate::error::{Error, Result};

/// The environment variable naming an extra CA bundle when `--ca-file` is not given.
pub const CA_FILE_ENV: &str = "MCPAUTH_CA_FILE";

static CA_FILE: OnceLock<PathBuf> = OnceLock::new();

/// How long an idle pooled connection may be reused: below the shortest
/// common server keep-alive timeout (Node.js: 5 s; nginx: 75 s).
const POOL_IDLE: std::time::Duration = std::time::Duration::from_secs(4);

/// Trusts the PEM certificates in `path` for every client built from now on
/// in this process (the CLI's `--ca-file`). The file is read now, so a wrong
/// path or a file without certificates is reported at once.
pub fn use_ca_file(path: &Path) -> Result<()> {
    read_bundle(path)?;
    CA_FILE.set(path.to_path_buf()).map_err(|_| Error::CaFile {
        reason: "an extra CA file was already chosen".into(),
    })
}

/// The extra CA bundle in use, if any: `--ca-file`, else `MCPAUTH_CA_FILE`.
pub fn ca_file() -> Option<PathBuf> {
    CA_FILE.get().cloned().or_else(|| {
        std::env::var_os(CA_FILE_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// A reqwest builder with this process's trust settings: the system's store
/// and the compiled-in roots (reqwest's features) plus the extra CA file.
/// Every client of the product starts from it.
pub fn client_builder() -> Result<reqwest::ClientBuilder> {
    // A pooled connection is not reused after 4 s idle: servers close idle
    // connections after a keep-alive timeout (Node.js's default is 5 s), and a
    // request written to a connection the server is closing at that moment
    // fails with "connection closed before message completed", which cannot
    // be retried safely (the server may have read it). Seen once in CI on the
    // proxy's first request to the SDK 2.x server.
    let mut builder = reqwest::Client::builder().pool_idle_timeout(POOL_IDLE);
    for cert in extra_roots()? {
        builder = builder.add_root_certificate(cert);
    }
    Ok(builder)
}

/// The extra roots every client adds to the system's and the compiled-in ones.
fn extra_roots() -> Result<Vec<reqwest::Certificate>> {
    match ca_file() {
        Some(path) => read_bundle(&path),
        None => Ok(Vec::new()),
    }
}

fn read_bundle(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| {
        Error::CaFile {
            reason: format!(
                "cannot read the CA file {shown}: {e}; give a PEM file of root certificates (--ca-file or {CA_FILE_ENV})"
            ),
        }
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&bytes).map_err(|e| Error::CaFile {
        reason: format!("the CA file {shown} is not a PEM certificate bundle: {e}"),
    })?;
    if certs.is_empty() {
        return Err(Error::CaFile {
            reason: format!(
                "the CA file {shown} holds no certificate (expected -----BEGIN CERTIFICATE----- blocks)"
            ),
        });
    }
    Ok(certs)
}

/// What a request to the outside goes through, for `mcpauth status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSettings {
    /// Each proxy variable that is set, its value with any password hidden.
    pub proxies: Vec<(String, String)>,
    /// `NO_PROXY` (or `no_proxy`), when set.
    pub no_proxy: Option<String>,
    /// Where trusted certificates come from, in words.
    pub trust: Vec<String>,
}

/// The settings in effect for clients built now.
pub fn settings() -> NetworkSettings {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (name.to_string(), v))
    };
    let proxies = [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .iter()
    .filter_map(|name| var(name))
    .map(|(name, value)| (name, hide_password(&value)))
    .collect();
    let no_proxy = var("NO_PROXY").or_else(|| var("no_proxy")).map(|(_, v)| v);
    let mut trust = Vec::new();
    match (var("SSL_CERT_FILE"), var("SSL_CERT_DIR")) {
        (None, None) => trust.push("the operating system's certificate store".to_string()),
        (file, dir) => {
            for (name, value) in file.into_iter().chain(dir) {
                trust.push(format!("{name}={value} (instead of the system store)"));
            }
        }
    }
    trust.push("the compiled-in Mozilla roots".to_string());
    if let Some(path) = ca_file() {
        trust.push(format!("the extra CA file {}", path.display()));
    }
    NetworkSettings {
        proxies,
        no_proxy,
        trust,
    }
}

/// A proxy URL with its password (if any) replaced, so status never shows it.
fn hide_password(value: &str) -> String {
    // reqwest reads a value without a scheme as an http:// proxy; so does this.
    let parsed = if value.contains("://") {
        url::Url::parse(value)
    } else {
        url::Url::parse(&format!("http://{value}"))
    };
    match parsed {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("****"));
            url.to_string()
        }
        Ok(_) => value.to_string(),
        // Not a URL: shown only when it cannot hold `user:password@`.
        Err(_) if value.contains('@') => "(set, not shown: not a URL)".into(),
        Err(_) => value.to_string(),
    }
}

/// What to do when a server's certificate is not trusted, appended to the
/// transport error (the message reqwest and rustls give names the cause only).
pub fn certificate_hint(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let about_trust = lower.contains("certificate")
        && (lower.contains("unknownissuer")
            || lower.contains("unknown issuer")
            || lower.contains("not trusted")
            || lower.contains("invalid peer certificate"));
    about_trust.then(|| {
        format!(
            "the server's certificate is not signed by a trusted authority; if this network inspects TLS or the server uses a private CA, trust its root certificate with --ca-file <pem>, {CA_FILE_ENV} or SSL_CERT_FILE"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_passwords_are_hidden() {
        assert_eq!(
            hide_password("http://alice:s3cret@proxy.corp:3128"),
            "http://alice:****@proxy.corp:3128/"
        );
        assert_eq!(
            hide_password("http://proxy.corp:3128"),
            "http://proxy.corp:3128"
        );
        assert!(!hide_password("alice:s3cret@proxy").contains("s3cret"));
    }

    #[test]
    fn a_bad_ca_file_says_what_is_wrong() {
        let dir = std::env::temp_dir().join(format!("mcpauth-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let missing = dir.join("missing.pem");
        let e = read_bundle(&missing).expect_err("missing");
        assert!(e.to_string().contains("cannot read the CA file"), "{e}");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let e = read_bundle(&empty).expect_err("empty");
        assert!(e.to_string().contains("the CA file"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_untrusted_certificate_gets_advice() {
        let rustls = "error sending request: client error (Connect): invalid peer certificate: UnknownIssuer";
        assert!(certificate_hint(rustls).is_some_and(|h| h.contains("--ca-file")));
        assert!(certificate_hint("connection refused").is_none());
    }
}
