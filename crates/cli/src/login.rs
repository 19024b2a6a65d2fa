//! Signing in: the browser flow with the loopback listener, the paste flow
//! for machines without a browser, machine accounts, and scope upgrades.

use std::io::Write;

use mcpauth_core::loopback::LoopbackHost;
use mcpauth_core::scopes::Scopes;
use mcpauth_vault::model::now_secs;
use mcpauth_vault::{
    Account, AssertionSource, ClientChoice, ClientCredential, MachineAccountRequest, RedirectMode,
    SharedSignIn, SignInRequest, UpgradeOutcome, Vault,
};
use tokio::io::AsyncBufReadExt;

use crate::cli::{ClientArgs, Grant, LoginArgs, RedirectKind, ScopesAction};
use crate::output::{open_vault, relative};
use crate::{exit, Failure};
use mcpauth_vault::browser;

/// The deep-link redirect URI the app handles.
pub const DEEP_LINK_REDIRECT: &str = "mcpauth://oauth/callback";

/// The client the flags name.
pub fn client_choice(args: &ClientArgs) -> Result<ClientChoice, Failure> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read_to_string(path).map_err(|e| {
            Failure::new(
                exit::FAILURE,
                format!("cannot read the {what} {}: {e}", path.display()),
            )
        })
    };
    let credential = if let Some(secret) = &args.client_secret {
        Some(ClientCredential::Secret {
            value: secret.secret().to_string(),
        })
    } else if let Some(path) = &args.client_secret_file {
        Some(ClientCredential::Secret {
            value: read(path, "client secret file")?.trim().to_string(),
        })
    } else if let Some(path) = &args.private_key {
        let pem_or_jwk = read(path, "private key")?;
        let alg = args
            .signing_alg
            .as_deref()
            .map(mcpauth_core::jwt::SigningAlgorithm::parse)
            .transpose()?;
        // Fail now, with the key's own problem, rather than at the token endpoint.
        mcpauth_core::jwt::SigningKey::load(
            &mcpauth_core::secret::PrivateKeyMaterial::new(pem_or_jwk.clone()),
            alg,
        )
        .map_err(|e| Failure::new(exit::FAILURE, format!("{}: {e}", path.display())))?;
        Some(ClientCredential::PrivateKey {
            pem_or_jwk,
            alg: alg.map(|a| a.as_str().to_string()),
        })
    } else {
        None
    };
    if credential.is_some() && args.client_id.is_none() {
        return Err(Failure::new(
            exit::FAILURE,
            "a client secret or private key needs --client-id",
        ));
    }
    Ok(ClientChoice {
        client_id: args.client_id.clone(),
        credential,
        client_metadata_url: args.client_metadata_url.clone(),
    })
}

/// `--assertion-file` and `--assertion-env` belong to `--grant jwt-bearer`
/// alone: with another grant they would be silently ignored.
pub fn check_assertion_flags(grant: Grant, args: &ClientArgs) -> Result<(), Failure> {
    if grant != Grant::JwtBearer && (args.assertion_file.is_some() || args.assertion_env.is_some())
    {
        return Err(Failure::new(
            exit::FAILURE,
            "--assertion-file and --assertion-env are for --grant jwt-bearer (workload identity); add it, or drop them",
        ));
    }
    Ok(())
}

/// The client id and assertion source `--grant jwt-bearer` needs.
pub fn workload_client(
    args: &ClientArgs,
    client_id: Option<String>,
) -> Result<(String, AssertionSource), Failure> {
    let source = match (&args.assertion_file, &args.assertion_env) {
        (Some(path), _) => Some(AssertionSource::File(path.clone())),
        (None, Some(name)) => Some(AssertionSource::Env(name.clone())),
        (None, None) => None,
    };
    match (client_id, source) {
        (Some(client_id), Some(source)) => Ok((client_id, source)),
        _ => Err(Failure::new(
            exit::FAILURE,
            "--grant jwt-bearer needs --client-id and where to read the workload's JWT: \
             --assertion-file <path> or --assertion-env <variable>",
        )),
    }
}

