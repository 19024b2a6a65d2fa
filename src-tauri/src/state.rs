//! The app's state: the vault, the settings, and the sign-ins waiting for a browser.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mcpauth_vault::Vault;

use crate::dto::Settings;

pub struct AppState {
    pub vault: Arc<Vault>,
    pub settings: Mutex<Settings>,
    pub settings_path: PathBuf,
    /// Background tasks waiting on loopback listeners, by sign-in id.
    pub waiting: Mutex<HashMap<String, tauri::async_runtime::JoinHandle<()>>>,
}

impl AppState {
    pub fn open() -> Result<Self, String> {
        let mut options = mcpauth_vault::VaultOptions::from_env().map_err(|e| e.to_string())?;
        let settings_path = options.home.join("settings.json");
        let settings: Settings = std::fs::read(&settings_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        options.min_skew = std::time::Duration::from_secs(settings.refresh_skew_secs.max(1));
        let vault = Vault::open(options).map_err(|e| e.to_string())?;
        Ok(Self {
            vault: Arc::new(vault),
            settings: Mutex::new(settings),
            settings_path,
            waiting: Mutex::new(HashMap::new()),
        })
    }

    /// Changes the settings and writes them to the file, under the settings
    /// lock (so two changes at once cannot undo one another); unchanged if
    /// the file cannot be written.
    pub fn update_settings(
        &self,
        change: impl FnOnce(&mut Settings),
    ) -> Result<Settings, crate::dto::AppError> {
        let mut current = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = current.clone();
        change(&mut next);
        let json = serde_json::to_vec_pretty(&next)
            .map_err(|e| crate::dto::AppError::new("failure", e.to_string()))?;
        std::fs::write(&self.settings_path, json).map_err(|e| {
            crate::dto::AppError::new(
                "failure",
                format!(
                    "cannot save settings to {}: {e}",
                    self.settings_path.display()
                ),
            )
        })?;
        *current = next.clone();
        Ok(next)
    }

    pub fn settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
