fn main() {
    // Declaring the app's commands makes Tauri generate one permission per
    // command; capabilities/default.json then grants them to the main window
    // explicitly, so a command missing there cannot be called at all.
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "list_accounts",
            "account_detail",
            "discover",
            "begin_sign_in",
            "share_sign_in",
            "cancel_sign_in",
            "refresh_now",
            "upgrade_scopes",
            "sign_out",
            "add_machine_account",
            "identity_providers",
            "sign_in_to_identity_provider",
            "forget_identity_provider",
            "set_default",
            "export_preview",
            "export_write",
            "copy_token",
            "copy_header",
            "reveal_token",
            "import_candidates",
            "get_settings",
            "set_settings",
            "app_info",
            "pending_link",
            "pending_notices",
            "first_render",
            "window_state",
            "remember_route",
        ]),
    ))
    .expect("tauri build script");
}