/// The machine account of the MCP server at `url` for the client
/// `client_id` whose assertion source (`None`: client credentials) `wanted`
/// accepts: the one an earlier `login` or proxy run made.
pub fn machine_account(
    vault: &Vault,
    url: &url::Url,
    client_id: Option<&String>,
    wanted: impl Fn(Option<&AssertionSource>) -> bool,
) -> Result<Option<String>, Failure> {
    let canonical = mcpauth_core::discovery::canonical_resource(url);
    Ok(vault
        .list()?
        .into_iter()
        .find(|a| {
            a.kind == mcpauth_vault::AccountKind::Machine
                && a.serves(&canonical)
                && Some(&a.client_id) == client_id
                && wanted(a.assertion_source.as_ref())
        })
        .map(|a| a.id))
}

fn scopes_of(list: &[String]) -> Option<Scopes> {
    let joined = list.join(" ");
    let scopes = Scopes::parse(&joined);
    (!scopes.is_empty()).then_some(scopes)
}

/// Runs a browser sign-in to the end: shows where the browser will go, opens
/// it (or prints the URL and reads the pasted redirect URL), waits.
pub async fn interactive_sign_in(
    vault: &Vault,
    request: SignInRequest,
    no_browser: bool,
) -> Result<Account, Failure> {
    let paste = no_browser || matches!(request.redirect, RedirectMode::Fixed(_));
    let sign_in = vault.begin_sign_in(request).await?;
    if sign_in.signs_in_lazily {
        eprintln!("This server answers without a token and asks for one on the calls it protects; signing in now.");
    }
    eprintln!(
        "Authorization server: {}",
        sign_in.authorization_server_host
    );
    eprintln!("Redirect URI:         {}", sign_in.redirect_uri);
    if let Some(scopes) = &sign_in.scopes {
        eprintln!("Scopes:               {scopes}");
    }
    let url = url::Url::parse(&sign_in.authorization_url)
        .map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
    if paste {
        eprintln!("\nOpen this URL in a browser and approve:\n\n  {url}\n");
        eprintln!("Then paste the address the browser ended on (it may show an error page) and press Enter:");
    } else {
        match browser::open(&url) {
            Ok(program) => eprintln!("Opened the sign-in page with {program}; waiting for you to approve (Ctrl-C to cancel)…"),
            Err(e) => {
                eprintln!("Could not open a browser ({}). Open this URL yourself:\n\n  {url}\n", e.0);
            }
        }
    }
    let _ = std::io::stderr().flush();
    let account = if paste {
        // Whichever comes first: the browser reaching the listener, or a pasted URL.
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let pasted = async {
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) if line.trim().is_empty() => continue,
                    Ok(Some(line)) => return Ok(line),
                    Ok(None) => {
                        return Err(Failure::new(
                            exit::FAILURE,
                            "no redirect URL was pasted (stdin closed)",
                        ))
                    }
                    Err(e) => {
                        return Err(Failure::new(
                            exit::FAILURE,
                            format!("cannot read stdin: {e}"),
                        ))
                    }
                }
            }
        };
        let has_listener = sign_in.redirect_uri.starts_with("http://");
        if has_listener {
            tokio::select! {
                done = vault.finish_sign_in(sign_in) => done?,
                line = pasted => vault.complete_sign_in(line?.trim()).await?,
            }
        } else {
            let line = pasted.await?;
            vault.complete_sign_in(line.trim()).await?
        }
    } else {
        vault.finish_sign_in(sign_in).await?
    };
    Ok(account)
}

