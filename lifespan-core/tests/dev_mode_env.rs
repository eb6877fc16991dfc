//! Dev mode from `LIFESPAN_DEV`, read at `build`. Alone in its test binary: the environment is
//! the process's, so no other test may read or change it meanwhile.

use lifespan_core::App;

const VAR: &str = "LIFESPAN_DEV";

fn dev_mode_of(app: &App) -> bool {
    let debug = format!("{app:?}");
    match (
        debug.contains("dev_mode: true"),
        debug.contains("dev_mode: false"),
    ) {
        (true, false) => true,
        (false, true) => false,
        _ => panic!("no dev mode in {debug}"),
    }
}

#[test]
fn dev_mode_is_read_from_the_environment_at_build_unless_set_on_the_builder() {
    std::env::remove_var(VAR);
    assert!(!dev_mode_of(&App::new()));

    // Read at `build`, not when the builder is made.
    let builder = App::builder().empty();
    std::env::set_var(VAR, "1");
    let built_while_set = builder.clone().build();
    assert!(dev_mode_of(&built_while_set));
    assert!(dev_mode_of(&App::new()));

    // Read once: unsetting it later changes no app already built.
    std::env::remove_var(VAR);
    assert!(dev_mode_of(&built_while_set));
    assert!(!dev_mode_of(&builder.clone().build()));

    std::env::set_var(VAR, "true");
    assert!(dev_mode_of(&builder.clone().build()));
    // `dev_mode(false)` overrides the environment.
    assert!(!dev_mode_of(&builder.clone().dev_mode(false).build()));

    std::env::set_var(VAR, "0");
    assert!(!dev_mode_of(&builder.clone().build()));
    assert!(dev_mode_of(&builder.dev_mode(true).build()));
    std::env::remove_var(VAR);
}
