//! A small separate process over the vault, for the multi-process and fault
//! tests (and for poking at a vault by hand). State comes from the usual
//! environment: MCPAUTH_HOME, MCPAUTH_KEYRING_SERVICE, MCPAUTH_KEYRING_TIMEOUT.
//!
//!   vault_probe token <account> <count>    print a fresh token <count> times
//!   vault_probe refresh-loop <account>     refresh over and over (until killed)
//!   vault_probe sign-in <mcp-url> <user>   sign in, playing the user in the AS pages
//!   vault_probe refresh <account>          refresh once
//!   vault_probe refresh-per-line <account> refresh once per line read on stdin
//!   vault_probe check <account>            integrity, then a refresh: `usable` (refreshed, record
//!                                          and keyring agree) or `needs-sign-in`; fails otherwise
//!   vault_probe list                       print the accounts as JSON

use std::process::ExitCode;

use mcpauth_vault::{ClientChoice, SignInRequest, Vault};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("vault_probe: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let vault = Vault::open_default().map_err(|e| e.to_string())?;
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["token", account, count] => {
            let count: usize = count.parse().map_err(|_| "count must be a number")?;
            for _ in 0..count {
                let token = vault.token(account).await.map_err(|e| e.to_string())?;
                println!("{}", token.secret());
            }
            Ok(())
        }
        ["refresh-loop", account] => loop {
            vault.refresh_now(account).await.map_err(|e| e.to_string())?;
            println!("refreshed");
        },
        ["sign-in", mcp_url, user] => {
            let sign_in = vault
                .begin_sign_in(SignInRequest {
                    mcp_url: mcp_url.to_string(),
                    client: ClientChoice {
                        client_id: Some("mcpauth-public".into()),
                        ..Default::default()
                    },
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?;
            let (url, redirect) = (sign_in.authorization_url.clone(), sign_in.redirect_uri.clone());
            let browser = async {
                let landing = mcpauth_testkit::drive_login(&url, &redirect, user).await;
                reqwest::get(landing).await.map(|_| ()).map_err(|e| e.to_string())
            };
            let (account, delivered) = tokio::join!(vault.finish_sign_in(sign_in), browser);
            delivered?;
            println!("{}", account.map_err(|e| e.to_string())?.id);
            Ok(())
        }
        ["refresh", account] => {
            vault.refresh_now(account).await.map_err(|e| e.to_string())?;
            println!("refreshed");
            Ok(())
        }
        ["refresh-per-line", account] => {
            // One process, several refreshes, paced by the caller.
            for line in std::io::stdin().lines() {
                if line.is_err() {
                    break;
                }
                match vault.refresh_now(account).await {
                    Ok(a) => println!("refreshed generation={}", a.generation),
                    Err(e) => println!("failed: {e}"),
                }
            }
            Ok(())
        }
        ["check", account] => {
            if !vault.integrity_ok().map_err(|e| e.to_string())? {
                return Err("the database fails its integrity check".into());
            }
            match vault.refresh_now(account).await {
                Ok(_) => {
                    let record = vault.account(account).map_err(|e| e.to_string())?;
                    let bundle = vault
                        .token_bundle(&record.id)
                        .map_err(|e| e.to_string())?
                        .ok_or("the keyring holds no tokens for a usable account")?;
                    if bundle.generation != record.generation {
                        return Err(format!(
                            "record generation {} but keyring generation {}",
                            record.generation, bundle.generation
                        ));
                    }
                    println!("usable");
                    Ok(())
                }
                Err(mcpauth_vault::Error::NeedsSignIn { .. }) => {
                    println!("needs-sign-in");
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
        ["list"] => {
            let accounts = vault.list().map_err(|e| e.to_string())?;
            println!("{}", serde_json::to_string(&accounts).map_err(|e| e.to_string())?);
            Ok(())
        }
        _ => Err("usage: vault_probe token <account> <count> | refresh-loop <account> | sign-in <mcp-url> <user> | refresh <account> | check <account> | list".into()),
    }
}
