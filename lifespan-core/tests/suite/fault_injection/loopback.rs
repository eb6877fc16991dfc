//! The loopback side of the serving cases (feature `axum`): a listener, the clients that send
//! a case's requests to it, their answers, and the real-time runtime the cases run on.

use std::time::Duration;

use lifespan_test_support::http_get;
use tokio::net::TcpListener;
use tokio::time::{sleep, timeout, Instant};

use super::record::silence_injected_panics;
use super::serving::RequestCase;

/// The longest wait of a client for its answer.
const CLIENT_LIMIT: Duration = Duration::from_secs(3);

/// Runs `case` on a fresh current-thread runtime with real time, the injected panics silenced.
pub(crate) fn on_real_time<F, T>(case: impl FnOnce() -> F) -> Result<T, String>
where
    F: std::future::Future<Output = Result<T, String>>,
{
    silence_injected_panics();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(case())
}

/// A loopback listener, its address, the time the case began, and the clients sending
/// `requests` to it from then on.
pub(crate) async fn listen_and_send(
    requests: &[RequestCase],
) -> Result<(TcpListener, std::net::SocketAddr, Instant, Clients), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|error| format!("binding a loopback listener: {error}"))?;
    let addr = listener.local_addr().unwrap();
    let origin = Instant::now();
    let clients = send_requests(requests, addr);
    Ok((listener, addr, origin, clients))
}

/// A client's answer: `None` if it had none within its limit.
pub(crate) type Answer = Option<std::io::Result<(u16, String)>>;

/// The clients, each sending its request.
pub(crate) type Clients = Vec<tokio::task::JoinHandle<Answer>>;

/// Sends each request to `addr` at its time, each bounded by the client's limit.
fn send_requests(requests: &[RequestCase], addr: std::net::SocketAddr) -> Clients {
    requests
        .iter()
        .enumerate()
        .map(|(id, request)| {
            let path = format!("/{}/{id}", if request.slow { "slow" } else { "fast" });
            let sent_after = request.sent_after.get();
            tokio::spawn(async move {
                sleep(sent_after).await;
                timeout(CLIENT_LIMIT, http_get(addr, &path)).await.ok()
            })
        })
        .collect()
}

/// The clients' answers, in order; an error if one of them did not end.
pub(crate) async fn answers(clients: Clients) -> Result<Vec<Answer>, String> {
    let mut answers = Vec::new();
    for client in clients {
        let answer = timeout(CLIENT_LIMIT + Duration::from_secs(1), client)
            .await
            .map_err(|_| "a client did not end".to_owned())?
            .map_err(|error| format!("a client panicked: {error}"))?;
        answers.push(answer);
    }
    Ok(answers)
}
