//! `mcpauth`: sign in to MCP servers, and hand their tokens to other tools.
//!
//! Tokens go to stdout only from `token` (and the explicit env/curl exports);
//! everything else a person reads goes to stderr, and `--json` makes read
//! commands print one JSON document on stdout.

mod cli;
mod device;
mod idp;
mod login;
mod output;
mod proxy;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

/// Exit codes, documented in `mcpauth --help`.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const NEEDS_SIGN_IN: u8 = 3;
    pub const NO_SUCH_ACCOUNT: u8 = 4;
    pub const SERVER: u8 = 5;
    pub const KEYRING: u8 = 6;
}

/// An error with its exit code; its message is one line for stderr.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<mcpauth_vault::Error> for Failure {
    fn from(e: mcpauth_vault::Error) -> Self {
        use mcpauth_vault::Error as E;
        let code = match &e {
            E::NeedsSignIn { .. } | E::SecretMissing { .. } => exit::NEEDS_SIGN_IN,
            E::UnknownAccount { .. } | E::AmbiguousAccount { .. } => exit::NO_SUCH_ACCOUNT,
            E::Keyring { .. } | E::KeyringTimeout { .. } => exit::KEYRING,
            E::Protocol(p) if p.is_transient() => exit::SERVER,
            E::Protocol(
                mcpauth_core::Error::HttpStatus { .. }
                | mcpauth_core::Error::NotAnOAuthMcpServer { .. }
                | mcpauth_core::Error::InvalidJson { .. },
            ) => exit::SERVER,
            _ => exit::FAILURE,
        };
        Self::new(code, e.to_string())
    }
}

impl From<mcpauth_core::Error> for Failure {
    fn from(e: mcpauth_core::Error) -> Self {
        mcpauth_vault::Error::from(e).into()
    }
}

/// Diagnostic logging to stderr, off unless `MCPAUTH_LOG` names a level or
/// filter (`debug`, `trace`, `mcpauth_vault=debug,reqwest=info`). Secrets never
/// reach it: every secret type redacts itself (SPEC §5.4), which the canary test
/// checks at `trace`.
fn init_logging() {
    let Ok(filter) = std::env::var("MCPAUTH_LOG") else {
        return;
    };
    match tracing_subscriber::EnvFilter::try_new(&filter) {
        Ok(filter) => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .try_init();
        }
        Err(e) => eprintln!(
            "mcpauth: MCPAUTH_LOG=`{filter}` is not a log filter ({e}); \
             use a level such as `debug` or `trace`; logging stays off"
        ),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mcpauth: cannot start: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => {
            eprintln!("mcpauth: {}", failure.message.replace('\n', " "));
            ExitCode::from(failure.code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Some(path) = &cli.ca_file {
        mcpauth_core::network::use_ca_file(path)?;
    }
    match cli.command {
        Command::Token {
            account,
            format,
            dpop_proof,
        } => output::token(account.as_deref(), format, dpop_proof.as_deref()).await,
        Command::List { json } => output::list(json),
        Command::Status { account, json } => output::status(account.as_deref(), json),
        Command::Login(args) => login::login(args).await,
        Command::Refresh { account, json } => output::refresh(&account, json).await,
        Command::Scopes { action } => login::scopes(action).await,
        Command::Logout { account, json } => output::logout(&account, json).await,
        Command::Proxy(args) => proxy::run(args).await,
        Command::Export(args) => output::export(args).await,
        Command::Discover {
            url,
            authorization_server,
            json,
        } => output::discover(&url, authorization_server, json).await,
        Command::Completions { shell } => {
            cli::completions(shell);
            Ok(())
        }
    }
}
