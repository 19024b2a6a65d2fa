//! An account's DPoP key (RFC 9449): made when the account signs in at an
//! authorization server that offers DPoP, kept in the keyring beside its
//! tokens (the record holds only the thumbprint), and read once per process.

use std::sync::Arc;

use mcpauth_core::discovery::Discovery;
use mcpauth_core::dpop::{offered, DpopKey, DpopUse};

use crate::error::{Error, Result};
use crate::model::Account;
use crate::Vault;

impl Vault {
    pub(crate) fn dpop_key_name(id: &str) -> String {
        format!("{id}/dpop")
    }

    fn dpop_keys(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Arc<DpopKey>>> {
        self.dpop_keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account's DPoP key; `None` for an account without one. A key the
    /// keyring lost, or one that is not the key the record names, is an
    /// error that asks for a new sign-in: the tokens are useless without it.
    pub fn dpop_key(&self, account: &Account) -> Result<Option<Arc<DpopKey>>> {
        let Some(jkt) = &account.dpop_jkt else {
            return Ok(None);
        };
        if let Some(key) = self
            .dpop_keys()
            .get(&account.id)
            .filter(|k| k.thumbprint() == jkt)
        {
            return Ok(Some(key.clone()));
        }
        let name = Self::dpop_key_name(&account.id);
        let secret = self.secrets.get(&name)?.ok_or(Error::SecretMissing {
            account: account.id.clone(),
            what: "DPoP key",
        })?;
        let key = DpopKey::from_secret(&secret)?;
        if key.thumbprint() != jkt {
            return Err(Error::Keyring {
                backend: self.secrets.backend(),
                message: format!(
                    "the DPoP key in the keyring ({name}) is not the one account {} is bound to; sign in again (mcpauth login)",
                    account.id
                ),
            });
        }
        let key = Arc::new(key);
        self.dpop_keys().insert(account.id.clone(), key.clone());
        Ok(Some(key))
    }

    /// The key the account's current token must be sent with: `None` for a
    /// Bearer token, the key for a DPoP-bound one. A bound token without a
    /// key is useless, and asks for a new sign-in.
    pub fn bound_key(&self, account: &Account) -> Result<Option<Arc<DpopKey>>> {
        if !account.is_dpop_bound() {
            return Ok(None);
        }
        match self.dpop_key(account)? {
            Some(key) => Ok(Some(key)),
            None => Err(Error::SecretMissing {
                account: account.id.clone(),
                what: "DPoP key",
            }),
        }
    }

    /// The key a sign-in binds its tokens to, when both sides take DPoP: the
    /// authorization server offers it with ES256, and the MCP server says it
    /// takes bound tokens ([`Discovery::resource_accepts_dpop`]) or the
    /// account is bound already. The account's own key when it has one (a
    /// re-authorization keeps it), else a new one; none otherwise.
    pub(crate) fn dpop_for_sign_in(
        &self,
        discovery: &Discovery,
        existing: Option<&Account>,
    ) -> Result<Option<Arc<DpopKey>>> {
        let metadata = &discovery.metadata;
        let bound_before = existing.is_some_and(|a| a.dpop_jkt.is_some());
        if !bound_before && !discovery.resource_accepts_dpop() {
            return Ok(None);
        }
        match offered(metadata) {
            DpopUse::NotOffered => Ok(None),
            DpopUse::UnsupportedAlgorithms => {
                tracing::warn!(
                    issuer = %metadata.issuer,
                    offered = ?metadata.dpop_signing_alg_values_supported,
                    "the authorization server offers DPoP without ES256; its tokens will be Bearer tokens"
                );
                Ok(None)
            }
            DpopUse::Offered => {
                // A key the keyring lost is replaced: signing in again is
                // how the user recovers from that.
                match existing.map(|a| self.dpop_key(a)) {
                    Some(Ok(Some(key))) => return Ok(Some(key)),
                    Some(Err(e)) => tracing::warn!(
                        "the account's DPoP key cannot be used ({e}); this sign-in makes a new one"
                    ),
                    _ => {}
                }
                Ok(Some(Arc::new(DpopKey::generate())))
            }
        }
    }

    /// After a re-authorization: the account keeps the key its new tokens
    /// are bound to (or loses its key when the server no longer offers DPoP).
    pub(crate) fn rebind_dpop(
        &self,
        account: &Account,
        key: Option<&Arc<DpopKey>>,
    ) -> Result<Account> {
        let mut updated = account.clone();
        self.keep_dpop_key(&mut updated, key)?;
        if updated.dpop_jkt != account.dpop_jkt {
            self.db()
                .set_dpop_jkt(&account.id, updated.dpop_jkt.as_deref())?;
        }
        Ok(updated)
    }

    /// Keeps `key` as the account's DPoP key (or removes the account's key
    /// when `None`): the keyring first, then the thumbprint on `account`,
    /// which the caller writes to the record.
    pub(crate) fn keep_dpop_key(
        &self,
        account: &mut Account,
        key: Option<&Arc<DpopKey>>,
    ) -> Result<()> {
        let name = Self::dpop_key_name(&account.id);
        match key {
            Some(key) if account.dpop_jkt.as_deref() == Some(key.thumbprint()) => {}
            None if account.dpop_jkt.is_none() => {}
            Some(key) => {
                self.secrets.set(&name, &key.to_secret())?;
                self.dpop_keys().insert(account.id.clone(), key.clone());
                account.dpop_jkt = Some(key.thumbprint().to_string());
            }
            None => {
                self.secrets.delete(&name)?;
                self.dpop_keys().remove(&account.id);
                account.dpop_jkt = None;
            }
        }
        Ok(())
    }
}
