//! Generates the gRPC server and client of `proto/greeter.proto` for the tonic example and its
//! test, with the `protoc` that `protoc-bin-vendored` ships (no system install needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/greeter.proto");
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // Read by the code generator below; this build script runs nothing else in parallel.
    std::env::set_var("PROTOC", protoc);
    tonic_prost_build::configure().compile_protos(&["proto/greeter.proto"], &["proto"])?;
    Ok(())
}
