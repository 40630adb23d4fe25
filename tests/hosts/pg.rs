//! Throwaway PostgreSQL clusters for the several-hosts tests: a primary listening on given
//! addresses, a streaming standby made with `pg_basebackup -R`, and the stop, start, kill and
//! promote steps the scenarios need. The server runs as the `postgres` system user (PostgreSQL
//! refuses root); the test process talks to it as the trust-authenticated superuser `ferrohsm`.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SERVER_USER: &str = "postgres";
pub const DB_USER: &str = "ferrohsm";

/// The highest installed version's bin directory (Debian: /usr/lib/postgresql/N/bin).
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let v: u32 = e.file_name().to_str()?.parse().ok()?;
                    let bin = e.path().join("bin");
                    bin.join("initdb").is_file().then_some((v, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb \
             (install the Debian package `postgresql`)"
        ),
    }
}

fn ids_of(user: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == user {
            return (f[2].parse().expect("uid"), f[3].parse().expect("gid"));
        }
    }
    panic!("no system user {user:?}: the Debian package `postgresql` creates it")
}

#[track_caller]
fn checked(what: &str, out: std::io::Result<Output>) -> String {
    let out = out.unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A port nobody listens on now; the server binds it right after, on other addresses too.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .expect("bind a probe socket")
        .local_addr()
        .expect("probe address")
        .port()
}

/// One cluster: its data directory, Unix socket directory, log and port. Dropping it stops the
/// server (immediate mode, then SIGKILL of its postmaster if that failed) and removes the files.
#[derive(Debug)]
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    pub listen: Vec<Ipv4Addr>,
}

