//! `--idp`: enterprise-managed sign-in (MCP SEP-990) from the command line.
//! The sign-in at the organisation's identity provider happens in the
//! browser, once; every server behind it is then added with an ID-JAG.

use std::io::Write;

use mcpauth_vault::{browser, AssertionSource, IdTokenSource, IdpLink, Vault};

use crate::cli::ClientArgs;
use crate::login::machine_account;
use crate::{exit, Failure};

/// The identity provider the flags name, and its client's secret when one
/// was given; `None` without `--idp`.
pub fn idp_link(args: &ClientArgs) -> Result<Option<(IdpLink, Option<String>)>, Failure> {
    let Some(issuer) = &args.idp else {
        return Ok(None);
    };
    let Some(client_id) = &args.idp_client_id else {
        return Err(Failure::new(
            exit::FAILURE,
            "--idp needs --idp-client-id: MCP Auth's client id at your identity provider (your administrator has it)",
        ));
    };
    if args.client_id.is_none() {
        return Err(Failure::new(
            exit::FAILURE,
            "--idp needs --client-id (and its --client-secret-file or --private-key): the client the \
             MCP server's authorization server knows for your organisation",
        ));
    }
    let secret = args
        .idp_client_secret_file
        .as_ref()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|s| s.trim().to_string())
                .map_err(|e| {
                    Failure::new(
                        exit::FAILURE,
                        format!(
                            "cannot read the identity provider's client secret file {}: {e}",
                            path.display()
                        ),
                    )
                })
        })
        .transpose()?;
    let id_token = match (&args.id_token_file, &args.id_token_env) {
        (Some(path), _) => IdTokenSource::File(path.clone()),
        (None, Some(name)) => IdTokenSource::Env(name.clone()),
        (None, None) => IdTokenSource::SignIn,
    };
    Ok(Some((
        IdpLink {
            issuer: issuer.clone(),
            client_id: client_id.clone(),
            id_token,
        },
        secret,
    )))
}

/// Keeps the identity provider's client secret (when given) and makes sure
/// there is a sign-in there to exchange: the browser opens only when MCP Auth
/// holds none (or it is over) and the ID token is not read from elsewhere.
pub async fn prepare(
    vault: &Vault,
    link: &IdpLink,
    secret: Option<&str>,
) -> Result<AssertionSource, Failure> {
    if secret.is_some() {
        vault.keep_idp_client_secret(link, secret).await?;
    }
    if link.id_token == IdTokenSource::SignIn && vault.idp_signed_in(link)?.is_none() {
        sign_in(vault, link).await?;
    }
    Ok(AssertionSource::IdJag(link.clone()))
}

/// Signs in at the identity provider in the browser.
pub async fn sign_in(vault: &Vault, link: &IdpLink) -> Result<(), Failure> {
    eprintln!(
        "Signing in at your organisation's identity provider {} (client {})",
        link.issuer, link.client_id
    );
    let who = vault
        .sign_in_to_idp(link, None, |url| {
            match browser::open(url) {
                Ok(program) => eprintln!(
                    "Opened the sign-in page with {program}; waiting for you to approve (Ctrl-C to cancel)…"
                ),
                Err(e) => eprintln!(
                    "Could not open a browser ({}). Open this URL yourself:\n\n  {url}\n",
                    e.0
                ),
            }
            let _ = std::io::stderr().flush();
        })
        .await?;
    eprintln!(
        "Signed in at {} as {}",
        link.issuer,
        who.email
            .or(who.subject)
            .unwrap_or_else(|| "an unnamed user".into())
    );
    Ok(())
}

/// The account of `server` that gets ID-JAGs from the identity provider
/// `issuer` for the client `client_id`, if there is one.
pub fn account_of(
    vault: &Vault,
    server: &str,
    issuer: &str,
    client_id: Option<&String>,
) -> Result<Option<String>, Failure> {
    let url = mcpauth_core::http::parse_secure("MCP server URL", server)?;
    machine_account(
        vault,
        &url,
        client_id,
        |source| matches!(source, Some(AssertionSource::IdJag(l)) if l.issuer == issuer),
    )
}