/// A new server's sign-in: with the sign-in of an account at the same
/// authorization server where it can be shared (`through` names it; without,
/// only where that server accepted it before), else in the browser.
pub async fn shared_or_browser(
    vault: &Vault,
    request: SignInRequest,
    through: Option<&str>,
    no_browser: bool,
) -> Result<Account, Failure> {
    match vault.sign_in_with_shared_grant(&request, through).await? {
        SharedSignIn::Added { account, holder } => {
            eprintln!(
                "Signed in with the sign-in of account {} ({}) at {}, without a browser; its refresh token stays with that account.",
                holder.id, holder.name, holder.issuer
            );
            return Ok(*account);
        }
        SharedSignIn::NotTried(Some(why)) => eprintln!("Signing in through the browser: {why}."),
        SharedSignIn::NotTried(None) => {}
        SharedSignIn::Refused { reason, holder } => {
            eprintln!("The sign-in of account {} was not accepted for this server ({reason}); signing in through the browser.", holder.id);
        }
    }
    interactive_sign_in(vault, request, no_browser).await
}

fn describe(account: &Account) -> String {
    let expiry = account
        .expires_at
        .map(|t| format!(", expires {}", relative(t, now_secs())))
        .unwrap_or_default();
    format!(
        "{}{} at {} ({}){expiry}",
        account.id,
        account
            .subject
            .as_ref()
            .map(|s| format!(" as {s}"))
            .unwrap_or_default(),
        account.server_url,
        if account.granted_scopes.is_empty() {
            "no scopes"
        } else {
            &account.granted_scopes
        },
    )
}

pub async fn login(args: LoginArgs) -> Result<(), Failure> {
    check_assertion_flags(args.grant, &args.client)?;
    if args.device && args.grant != Grant::AuthorizationCode {
        return Err(Failure::new(
            exit::FAILURE,
            "--device signs a person in; it does not go with --grant client-credentials or jwt-bearer",
        ));
    }
    let idp = crate::idp::idp_link(&args.client)?;
    if idp.is_some() && (args.device || args.grant == Grant::ClientCredentials) {
        return Err(Failure::new(
            exit::FAILURE,
            "--idp gets tokens with ID-JAGs from your identity provider; it does not go with --device or --grant client-credentials",
        ));
    }
    if args.through.is_some() && (idp.is_some() || args.grant != Grant::AuthorizationCode) {
        return Err(Failure::new(
            exit::FAILURE,
            "--through shares a person's sign-in; it does not go with --idp or --grant client-credentials or jwt-bearer",
        ));
    }
    let vault = open_vault()?;
    let client = client_choice(&args.client)?;
    let scopes = scopes_of(&args.scopes);
    let account = match args.grant {
        _ if idp.is_some() => {
            let (link, secret) = idp.expect("checked");
            let assertion = crate::idp::prepare(&vault, &link, secret.as_deref()).await?;
            // Signing in again for an account that has one: its next token
            // comes from the (new) sign-in there; no second account.
            let existing =
                crate::idp::account_of(&vault, &args.url, &link.issuer, client.client_id.as_ref())?;
            if let Some(existing) = existing {
                vault.resume_idp_accounts(&link)?;
                let account = vault.refresh_now(&existing).await?;
                eprintln!("Signed in: {}", describe(&account));
                return Ok(());
            }
            let request = MachineAccountRequest {
                mcp_url: args.url.clone(),
                name: args.account_name.clone(),
                client_id: client
                    .client_id
                    .clone()
                    .expect("idp_link checks --client-id"),
                credential: client.credential.clone(),
                assertion: Some(assertion),
                scopes,
                authorization_server: args.client.authorization_server.clone(),
                probe: None,
            };
            match vault.add_machine_account(request.clone()).await {
                // The sign-in there was over after all (the identity provider
                // ended it): once more, in the browser.
                Err(mcpauth_vault::Error::NeedsIdpSignIn { reason, .. })
                    if link.id_token == mcpauth_vault::IdTokenSource::SignIn =>
                {
                    eprintln!("The identity provider needs a new sign-in: {reason}");
                    crate::idp::sign_in(&vault, &link).await?;
                    vault.add_machine_account(request).await?
                }
                other => other?,
            }
        }
        Grant::ClientCredentials => {
            let (Some(client_id), Some(credential)) =
                (client.client_id.clone(), client.credential.clone())
            else {
                return Err(Failure::new(
                    exit::FAILURE,
                    "--grant client_credentials needs --client-id and a --client-secret(-file) or --private-key",
                ));
            };
            vault
                .add_machine_account(MachineAccountRequest {
                    mcp_url: args.url.clone(),
                    name: args.account_name.clone(),
                    client_id,
                    credential: Some(credential),
                    assertion: None,
                    scopes,
                    authorization_server: args.client.authorization_server.clone(),
                    probe: None,
                })
                .await?
        }
        Grant::JwtBearer => {
            let (client_id, assertion) = workload_client(&args.client, client.client_id.clone())?;
            vault
                .add_machine_account(MachineAccountRequest {
                    mcp_url: args.url.clone(),
                    name: args.account_name.clone(),
                    client_id,
                    credential: client.credential.clone(),
                    assertion: Some(assertion),
                    scopes,
                    authorization_server: args.client.authorization_server.clone(),
                    probe: None,
                })
                .await?
        }
        Grant::AuthorizationCode if args.device => {
            crate::device::sign_in(
                &vault,
                mcpauth_vault::DeviceSignInRequest {
                    mcp_url: args.url.clone(),
                    name: args.account_name.clone(),
                    scopes,
                    client_id: client.client_id.clone(),
                    credential: client.credential.clone(),
                    authorization_server: args.client.authorization_server.clone(),
                    probe: None,
                },
            )
            .await?
        }
        Grant::AuthorizationCode => {
            let redirect = match args.redirect {
                RedirectKind::Loopback => RedirectMode::Loopback {
                    port: args.port,
                    host: LoopbackHost::Ip,
                },
                RedirectKind::DeepLink => RedirectMode::Fixed(DEEP_LINK_REDIRECT.into()),
            };
            let request = SignInRequest {
                mcp_url: args.url.clone(),
                name: args.account_name.clone(),
                scopes,
                redirect,
                client,
                authorization_server: args.client.authorization_server.clone(),
                account: None,
                probe: None,
            };
            if args.separate_sign_in {
                interactive_sign_in(&vault, request, args.no_browser).await?
            } else {
                shared_or_browser(&vault, request, args.through.as_deref(), args.no_browser).await?
            }
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&account).unwrap_or_default()
        );
    }
    eprintln!("Signed in: {}", describe(&account));
    Ok(())
}

