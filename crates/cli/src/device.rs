//! `mcpauth login --device`: the device authorization grant (RFC 8628) for a
//! terminal with no browser. Prints where to go and the code to enter (and,
//! on a terminal, the link with the code as a QR code for a phone), then
//! waits while the vault polls.

use std::io::IsTerminal;
use std::time::Duration;

use mcpauth_vault::{Account, DeviceSignInRequest, Vault};

use crate::Failure;

pub async fn sign_in(vault: &Vault, request: DeviceSignInRequest) -> Result<Account, Failure> {
    let sign_in = vault.begin_device_sign_in(request).await?;
    let code = &sign_in.authorization;
    eprintln!("Authorization server: {}", sign_in.issuer);
    if let Some(scopes) = &code.scopes {
        eprintln!("Scopes:               {scopes}");
    }
    eprintln!(
        "\nOn any device with a browser, open\n\n  {}\n\nand enter the code\n\n  {}\n",
        code.verification_uri, code.user_code
    );
    if let Some(complete) = &code.verification_uri_complete {
        eprintln!("Or open this link, which carries the code:\n\n  {complete}\n");
        if std::io::stderr().is_terminal() {
            if let Some(qr) = qr_code(complete) {
                eprintln!("{qr}");
            }
        }
    }
    eprintln!(
        "Waiting for you to approve (the code expires in {}; Ctrl-C to cancel)…",
        for_a_while(code.expires_in)
    );
    Ok(vault.finish_device_sign_in(sign_in).await?)
}

/// The link as a QR code in half-block characters, light modules on the
/// terminal's dark background (as most terminals are), with its quiet zone.
fn qr_code(text: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

fn for_a_while(d: Duration) -> String {
    match d.as_secs() {
        s if s >= 120 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_a_square_with_its_quiet_zone() {
        let link = "https://as.example/device?user_code=WDJB-MJHT";
        let qr = qr_code(link).expect("a QR code");
        let rows: Vec<&str> = qr.lines().collect();
        let width = rows[0].chars().count();
        assert!(rows.iter().all(|r| r.chars().count() == width), "{qr}");
        // Two modules per character row: as many rows as half the width.
        assert_eq!(rows.len(), width.div_ceil(2), "{qr}");
        // Version 3 or more for this link (29+ modules) plus 4 on each side.
        assert!(width >= 29 + 8, "{width}");
        // The quiet zone: the first row is all light (drawn dark-on-dark here: full blocks).
        assert!(rows[0].chars().all(|c| c == '█'), "{}", rows[0]);
    }

    #[test]
    fn the_wait_is_said_in_minutes_or_seconds() {
        assert_eq!(for_a_while(Duration::from_secs(600)), "10 minutes");
        assert_eq!(for_a_while(Duration::from_secs(90)), "90 seconds");
    }
}
