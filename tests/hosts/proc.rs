//! Host processes: the test binary re-executed inside a host's namespace (`ip netns exec`, which
//! execs, so the child's pid is the test binary's) to run the `child` test in a role. A child
//! reports on stdout in lines starting with `@@ `, and takes commands on stdin, one a line; the
//! parent reads both output streams on threads so a chatty child never blocks on a full pipe.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const ROLE_VAR: &str = crate::common::CHILD_ROLE_VAR;
pub const EVENT: &str = "@@ ";

/// The longest a parent waits for any one report before failing with the child's output.
pub const PATIENCE: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Proc {
    pub name: String,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    events: Receiver<String>,
    log: Arc<Mutex<String>>,
}

/// The child side of the protocol: one report line, flushed at once (a SIGKILL may follow).
pub fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{EVENT}{line}").expect("report to the parent");
    out.flush().expect("flush report");
}

fn pump(
    stream: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    tx: Option<std::sync::mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            // libtest writes "test child ... " before the first report, on the same line.
            if let (Some(tx), Some(at)) = (&tx, line.find(EVENT)) {
                let _ = tx.send(line[at + EVENT.len()..].to_owned());
            }
            let mut l = log.lock().expect("log lock");
            l.push_str(&line);
            l.push('\n');
        }
    });
}

impl Proc {
    /// Start the `child` test in `role` inside `netns` (or the root namespace when None).
    pub fn spawn(name: &str, netns: Option<&str>, role: &str, env: &[(&str, String)]) -> Proc {
        let exe = std::env::current_exe().expect("current_exe");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
            .env(ROLE_VAR, role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn host process {name}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, events) = channel();
        pump(child.stdout.take().expect("stdout"), log.clone(), Some(tx));
        pump(child.stderr.take().expect("stderr"), log.clone(), None);
        Proc {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child: Some(child),
            events,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn output(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// The next report, waiting at most `timeout`; None when the child's stdout closed.
    pub fn next_within(&self, timeout: Duration) -> Option<String> {
        match self.events.recv_timeout(timeout) {
            Ok(ev) => Some(ev),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!(
                "host {}: no report within {timeout:?}; its output so far:\n{}",
                self.name,
                self.output()
            ),
        }
    }

    /// The next report; fails (with the child's output) on timeout or exit.
    #[track_caller]
    pub fn next(&self) -> String {
        match self.next_within(PATIENCE) {
            Some(ev) => ev,
            None => {
                // Let the stderr pump catch up before showing the output.
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "host {} ended without the expected report:\n{}",
                    self.name,
                    self.output()
                )
            }
        }
    }

    /// The next report, which must start with `word`; returns the rest.
    #[track_caller]
    pub fn expect(&self, word: &str) -> String {
        let ev = self.next();
        match ev.strip_prefix(word) {
            Some(rest) => rest.trim().to_owned(),
            None => panic!(
                "host {}: expected report {word:?}, got {ev:?}; output:\n{}",
                self.name,
                self.output()
            ),
        }
    }

    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}")
            .and_then(|_| stdin.flush())
            .unwrap_or_else(|e| {
                panic!("host {}: send {line:?}: {e}\n{}", self.name, self.output())
            });
    }

    /// Send a command and return its one report.
    #[track_caller]
    pub fn call(&mut self, line: &str) -> String {
        self.send(line);
        self.next()
    }

    /// SIGKILL the child (it is ours, by its id) and reap it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Close stdin, wait for a clean exit and check that the child's test ran and passed;
    /// returns every report the child made that the parent had not read.
    #[track_caller]
    pub fn finish(&mut self) -> Vec<String> {
        self.stdin.take();
        let mut c = self.child.take().expect("running");
        let status = c.wait().expect("wait for host process");
        let mut rest = Vec::new();
        while let Some(ev) = self.next_within(PATIENCE) {
            rest.push(ev);
        }
        let out = self.output();
        assert!(
            status.success(),
            "host {} failed ({status}):\n{out}",
            self.name
        );
        // libtest exits 0 when the filter matched nothing: make sure the child really ran.
        assert!(
            out.contains("1 passed"),
            "host {} did not run its test:\n{out}",
            self.name
        );
        rest
    }

    /// The reports made so far, without waiting.
    pub fn poll(&self) -> Vec<String> {
        self.events.try_iter().collect()
    }

    /// Every report until the child's stdout closes (after a kill or exit).
    pub fn drain(&self) -> Vec<String> {
        let mut rest = Vec::new();
        while let Some(ev) = self.next_within(PATIENCE) {
            rest.push(ev);
        }
        rest
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
