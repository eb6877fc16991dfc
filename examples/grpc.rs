//! A tonic gRPC service run under the app: the server starts once every context is set up; at
//! shutdown it stops accepting and finishes the calls in flight, then the tasks stop, then the
//! contexts are cleaned up. Any server that takes a shutdown future fits the same way.
//!
//! ```text
//! cargo run --example grpc
//! ```
//!
//! `LISTEN=127.0.0.1:0` picks a free port (the log says which). The service is
//! `proto/greeter.proto`; `tests/suite/signals.rs` calls it with the generated client.

use std::time::Duration;

use lifespan_core::{lifespan_context, lifespan_task, App, Shutdown, State, Yield};
use tonic::{Request, Response, Status};

mod greeter {
    tonic::include_proto!("greeter");
}

use greeter::greeter_server::{Greeter, GreeterServer};
use greeter::{HelloReply, HelloRequest};

/// How the service greets: set up before the server accepts any call.
struct Salutation(String);

#[lifespan_context]
async fn salutation(lifespan: Yield<Salutation>) {
    lifespan.ready_with(Salutation("hello".into())).await;
    tracing::info!("salutation released");
}

#[lifespan_task]
async fn heartbeat(shutdown: Shutdown) {
    let mut ticks = tokio::time::interval(Duration::from_secs(10));
    while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
        tracing::info!("alive");
    }
    tracing::info!("heartbeat stopped");
}

struct Service {
    app: App,
}

#[tonic::async_trait]
impl Greeter for Service {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        let request = request.into_inner();
        tracing::info!(name = %request.name, "call received");
        tokio::time::sleep(Duration::from_millis(request.delay_ms)).await;
        let salutation: State<Salutation> = self
            .app
            .state()
            .ok_or_else(|| Status::unavailable("the app is not running"))?;
        Ok(Response::new(HelloReply {
            message: format!("{}, {}", salutation.0, request.name),
        }))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let addr = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:50051".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("listening on {}", listener.local_addr()?);

    let app = App::new();
    let service = GreeterServer::new(Service { app: app.clone() });
    let report = app
        .run_server_until_signal(move |stop_accepting| async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, stop_accepting)
                .await
        })
        .await?;
    for line in report.to_string().lines() {
        tracing::info!("{line}");
    }
    Ok(())
}
