//! Opening the authorization URL in the user's browser: the `BROWSER`
//! environment variable first (a `:`-separated list of commands, `%s` standing
//! for the URL, as other tools read it), else the platform's opener. Programs
//! are started directly, never through a shell.

use std::process::{Command, Stdio};

use url::Url;

/// Why the browser could not be opened.
#[derive(Debug)]
pub struct NoBrowser(pub String);

fn spawn(program: &str, args: &[String]) -> std::io::Result<()> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()?;
    // Reap it whenever it ends, without waiting for it now.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

/// The commands `BROWSER` names, each as program and arguments with the URL filled in.
pub fn browser_commands(browser_var: &str, url: &str) -> Vec<(String, Vec<String>)> {
    browser_var
        .split(':')
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| {
            let mut words: Vec<String> = entry.split_whitespace().map(str::to_string).collect();
            if words.iter().any(|w| w.contains("%s")) {
                for w in &mut words {
                    *w = w.replace("%s", url);
                }
            } else {
                words.push(url.to_string());
            }
            let program = words.remove(0);
            (program, words)
        })
        .collect()
}

/// Opens `url` (which must be https, or http on loopback: SPEC §3.7).
pub fn open(url: &Url) -> Result<String, NoBrowser> {
    mcpauth_core::authorize::check_browser_url(url).map_err(|e| NoBrowser(e.to_string()))?;
    let url = url.as_str();
    let mut tried = Vec::new();
    if let Ok(var) = std::env::var("BROWSER") {
        for (program, args) in browser_commands(&var, url) {
            match spawn(&program, &args) {
                Ok(()) => return Ok(program),
                Err(e) => tried.push(format!("{program}: {e}")),
            }
        }
    }
    let openers: &[(&str, &[&str])] = if cfg!(target_os = "macos") {
        &[("open", &[])]
    } else if cfg!(target_os = "windows") {
        &[("rundll32", &["url.dll,FileProtocolHandler"])]
    } else {
        &[("xdg-open", &[]), ("gio", &["open"])]
    };
    for (program, pre) in openers {
        let mut args: Vec<String> = pre.iter().map(|s| s.to_string()).collect();
        args.push(url.to_string());
        match spawn(program, &args) {
            Ok(()) => return Ok(program.to_string()),
            Err(e) => tried.push(format!("{program}: {e}")),
        }
    }
    Err(NoBrowser(format!(
        "no browser could be started ({})",
        tried.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_variable_forms() {
        let url = "https://as.example/auth?x=1";
        assert_eq!(
            browser_commands("firefox", url),
            vec![("firefox".to_string(), vec![url.to_string()])]
        );
        assert_eq!(
            browser_commands("node /t/approve.mjs --flag", url),
            vec![(
                "node".to_string(),
                vec!["/t/approve.mjs".into(), "--flag".into(), url.into()]
            )]
        );
        assert_eq!(
            browser_commands("chromium --app=%s:lynx", url),
            vec![
                ("chromium".to_string(), vec![format!("--app={url}")]),
                ("lynx".to_string(), vec![url.to_string()]),
            ]
        );
        assert!(browser_commands("", url).is_empty());
    }

    #[test]
    fn unsafe_urls_are_not_opened() {
        let url = Url::parse("http://evil.example/auth").expect("url");
        let err = open(&url).expect_err("refused");
        assert!(err.0.contains("neither https nor loopback"), "{}", err.0);
    }
}
