//! A PostgreSQL database for the tests: the one named by `LIFESPAN_TEST_DATABASE_URL`, or a
//! throwaway cluster started from the server binaries of this machine, one per test binary.
//!
//! The tests of one binary run in parallel on the same database: each uses names of its own
//! ([`unique_name`]) rather than a database of its own, so that an external database needs no
//! right to create databases.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The line printed (or, on CI, the panic) when no database can be had.
pub const SKIP_MESSAGE: &str = "skipped: PostgreSQL tests need LIFESPAN_TEST_DATABASE_URL or \
     PostgreSQL's server binaries (initdb, postgres); install Debian's `postgresql`";

/// The variable naming an existing database to test against, instead of a throwaway cluster.
pub const DATABASE_URL_VARIABLE: &str = "LIFESPAN_TEST_DATABASE_URL";

/// A database the tests may create tables in.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
}

impl TestDatabase {
    /// Its URL: `postgres://user@host:port/database`, with no query parameters for a throwaway
    /// cluster.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its URL with the query parameter `name=value` added.
    pub fn url_with(&self, name: &str, value: &str) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}{name}={value}", self.url)
    }
}

/// The database of this test binary: the one `LIFESPAN_TEST_DATABASE_URL` names if it is set,
/// else a cluster started once for the whole binary (and stopped with it) if PostgreSQL's
/// server binaries are found, on `PATH` or in Debian's `/usr/lib/postgresql/<version>/bin`.
///
/// Without either, prints [`SKIP_MESSAGE`] once and returns `None`, so that the test can
/// return early; but when the environment variable `CI` is `true`, it panics with that message
/// instead: CI must not pass by skipping.
pub fn test_database() -> Option<&'static TestDatabase> {
    static DATABASE: OnceLock<Option<TestDatabase>> = OnceLock::new();
    let database = DATABASE.get_or_init(find).as_ref();
    if database.is_none() && on_ci() {
        panic!("{SKIP_MESSAGE}");
    }
    database
}

/// `prefix` followed by a suffix no other call in any process makes: a task or table name of
/// one test's own.
pub fn unique_name(prefix: &str) -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

fn find() -> Option<TestDatabase> {
    if let Some(url) = std::env::var(DATABASE_URL_VARIABLE)
        .ok()
        .filter(|url| !url.is_empty())
    {
        return Some(TestDatabase { url });
    }
    #[cfg(unix)]
    if let Some((initdb, postgres)) = server_binaries() {
        let url = cluster::start(&initdb, &postgres);
        return Some(TestDatabase { url });
    }
    if !on_ci() {
        eprintln!("{SKIP_MESSAGE}");
    }
    None
}

