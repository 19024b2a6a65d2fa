//! Scope sets, the scope selection order (SPEC §3.4) and step-up bookkeeping (SPEC §4.5).

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::challenge::BearerChallenge;
use crate::error::{Error, Result};
use crate::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};

/// A set of OAuth scopes (RFC 6749 §3.3), written space-delimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub struct Scopes(BTreeSet<String>);

impl Scopes {
    /// Parses a space-delimited scope string; extra whitespace is ignored.
    pub fn parse(s: &str) -> Self {
        Self(s.split_ascii_whitespace().map(str::to_string).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn insert(&mut self, scope: impl Into<String>) {
        self.0.insert(scope.into());
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Every scope of either set.
    pub fn union(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.union(&other.0).cloned().collect())
    }

    /// True when every scope of `other` is in `self`.
    pub fn is_superset(&self, other: &Scopes) -> bool {
        self.0.is_superset(&other.0)
    }

    /// The scopes of both sets.
    pub fn intersection(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.intersection(&other.0).cloned().collect())
    }

    /// The scopes of `self` missing from `other`.
    pub fn missing_from(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.difference(&other.0).cloned().collect())
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined: Vec<&str> = self.iter().collect();
        f.write_str(&joined.join(" "))
    }
}

impl<S: Into<String>> FromIterator<S> for Scopes {
    fn from_iter<I: IntoIterator<Item = S>>(items: I) -> Self {
        Self(items.into_iter().map(Into::into).collect())
    }
}

impl From<Scopes> for String {
    fn from(s: Scopes) -> String {
        s.to_string()
    }
}

impl From<String> for Scopes {
    fn from(s: String) -> Scopes {
        Scopes::parse(&s)
    }
}

/// SPEC §3.4: the challenge's `scope`, else the PRM `scopes_supported`, else none;
/// plus `offline_access` when the authorization server lists it.
pub fn select_scopes(
    challenge: Option<&BearerChallenge>,
    resource_metadata: Option<&ProtectedResourceMetadata>,
    metadata: &AuthorizationServerMetadata,
) -> Option<Scopes> {
    let mut selected = challenge
        .and_then(|c| c.scope.as_deref())
        .map(Scopes::parse)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            resource_metadata
                .and_then(|p| p.scopes_supported.as_ref())
                .map(|s| s.iter().cloned().collect::<Scopes>())
                .filter(|s| !s.is_empty())
        });
    if metadata.supports_scope("offline_access") {
        selected
            .get_or_insert_with(Scopes::default)
            .insert("offline_access");
    }
    selected
}

/// How many authorizations step-up may try for one resource and operation (SPEC §4.5).
pub const STEP_UP_MAX_ATTEMPTS: u32 = 3;

/// Step-up bookkeeping: the scopes to ask for next, and when to give up.
#[derive(Debug, Default)]
pub struct StepUp {
    attempts: HashMap<(String, String), u32>,
}

impl StepUp {
    pub fn new() -> Self {
        Self::default()
    }

    /// After a 403 `insufficient_scope` for `operation` on `resource`: the union of the
    /// scopes requested so far and the challenged ones, or an error once
    /// [`STEP_UP_MAX_ATTEMPTS`] re-authorizations did not help.
    pub fn next_scopes(
        &mut self,
        resource: &str,
        operation: &str,
        requested: &Scopes,
        challenge: &BearerChallenge,
    ) -> Result<Scopes> {
        let wanted = requested.union(&Scopes::parse(challenge.scope.as_deref().unwrap_or("")));
        let count = self
            .attempts
            .entry((resource.to_string(), operation.to_string()))
            .or_insert(0);
        if *count >= STEP_UP_MAX_ATTEMPTS {
            return Err(Error::StepUpExhausted {
                operation: operation.to_string(),
                attempts: *count,
                scopes: wanted.to_string(),
            });
        }
        *count += 1;
        Ok(wanted)
    }

    /// Counts an authorization made for the operation by other means (the
    /// sign-in its first 401 caused), so that the budget covers every
    /// authorization the operation causes, as the MCP conformance suite counts.
    pub fn count(&mut self, resource: &str, operation: &str) {
        *self
            .attempts
            .entry((resource.to_string(), operation.to_string()))
            .or_insert(0) += 1;
    }

    /// Forgets the attempts for an operation that then succeeded.
    pub fn succeeded(&mut self, resource: &str, operation: &str) {
        self.attempts
            .remove(&(resource.to_string(), operation.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(scopes: Option<Vec<&str>>) -> AuthorizationServerMetadata {
        let mut m = AuthorizationServerMetadata::legacy_defaults("https://as.example");
        m.scopes_supported = scopes.map(|v| v.into_iter().map(String::from).collect());
        m
    }

    #[test]
    fn parse_union_and_display() {
        let a = Scopes::parse("  b a  a ");
        assert_eq!(a.to_string(), "a b");
        let u = a.union(&Scopes::parse("c a"));
        assert_eq!(u.to_string(), "a b c");
        assert!(u.is_superset(&a));
        assert_eq!(u.missing_from(&a).to_string(), "c");
    }

    #[test]
    fn selection_order() {
        let challenge = BearerChallenge {
            scope: Some("mcp:read".into()),
            ..Default::default()
        };
        let prm = ProtectedResourceMetadata {
            resource: "https://mcp.example/mcp".into(),
            authorization_servers: vec![],
            scopes_supported: Some(vec!["mcp:read".into(), "mcp:write".into()]),
            bearer_methods_supported: None,
            resource_name: None,
            dpop_signing_alg_values_supported: None,
            dpop_bound_access_tokens_required: false,
        };
        let plain = metadata(None);
        let offline = metadata(Some(vec!["openid", "offline_access"]));
        assert_eq!(
            select_scopes(Some(&challenge), Some(&prm), &plain).map(|s| s.to_string()),
            Some("mcp:read".into())
        );
        assert_eq!(
            select_scopes(None, Some(&prm), &plain).map(|s| s.to_string()),
            Some("mcp:read mcp:write".into())
        );
        assert_eq!(select_scopes(None, None, &plain), None);
        assert_eq!(
            select_scopes(Some(&challenge), None, &offline).map(|s| s.to_string()),
            Some("mcp:read offline_access".into())
        );
    }

    #[test]
    fn step_up_unions_and_stops_after_three() {
        let mut step_up = StepUp::new();
        let challenge = BearerChallenge {
            error: Some("insufficient_scope".into()),
            scope: Some("mcp:write".into()),
            ..Default::default()
        };
        let mut requested = Scopes::parse("mcp:read");
        for _ in 0..3 {
            requested = step_up
                .next_scopes("r", "tools/call write_note", &requested, &challenge)
                .expect("within the limit");
            assert_eq!(requested.to_string(), "mcp:read mcp:write");
        }
        let err = step_up
            .next_scopes("r", "tools/call write_note", &requested, &challenge)
            .expect_err("fourth attempt refused");
        assert!(matches!(err, Error::StepUpExhausted { attempts: 3, .. }));
        // Another operation has its own budget.
        assert!(step_up
            .next_scopes("r", "tools/call other", &requested, &challenge)
            .is_ok());
        step_up.succeeded("r", "tools/call write_note");
        assert!(step_up
            .next_scopes("r", "tools/call write_note", &requested, &challenge)
            .is_ok());
    }
}