impl Cluster {
    fn new_dir() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::Builder::new()
            .prefix("ferrohsm-hosts-pg-")
            .tempdir_in("/tmp")
            .expect("cluster temp dir");
        let (uid, gid) = ids_of(SERVER_USER);
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown cluster dir");
        (dir, bin_dir())
    }

    /// A command run as the server's user.
    fn as_server(&self, tool: &str) -> Command {
        let mut c = Command::new("runuser");
        c.args(["-u", SERVER_USER, "--"]).arg(self.bin.join(tool));
        c
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The settings both roles share; a primary's WAL settings let a standby stream from it.
    fn settings(&self) -> String {
        let listen: Vec<String> = self.listen.iter().map(|a| a.to_string()).collect();
        format!(
            "listen_addresses = '{}'\nport = {}\nunix_socket_directories = '{}'\n\
             wal_level = replica\nmax_wal_senders = 5\nmax_connections = 60\n\
             fsync = on\nlog_connections = off\n",
            listen.join(","),
            self.port,
            self.socket_dir().display()
        )
    }

    fn append_conf(&self, text: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data().join("postgresql.conf"))
            .expect("open postgresql.conf");
        f.write_all(text.as_bytes()).expect("write postgresql.conf");
    }

    /// initdb and start a primary listening on `listen` (and its Unix socket).
    pub fn primary(listen: &[Ipv4Addr]) -> Cluster {
        Self::primary_with(listen, |_| {
            (
                String::new(),
                "local all all trust\nlocal replication all trust\n\
                 host all all 0.0.0.0/0 trust\nhost replication all 0.0.0.0/0 trust\n"
                    .to_owned(),
            )
        })
    }

    /// As `primary`, with `setup(dir)` giving the extra postgresql.conf lines and the whole
    /// pg_hba.conf; files it puts in `dir` (the cluster's directory) are handed to the server's
    /// user before the server starts.
    pub fn primary_with(
        listen: &[Ipv4Addr],
        setup: impl FnOnce(&Path) -> (String, String),
    ) -> Cluster {
        let (dir, bin) = Self::new_dir();
        let c = Cluster {
            dir,
            bin,
            port: free_port(),
            listen: listen.to_vec(),
        };
        checked(
            "initdb",
            c.as_server("initdb")
                .args(["-D"])
                .arg(c.data())
                .args(["-U", DB_USER, "--auth=trust", "--no-sync", "-E", "UTF8"])
                .output(),
        );
        let (conf, hba) = setup(c.dir.path());
        let (uid, gid) = ids_of(SERVER_USER);
        for e in std::fs::read_dir(c.dir.path())
            .expect("list the cluster dir")
            .flatten()
        {
            if e.path().is_file() {
                std::os::unix::fs::chown(e.path(), Some(uid), Some(gid)).expect("chown");
            }
        }
        c.append_conf(&format!("{}{conf}\n", c.settings()));
        std::fs::write(c.data().join("pg_hba.conf"), hba).expect("write pg_hba.conf");
        c.start();
        c
    }

    /// A standby of `primary` made with `pg_basebackup -R`, listening on `listen`, started.
    pub fn standby_of(primary: &Cluster, listen: &[Ipv4Addr]) -> Cluster {
        let (dir, bin) = Self::new_dir();
        let c = Cluster {
            dir,
            bin,
            port: free_port(),
            listen: listen.to_vec(),
        };
        checked(
            "pg_basebackup",
            c.as_server("pg_basebackup")
                .arg("-D")
                .arg(c.data())
                .arg("-h")
                .arg(primary.socket_dir())
                .args([
                    "-p",
                    &primary.port.to_string(),
                    "-U",
                    DB_USER,
                    "-R",
                    "-X",
                    "stream",
                ])
                .output(),
        );
        // The copied postgresql.conf names the primary's port and socket; later lines win
        // (primary_conninfo is in postgresql.auto.conf, written by -R).
        c.append_conf(&c.settings());
        c.start();
        c
    }

    pub fn start(&self) {
        checked(
            "pg_ctl start",
            self.as_server("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.log())
                .args(["-w", "-t", "60", "start"])
                .output(),
        );
    }

    /// `pg_ctl stop -m fast`: clients are disconnected, the server shuts down cleanly.
    pub fn stop_fast(&self) {
        checked(
            "pg_ctl stop -m fast",
            self.as_server("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .args(["-m", "fast", "-w", "-t", "60", "stop"])
                .output(),
        );
    }

    pub fn promote(&self) {
        checked(
            "pg_ctl promote",
            self.as_server("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .args(["-w", "-t", "60", "promote"])
                .output(),
        );
    }

    fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// SIGKILL the postmaster and every process it started: a crashed machine, no shutdown.
    pub fn kill(&self) {
        let pm = self
            .postmaster_pid()
            .expect("postmaster.pid of a running server");
        let mut victims = vec![pm];
        for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // Fields after the parenthesised command name: state, ppid, …
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if ppid == Some(pm) {
                victims.push(pid);
            }
        }
        for pid in victims {
            // Only this cluster's processes, by id.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let start = Instant::now();
        while Path::new(&format!("/proc/{pm}")).exists()
            && std::fs::read_to_string(format!("/proc/{pm}/stat"))
                .map(|s| !s.contains(") Z "))
                .unwrap_or(false)
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "postmaster {pm} survived SIGKILL"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// One SQL statement through psql on the Unix socket; the unaligned, tuples-only output.
    pub fn sql(&self, statement: &str) -> String {
        checked(
            &format!("psql {statement:?}"),
            Command::new(self.bin.join("psql"))
                .arg("-h")
                .arg(self.socket_dir())
                .args([
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    DB_USER,
                    "-d",
                    "postgres",
                ])
                .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement])
                .output(),
        )
        .trim()
        .to_owned()
    }

    /// Connection string for the module over TCP to `addr`.
    pub fn url(&self, addr: Ipv4Addr) -> String {
        format!(
            "host={addr} port={} user={DB_USER} dbname=postgres",
            self.port
        )
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let stopped = self
            .as_server("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "-t", "30", "stop"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !stopped {
            // A stale postmaster.pid may name a reused pid: kill only our own postmaster.
            if let Some(pid) = self.postmaster_pid() {
                let ours = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains(&*self.data().to_string_lossy()))
                    .unwrap_or(false);
                if ours {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                }
            }
        }
    }
}