/// `initdb` and `postgres`: on `PATH`, else in the newest `/usr/lib/postgresql/<version>/bin`.
#[cfg_attr(not(unix), allow(dead_code))]
fn server_binaries() -> Option<(PathBuf, PathBuf)> {
    let on_path = |name: &str| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join(name))
            .find(|path| is_executable(path))
    };
    if let (Some(initdb), Some(postgres)) = (on_path("initdb"), on_path("postgres")) {
        return Some((initdb, postgres));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions.into_iter().rev().find_map(|(_, bin)| {
        let (initdb, postgres) = (bin.join("initdb"), bin.join("postgres"));
        (is_executable(&initdb) && is_executable(&postgres)).then_some((initdb, postgres))
    })
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

#[cfg(unix)]
mod cluster {
    //! A throwaway cluster: `initdb` in a temporary folder, then `postgres` run as a child that
    //! cannot outlive the test binary.

    use std::fs::{self, File};
    use std::io;
    use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
    use std::os::unix::process::CommandExt;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc;
    use std::sync::{Mutex, OnceLock};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    /// The prefix of the cluster folders in the temporary directory.
    const PREFIX: &str = "lifespan-postgres-";
    /// The bound on `initdb`.
    const INITDB_LIMIT: Duration = Duration::from_secs(120);
    /// The bound on the server's startup.
    const READY_LIMIT: Duration = Duration::from_secs(30);
    /// The bound on the server's immediate shutdown at exit.
    const STOP_LIMIT: Duration = Duration::from_secs(10);
    /// Between two looks at a process that is starting or stopping.
    const POLL: Duration = Duration::from_millis(25);
    /// `nobody`: who runs the server when the tests run as root (it refuses to run as root).
    const NOBODY: u32 = 65534;

    /// The running cluster, stopped and removed when the test binary exits.
    static CLUSTER: Mutex<Option<Cluster>> = Mutex::new(None);

    struct Cluster {
        dir: PathBuf,
        server: Child,
    }

    /// Starts a cluster and returns its URL; panics with the server's log if it does not start.
    pub(super) fn start(initdb: &Path, postgres: &Path) -> String {
        remove_stale_folders();
        let as_nobody = unsafe { libc::geteuid() } == 0;
        let dir = create_cluster_folder(as_nobody);
        let data = dir.join("data");
        init_cluster(initdb, &dir, &data, as_nobody);
        start_server(postgres, &dir, &data, as_nobody)
    }

    /// A new folder for a cluster, in the temporary folder and only for its owner (`nobody` if
    /// the tests run as root).
    fn create_cluster_folder(as_nobody: bool) -> PathBuf {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("{PREFIX}{}-{stamp}", std::process::id()));
        fs::create_dir_all(&dir).expect("creating the cluster's folder");
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .expect("restricting the cluster's folder");
        }
        if as_nobody {
            std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY))
                .expect("giving the cluster's folder to nobody");
        }
        dir
    }

    /// Creates the cluster's files in `data` with `initdb`; panics with its log if it fails.
    fn init_cluster(initdb: &Path, dir: &Path, data: &Path, as_nobody: bool) {
        let mut command = Command::new(initdb);
        command.arg("-D").arg(data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "-N",
        ]);
        prepare(&mut command, dir, as_nobody);
        let log = dir.join("initdb.log");
        let file = File::create(&log).expect("creating initdb's log");
        command
            .stdout(Stdio::from(file.try_clone().expect("sharing the log")))
            .stderr(Stdio::from(file));
        let mut child = command.spawn().expect("starting initdb");
        match wait_with_deadline(&mut child, INITDB_LIMIT) {
            Some(status) if status.success() => {}
            outcome => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "initdb failed ({outcome:?}):\n{}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
        }
    }

    /// Starts the server on the cluster's files in `data`, keeps it as the running cluster and
    /// returns its URL; panics with its logs (and removes the cluster's folder) if it does not
    /// start.
    fn start_server(postgres: &Path, dir: &Path, data: &Path, as_nobody: bool) -> String {
        // A free port can be taken by another process before the server binds it: try again.
        let mut logs = String::new();
        for attempt in 0..3 {
            let port = free_port();
            let log = dir.join(format!("server-{attempt}.log"));
            let mut command = Command::new(postgres);
            command
                .arg("-D")
                .arg(data)
                .arg("-p")
                .arg(port.to_string())
                .arg("-k")
                .arg(dir)
                .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
                .args(["-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
            prepare(&mut command, dir, as_nobody);
            let file = File::create(&log).expect("creating the server's log");
            command
                .stdout(Stdio::from(file.try_clone().expect("sharing the log")))
                .stderr(Stdio::from(file));
            let mut server = spawn_tied(command).expect("starting postgres");
            match wait_ready(&mut server, port, &log) {
                Ok(()) => {
                    *CLUSTER.lock().unwrap_or_else(|e| e.into_inner()) = Some(Cluster {
                        dir: dir.to_path_buf(),
                        server,
                    });
                    stop_at_exit();
                    return format!("postgres://postgres@127.0.0.1:{port}/postgres");
                }
                Err(problem) => {
                    let _ = server.kill();
                    let _ = server.wait();
                    let text = fs::read_to_string(&log).unwrap_or_default();
                    logs.push_str(&format!("{problem}:\n{text}\n"));
                    if !text.contains("could not bind") {
                        break;
                    }
                }
            }
        }
        let _ = fs::remove_dir_all(dir);
        panic!("the PostgreSQL server did not start:\n{logs}");
    }

    /// The environment of `initdb` and `postgres`: the C locale, the cluster's folder as the
    /// working directory, and `nobody` as the user if the tests run as root.
    fn prepare(command: &mut Command, dir: &Path, as_nobody: bool) {
        command
            .current_dir(dir)
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .stdin(Stdio::null());
        if as_nobody {
            command.uid(NOBODY).gid(NOBODY);
        }
    }

    /// Spawns `command` from a thread that never exits, with `PR_SET_PDEATHSIG` set to
    /// `SIGKILL` (on Linux): the kernel kills the child when the thread that spawned it ends,
    /// which is then only when the process ends, however it ends.
    fn spawn_tied(mut command: Command) -> io::Result<Child> {
        type Request = (Command, mpsc::Sender<io::Result<Child>>);
        static SPAWNER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
        #[cfg(target_os = "linux")]
        unsafe {
            // Runs in the child after the change of user (which would clear the setting).
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let spawner = SPAWNER.get_or_init(|| {
            let (requests, received) = mpsc::channel::<Request>();
            std::thread::Builder::new()
                .name("postgres-spawner".into())
                .spawn(move || {
                    for (mut command, reply) in received {
                        let _ = reply.send(command.spawn());
                    }
                    // The sender lives in a static: this is never reached; if it were, the
                    // thread must still not end.
                    loop {
                        std::thread::park();
                    }
                })
                .expect("starting the spawner thread");
            Mutex::new(requests)
        });
        let (reply, answer) = mpsc::channel();
        spawner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send((command, reply))
            .map_err(|_| io::Error::other("the spawner thread is gone"))?;
        answer
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| io::Error::other("the spawner thread did not answer"))?
    }

    /// Waits until the server's log says it accepts connections and its port answers.
    fn wait_ready(server: &mut Child, port: u16, log: &Path) -> Result<(), String> {
        let deadline = Instant::now() + READY_LIMIT;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            if let Some(status) = server.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("the server exited ({status})"));
            }
            let ready = fs::read_to_string(log)
                .is_ok_and(|text| text.contains("ready to accept connections"));
            if ready && TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("the server was not ready within {READY_LIMIT:?}"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits at most `limit` for `child` to exit.
    fn wait_with_deadline(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    fn free_port() -> u16 {
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .expect("finding a free port")
            .port()
    }

    /// Stops the cluster and removes its folder when the process exits normally (test binaries
    /// do, passed or failed); if it is killed instead, the server dies with it and the folder
    /// is removed by the next run.
    fn stop_at_exit() {
        static REGISTERED: OnceLock<()> = OnceLock::new();
        REGISTERED.get_or_init(|| {
            extern "C" fn stop() {
                let cluster = CLUSTER.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(mut cluster) = cluster {
                    cluster.stop();
                }
            }
            unsafe { libc::atexit(stop) };
        });
    }

    impl Cluster {
        /// An immediate shutdown (`SIGQUIT`: no checkpoint), `SIGKILL` if it takes too long,
        /// then the folder removed.
        fn stop(&mut self) {
            if let Ok(pid) = i32::try_from(self.server.id()) {
                unsafe { libc::kill(pid, libc::SIGQUIT) };
            }
            if wait_with_deadline(&mut self.server, STOP_LIMIT).is_none() {
                let _ = self.server.kill();
                let _ = wait_with_deadline(&mut self.server, STOP_LIMIT);
            }
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    /// Removes the cluster folders of earlier test processes that are gone (killed before they
    /// could clean up).
    fn remove_stale_folders() {
        let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|name| name.strip_prefix(PREFIX))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<i32>().ok())
            else {
                continue;
            };
            let gone = unsafe { libc::kill(pid, 0) } != 0
                && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
            if gone {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}
