//! Registration and plan costs with a thousand link-time tasks (ten modules of ten modules of
//! ten tasks): `cargo bench -p lifespan-core --bench registration_linked`.

#[path = "registration/measure.rs"]
mod measure;

/// Tasks `$task` in the current module.
macro_rules! tasks {
    ($($task:ident)*) => {$(
        #[lifespan_core::lifespan_task]
        async fn $task() {}
    )*};
}

/// Modules `$module`, each with ten tasks.
macro_rules! inner {
    ($($module:ident)*) => {$(
        mod $module {
            tasks!(t0 t1 t2 t3 t4 t5 t6 t7 t8 t9);
        }
    )*};
}

/// Modules `$module`, each with ten modules of ten tasks.
macro_rules! outer {
    ($($module:ident)*) => {$(
        mod $module {
            inner!(s0 s1 s2 s3 s4 s5 s6 s7 s8 s9);
        }
    )*};
}

outer!(m0 m1 m2 m3 m4 m5 m6 m7 m8 m9);

fn main() {
    measure::run(1_000, Some(concat!(module_path!(), "::m3::s4")));
}
