//! The command line: every command and flag, parsed by clap.

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  failure (bad input, refused by the server, …)
  2  usage error
  3  the account needs a new sign-in (`mcpauth login`)
  4  no such account, or several match (`mcpauth list`)
  5  the server could not be reached or answered badly
  6  the system keyring failed or did not answer

Environment:
  MCPAUTH_HOME             where account records live (default: the platform data directory)
  MCPAUTH_KEYRING_SERVICE  keyring service name (default: mcpauth)
  MCPAUTH_KEYRING_TIMEOUT  seconds to wait for the keyring (default: 4)
  MCPAUTH_SECRET_STORE     `plaintext` keeps secrets in a 0600 file instead of the keyring (insecure)
  MCPAUTH_CA_FILE          a PEM file of extra root certificates to trust (as --ca-file)
  SSL_CERT_FILE, SSL_CERT_DIR  certificates to trust instead of the system store
  HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY  the proxy every request goes through (`mcpauth status` shows it)
  BROWSER                  the browser command(s) to open sign-in pages with";

#[derive(Parser, Debug)]
#[command(name = "mcpauth", version, about = "Sign in to MCP servers with OAuth and hand their tokens to other tools", after_help = AFTER_HELP)]
pub struct Cli {
    /// Also trust the root certificates in this PEM file (a private CA, or a
    /// network that inspects TLS), besides the system's and the compiled-in ones.
    #[arg(long, global = true, value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Sign in to an MCP server (browser), or add a machine account.
    Login(LoginArgs),
    /// Print a fresh access token (refreshing it when needed) on stdout.
    Token {
        /// Account id, name or MCP server URL (optional when there is one account).
        account: Option<String>,
        #[arg(long, value_enum, default_value_t = TokenFormat::Raw)]
        format: TokenFormat,
        /// For a DPoP-bound account (RFC 9449): also print a one-time proof
        /// for this request, e.g. `--dpop-proof POST https://host/mcp`. It
        /// is good for one request, within a few minutes.
        #[arg(long, num_args = 2, value_names = ["METHOD", "URL"])]
        dpop_proof: Option<Vec<String>>,
    },
    /// List accounts.
    List {
        /// Print the result as JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show an account (or all): scopes, expiry, refresh, storage.
    Status {
        account: Option<String>,
        /// Print the result as JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Refresh an account's token now.
    Refresh {
        account: String,
        /// Print the result as JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Widen an account's scopes.
    Scopes {
        #[command(subcommand)]
        action: ScopesAction,
    },
    /// Sign out: revoke the tokens, then delete the account.
    Logout {
        account: String,
        /// Print the result as JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run a stdio MCP server that forwards to a remote MCP server with the account's token.
    Proxy(ProxyArgs),
    /// Write the entry another MCP client needs to use an account.
    Export(ExportArgs),
    /// Show how an MCP server's sign-in would work, without signing in.
    Discover {
        url: String,
        #[arg(long)]
        authorization_server: Option<String>,
        /// Print the result as JSON on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
}

#[derive(Subcommand, Debug)]
pub enum ScopesAction {
    /// Ask for more scopes: refresh with the wider set, else sign in again for the union.
    Add {
        account: String,
        #[arg(required = true)]
        scopes: Vec<String>,
        #[arg(long)]
        no_browser: bool,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFormat {
    /// The token alone.
    Raw,
    /// `Authorization: Bearer <token>`.
    Header,
    /// `{"access_token": …, "token_type": …, "expires_at": …}`.
    Json,
    /// `{"Authorization": "Bearer <token>"}`, for Claude Code's headersHelper.
    HeadersJson,
    /// `MCP_AUTH_TOKEN=<token>`.
    Env,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectKind {
    /// A one-shot listener on 127.0.0.1 (works with every MCP authorization server).
    Loopback,
    /// The mcpauth://oauth/callback deep link (pre-registered native clients); paste the URL back.
    DeepLink,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// A person signs in in the browser (PKCE).
    AuthorizationCode,
    /// A machine account: the client's own secret or private key.
    ClientCredentials,
    /// A workload's JWT from its platform (RFC 7523, MCP SEP-1933), read from
    /// --assertion-file or --assertion-env at every token request.
    JwtBearer,
}

/// Flags naming the client to use, shared by `login` and `proxy`.
#[derive(Args, Debug, Clone, Default)]
pub struct ClientArgs {
    /// A client id registered with the authorization server by hand.
    #[arg(long)]
    pub client_id: Option<String>,
    /// Its secret (visible to other local users in the process list: prefer --client-secret-file).
    #[arg(long, conflicts_with = "client_secret_file")]
    pub client_secret: Option<mcpauth_core::secret::ClientSecret>,
    /// A file holding the client secret.
    #[arg(long)]
    pub client_secret_file: Option<std::path::PathBuf>,
    /// A private key (PEM or JWK file) for private_key_jwt.
    #[arg(long, conflicts_with_all = ["client_secret", "client_secret_file"])]
    pub private_key: Option<std::path::PathBuf>,
    /// The key's algorithm: ES256, RS256, PS256 or EdDSA (default: from the key).
    #[arg(long, requires = "private_key")]
    pub signing_alg: Option<String>,
    /// For --grant jwt-bearer: a file holding the workload's JWT (a Kubernetes
    /// projected service-account token, say), read afresh at every token request.
    #[arg(long, conflicts_with = "assertion_env")]
    pub assertion_file: Option<std::path::PathBuf>,
    /// For --grant jwt-bearer: an environment variable holding the workload's
    /// JWT (a CI system's OIDC token), read by the process that needs a token.
    #[arg(long)]
    pub assertion_env: Option<String>,
    /// Enterprise-managed sign-in (MCP SEP-990): sign in once at your
    /// organisation's identity provider (this issuer); each server is then
    /// reached with an ID-JAG from it, no browser. Needs --idp-client-id, and
    /// --client-id (with its secret) at the server's authorization server.
    #[arg(long, conflicts_with_all = ["assertion_file", "assertion_env"])]
    pub idp: Option<String>,
    /// MCP Auth's client id at the identity provider (--idp).
    #[arg(long, requires = "idp")]
    pub idp_client_id: Option<String>,
    /// A file holding that client's secret, if the identity provider gave it one.
    #[arg(long, requires = "idp")]
    pub idp_client_secret_file: Option<std::path::PathBuf>,
    /// For --idp: read the ID token from this file (kept current by your
    /// organisation's sign-in tool) instead of signing in at the identity provider.
    #[arg(long, requires = "idp", conflicts_with = "id_token_env")]
    pub id_token_file: Option<std::path::PathBuf>,
    /// For --idp: read the ID token from this environment variable.
    #[arg(long, requires = "idp")]
    pub id_token_env: Option<String>,
    /// Use this Client ID Metadata Document URL as the client id where supported.
    #[arg(long, env = "MCPAUTH_CLIENT_METADATA_URL")]
    pub client_metadata_url: Option<String>,
    /// Pick this authorization server when the MCP server lists several.
    #[arg(long)]
    pub authorization_server: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct LoginArgs {
    /// The MCP server URL.
    pub url: String,
    /// Scopes to ask for (repeatable; default: what the server asks for).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// A name for the account.
    #[arg(long)]
    pub account_name: Option<String>,
    #[arg(long, value_enum, default_value_t = RedirectKind::Loopback)]
    pub redirect: RedirectKind,
    /// The loopback port (default: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Print the URL instead of opening a browser, and read the redirect URL from stdin.
    #[arg(long)]
    pub no_browser: bool,
    /// Sign in from a terminal with no browser (RFC 8628): print a code to
    /// approve on any device's browser, then wait. For servers that offer it.
    #[arg(long, conflicts_with_all = ["no_browser", "redirect", "port"])]
    pub device: bool,
    /// Add the server with the sign-in of this account (id or name) at the
    /// same authorization server, without a browser: its refresh token is
    /// asked for the new server (RFC 8707 §2.2). Once the authorization server
    /// accepted that, later servers there are added so without this flag.
    #[arg(long, conflicts_with_all = ["device", "separate_sign_in"])]
    pub through: Option<String>,
    /// Sign in through the browser even where a sign-in at the same
    /// authorization server could be shared (to sign in as someone else).
    #[arg(long)]
    pub separate_sign_in: bool,
    #[arg(long, value_enum, default_value_t = Grant::AuthorizationCode)]
    pub grant: Grant,
    #[command(flatten)]
    pub client: ClientArgs,
    /// Print the result as JSON on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ProxyArgs {
    /// An account (id, name) or an MCP server URL (signed in to when the server first asks).
    pub target: String,
    /// Scopes for a first sign-in.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// How to sign in when the server first asks: the browser, or a machine
    /// account with the client flags (made once, then reused).
    #[arg(long, value_enum, default_value_t = Grant::AuthorizationCode)]
    pub grant: Grant,
    /// Seconds the server may stay silent (no answer, no byte of a stream) before a call fails.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// claude-code, claude-desktop, vscode, cursor, env or curl.
    pub target: String,
    pub account: String,
    /// The config file to edit (default: where the client keeps it).
    #[arg(long)]
    pub file: Option<std::path::PathBuf>,
    /// The server entry's name (default: the account's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Write without asking (the diff is still shown).
    #[arg(long)]
    pub yes: bool,
    /// Print the new file instead of writing it.
    #[arg(long)]
    pub print: bool,
}

/// Writes completions for `shell` to stdout.
pub fn completions(shell: clap_complete::Shell) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "mcpauth", &mut std::io::stdout());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_json_flag_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "mcpauth", &mut missing);
        let json: Vec<_> = missing.iter().filter(|m| m.ends_with(" json")).collect();
        assert!(json.is_empty(), "--json without help: {json:?}");
    }

    #[test]
    fn parses_the_documented_forms() {
        let cli = Cli::try_parse_from(["mcpauth", "token", "abc", "--format", "headers-json"])
            .expect("parse");
        assert!(
            matches!(cli.command, Command::Token { account: Some(ref a), format: TokenFormat::HeadersJson, dpop_proof: None } if a == "abc")
        );
        let cli = Cli::try_parse_from([
            "mcpauth",
            "login",
            "https://mcp.example/mcp",
            "--scope",
            "a",
            "--scope",
            "b",
            "--no-browser",
            "--client-id",
            "c",
            "--private-key",
            "k.pem",
            "--signing-alg",
            "ES256",
        ])
        .expect("parse");
        match cli.command {
            Command::Login(args) => {
                assert_eq!(args.scopes, ["a", "b"]);
                assert!(args.no_browser);
                assert_eq!(args.client.client_id.as_deref(), Some("c"));
                assert_eq!(args.client.signing_alg.as_deref(), Some("ES256"));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from([
            "mcpauth",
            "login",
            "u",
            "--client-secret",
            "s",
            "--private-key",
            "k"
        ])
        .is_err());
        assert!(
            Cli::try_parse_from(["mcpauth", "scopes", "add", "acct"]).is_err(),
            "at least one scope"
        );
        Cli::command().debug_assert();
    }
}
