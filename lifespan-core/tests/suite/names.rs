//! Names of tasks and contexts are written into logs: a name that is empty or holds a control
//! character (a newline forges a log line) is refused where it is registered.

use lifespan_core::{App, Kind, RegisterError, Shutdown, TaskOptions, Yield};

#[test]
fn a_task_name_with_a_newline_is_refused_with_the_name_escaped() {
    let app = App::empty();
    let error = app
        .register_task(
            "poller\nINFO lifespan startup complete",
            |shutdown: Shutdown| async move { shutdown.cancelled().await },
        )
        .unwrap_err();
    assert!(
        matches!(&error, RegisterError::InvalidName { kind: Kind::Task, name, .. } if name == "poller\nINFO lifespan startup complete"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "cannot register lifespan task \"poller\\nINFO lifespan startup complete\": the name \
         contains '\\n' (U+000A) at byte 6: a control character, line separator or bidirectional \
         control would forge or garble the log lines the name is written into"
    );
    assert!(!error.to_string().contains('\n'));
}

#[test]
fn an_empty_name_is_refused_for_tasks_and_contexts() {
    let app = App::empty();
    let error = app.register_task("", || async {}).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot register lifespan task \"\": the name is empty"
    );
    let error = app
        .register_context(String::new(), |lifespan: Yield| async move {
            lifespan.ready().await
        })
        .unwrap_err();
    assert!(
        matches!(
            error,
            RegisterError::InvalidName {
                kind: Kind::Context,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn control_characters_are_refused_in_every_registration_and_nothing_is_registered() {
    let app = App::empty();
    for name in [
        "a\rb",
        "\u{1b}[2Kcleared",
        "tab\tbed",
        "a\u{2028}b",
        "\u{202E}txt.exe",
    ] {
        let task = app.register_task(name, || async {});
        assert!(
            matches!(task, Err(RegisterError::InvalidName { .. })),
            "{name:?}"
        );
        let with = app.register_task_with(name, TaskOptions::new(), || async {});
        assert!(
            matches!(with, Err(RegisterError::InvalidName { .. })),
            "{name:?}"
        );
        let context =
            app.register_context(
                name,
                |lifespan: Yield| async move { lifespan.ready().await },
            );
        assert!(
            matches!(context, Err(RegisterError::InvalidName { .. })),
            "{name:?}"
        );
    }
    // Nothing was registered: the same names are refused again for the same reason, not as
    // duplicates, and ordinary names (spaces and any script included) are accepted.
    assert!(matches!(
        app.register_task("a\rb", || async {}),
        Err(RegisterError::InvalidName { .. })
    ));
    app.register_task("stats reporter", || async {}).unwrap();
    app.register_task("Bäckerei 🍞", || async {}).unwrap();
}

#[test]
fn a_bad_name_is_reported_before_bad_options_so_the_options_message_never_carries_it() {
    let app = App::empty();
    let error = app
        .register_task_with(
            "t\nforged",
            TaskOptions::new().every(std::time::Duration::ZERO),
            || async {},
        )
        .unwrap_err();
    assert!(
        matches!(error, RegisterError::InvalidName { .. }),
        "{error:?}"
    );
}

#[test]
fn a_display_name_that_is_empty_or_holds_a_control_character_is_refused() {
    assert_eq!(
        TaskOptions::new().display_name("").validate(),
        Err("the display name cannot be empty")
    );
    for name in ["poller\nINFO forged", "\u{7}bell", "\u{2066}isolated"] {
        let options = TaskOptions::new().display_name(name);
        assert_eq!(
            options.validate(),
            Err("the display name cannot contain a control character (such as a newline), a line separator or a bidirectional control: it is written into logs"),
            "{name:?}"
        );
        let app = App::empty();
        let error = app
            .register_task_with("poller", options, || async {})
            .unwrap_err();
        assert!(
            matches!(error, RegisterError::InvalidOptions { .. }),
            "{error:?}"
        );
    }
    assert_eq!(
        TaskOptions::new().display_name("the poller").validate(),
        Ok(())
    );
}