pub async fn scopes(action: ScopesAction) -> Result<(), Failure> {
    let ScopesAction::Add {
        account,
        scopes,
        no_browser,
    } = action;
    let vault = open_vault()?;
    let added =
        scopes_of(&scopes).ok_or_else(|| Failure::new(exit::FAILURE, "name at least one scope"))?;
    let account = vault.account(&account)?;
    match vault.upgrade_by_refresh(&account.id, &added).await? {
        UpgradeOutcome::Granted(updated) => {
            eprintln!("Upgraded by refresh: {}", describe(&updated));
        }
        UpgradeOutcome::NeedsReauthorization { scopes, reason } => {
            eprintln!(
                "Refresh could not widen the grant ({reason}); signing in again for: {scopes}"
            );
            let request = SignInRequest {
                mcp_url: account.server_url.clone(),
                scopes: Some(scopes),
                account: Some(account.id.clone()),
                ..Default::default()
            };
            let updated = interactive_sign_in(&vault, request, no_browser).await?;
            eprintln!("Upgraded: {}", describe(&updated));
            let missing = added.missing_from(&Scopes::parse(&updated.granted_scopes));
            if !missing.is_empty() {
                return Err(Failure::new(
                    exit::FAILURE,
                    format!("the authorization server did not grant: {missing}"),
                ));
            }
        }
    }
    Ok(())
}
