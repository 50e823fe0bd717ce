//! Chatstudy's desktop shell. Everything that talks to the network or the disk lives in
//! `chatstudy-client`; this crate maps windows to profiles, exposes commands, forwards events and
//! owns the menu ("Nueva ventana", Ctrl+Shift+N) that opens a window on a new profile.

pub mod commands;
pub mod profiles;

use tauri::menu::{MenuBuilder, MenuItemBuilder, SubmenuBuilder};
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use crate::profiles::Profiles;

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:3001";

/// `--profile NAME` (or `--profile=NAME`): the first window's profile; `principal` by default.
pub fn profile_from_args(args: impl IntoIterator<Item = String>) -> String {
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--profile" {
            if let Some(name) = args.next() {
                return name;
            }
        } else if let Some(name) = arg.strip_prefix("--profile=") {
            return name.to_owned();
        }
    }
    "principal".into()
}

/// Open a window on `profile`, or on a new profile when `None`. Returns its label.
pub fn open_profile_window<R: Runtime>(app: &AppHandle<R>, profile: Option<(&str, &str)>) -> tauri::Result<String> {
    let profiles = app.state::<Profiles>();
    let (label, profile) = match profile {
        Some((label, profile)) => (label.to_owned(), profile.to_owned()),
        None => profiles.next_profile(),
    };
    profiles.assign(&label, &profile);
    let window = WebviewWindowBuilder::new(app, &label, WebviewUrl::App("index.html".into()))
        .title(format!("Chatstudy — {profile}"))
        .inner_size(980.0, 680.0)
        .min_inner_size(640.0, 480.0)
        .build()?;
    let app = app.clone();
    let closing = label.clone();
    window.on_window_event(move |event| {
        if let tauri::WindowEvent::Destroyed = event {
            app.state::<Profiles>().forget_window(&closing);
        }
    });
    Ok(label)
}

/// Everything but the context and the base builder: the real app (`tauri::Builder::default()`) and
/// the tests (`tauri::test::mock_builder()`) are configured by this.
pub fn configure<R: Runtime>(builder: tauri::Builder<R>, profiles: Profiles) -> tauri::Builder<R> {
    builder.plugin(tauri_plugin_notification::init()).manage(profiles).invoke_handler(tauri::generate_handler![
        commands::profile_name,
        commands::get_server_url,
        commands::set_server_url,
        commands::login,
        commands::logout,
        commands::current_user,
        commands::connection_status,
        commands::list_conversations,
        commands::open_conversation,
        commands::load_older,
        commands::send_message,
        commands::retry_message,
        commands::discard_message,
        commands::mark_read,
        commands::list_contacts,
        commands::start_conversation,
        commands::new_window,
    ])
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,chatstudy=debug".into()),
        )
        .init();
    let first_profile = profile_from_args(std::env::args());
    let default_server = std::env::var("CHATSTUDY_SERVER").unwrap_or_else(|_| DEFAULT_SERVER.to_owned());
    let context = tauri::generate_context!();
    let data_dir = std::env::var_os("CHATSTUDY_DATA_DIR").map(std::path::PathBuf::from);
    let app = configure(
        tauri::Builder::default(),
        Profiles::new(data_dir.clone().unwrap_or_default(), default_server.clone()),
    )
    .setup(move |app| {
        // Profiles live in the app's data folder unless CHATSTUDY_DATA_DIR says otherwise.
        let root = match &data_dir {
            Some(dir) => dir.clone(),
            None => app.path().app_data_dir()?.join("profiles"),
        };
        app.state::<Profiles>().set_root(root);
        let new_window =
            MenuItemBuilder::with_id("nueva-ventana", "Nueva ventana").accelerator("CmdOrCtrl+Shift+N").build(app)?;
        let quit = MenuItemBuilder::with_id("salir", "Salir").accelerator("CmdOrCtrl+Q").build(app)?;
        let file = SubmenuBuilder::new(app, "Archivo").item(&new_window).separator().item(&quit).build()?;
        app.set_menu(MenuBuilder::new(app).item(&file).build()?)?;
        app.on_menu_event(|app, event| match event.id().as_ref() {
            "nueva-ventana" => {
                if let Err(e) = open_profile_window(app, None) {
                    tracing::error!(error = %e, "opening a window");
                }
            }
            "salir" => app.exit(0),
            _ => {}
        });
        open_profile_window(app.handle(), Some(("main", &first_profile)))?;
        Ok(())
    })
    .build(context)
    .expect("the Tauri app builds");
    app.run(|app, event| {
        if let tauri::RunEvent::Exit = event {
            tauri::async_runtime::block_on(app.state::<Profiles>().shutdown());
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn profile_comes_from_the_command_line() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(super::profile_from_args(args(&["chatstudy"])), "principal");
        assert_eq!(super::profile_from_args(args(&["chatstudy", "--profile", "asesora"])), "asesora");
        assert_eq!(super::profile_from_args(args(&["chatstudy", "--profile=alumno"])), "alumno");
    }
}
