//! 10,000 annotated functions linked.

mod annotated {
    pub mod m0 {
        include!(concat!(env!("OUT_DIR"), "/m0.rs"));
    }
    pub mod m1 {
        include!(concat!(env!("OUT_DIR"), "/m1.rs"));
    }
    pub mod m2 {
        include!(concat!(env!("OUT_DIR"), "/m2.rs"));
    }
    pub mod m3 {
        include!(concat!(env!("OUT_DIR"), "/m3.rs"));
    }
    pub mod m4 {
        include!(concat!(env!("OUT_DIR"), "/m4.rs"));
    }
    pub mod m5 {
        include!(concat!(env!("OUT_DIR"), "/m5.rs"));
    }
    pub mod m6 {
        include!(concat!(env!("OUT_DIR"), "/m6.rs"));
    }
    pub mod m7 {
        include!(concat!(env!("OUT_DIR"), "/m7.rs"));
    }
    pub mod m8 {
        include!(concat!(env!("OUT_DIR"), "/m8.rs"));
    }
    pub mod m9 {
        include!(concat!(env!("OUT_DIR"), "/m9.rs"));
    }
}

fn main() {
    lifespan_bench_annotated::main(concat!(module_path!(), "::annotated"), 10_000);
}
