//! The "hosts" of the several-hosts tests: one network namespace per host (`ip netns add`),
//! joined to the root namespace by a veth pair. Names carry the test process's id and each
//! host's /29 block in 10.213.0.0/16 is claimed by an O_EXCL file, so parallel tests never
//! collide; everything is removed on drop, and leftovers of a killed run are removed by the next.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

const CLAIMS: &str = "/tmp/ferrohsm-hosts-net";
const BLOCKS: u32 = 8192;

#[track_caller]
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("`ip` (iproute2) cannot run: {e}"));
    assert!(
        out.status.success(),
        "`ip {}` failed ({}): {}\n(the several-hosts tests need root and `ip netns`)",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

fn ip_quiet(args: &[&str]) {
    let _ = Command::new("ip").args(args).output();
}

fn block_base(b: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, 213, (b >> 5) as u8, ((b & 31) << 3) as u8)
}

fn offset(base: Ipv4Addr, n: u8) -> Ipv4Addr {
    let o = base.octets();
    Ipv4Addr::new(o[0], o[1], o[2], o[3] + n)
}

/// One host: a namespace and the veth pair that joins it to the root namespace.
#[derive(Debug)]
pub struct Host {
    pub netns: String,
    pub veth_root: String,
    /// The root side's address: the server listens here.
    pub root_addr: Ipv4Addr,
    /// A second root-side address on the same link, for a second server (the standby).
    pub root_addr2: Ipv4Addr,
    /// The address inside the namespace.
    pub ns_addr: Ipv4Addr,
    claim: PathBuf,
}

impl Host {
    fn remove(&self) {
        // Deleting one end of a veth pair deletes both.
        ip_quiet(&["link", "del", &self.veth_root]);
        ip_quiet(&["netns", "del", &self.netns]);
        let _ = std::fs::remove_file(&self.claim);
    }
}

/// The hosts of one test.
#[derive(Debug)]
pub struct Net {
    pub hosts: Vec<Host>,
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Remove what a test process that no longer runs left behind (its claim files name them).
fn remove_stale() {
    let Ok(rd) = std::fs::read_dir(CLAIMS) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        let f: Vec<&str> = text.split_whitespace().collect();
        let Some(pid) = f.first().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if f.len() == 3 && !alive(pid) {
            ip_quiet(&["link", "del", f[2]]);
            ip_quiet(&["netns", "del", f[1]]);
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Claim a free /29 block: the file's O_EXCL creation is the lock.
fn claim(record: &str) -> (u32, PathBuf) {
    std::fs::create_dir_all(CLAIMS).expect("claims dir");
    let start = (std::process::id() * 7) % BLOCKS;
    for i in 0..BLOCKS {
        let b = (start + i) % BLOCKS;
        let path = Path::new(CLAIMS).join(b.to_string());
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path);
        if let Ok(mut f) = created {
            use std::io::Write;
            f.write_all(record.as_bytes()).expect("write claim");
            return (b, path);
        }
    }
    panic!("no free address block left in 10.213.0.0/16 (claims under {CLAIMS})")
}

impl Net {
    /// `n` hosts, each with its namespace and veth pair, up and addressed.
    pub fn new(n: usize) -> Net {
        remove_stale();
        let pid = std::process::id();
        let mut net = Net { hosts: Vec::new() };
        for i in 0..n {
            let netns = format!("ferrohsm-{pid}-{i}");
            // Interface names are at most 15 bytes.
            let veth_root = format!("fh{pid}r{i}");
            let veth_ns = format!("fh{pid}n{i}");
            let (b, claim) = claim(&format!("{pid} {netns} {veth_root}"));
            let base = block_base(b);
            let host = Host {
                netns,
                veth_root,
                root_addr: offset(base, 1),
                root_addr2: offset(base, 3),
                ns_addr: offset(base, 2),
                claim,
            };
            // Pushed before it exists, so a failure half-way is cleaned up by drop too.
            net.hosts.push(host);
            let h = net.hosts.last().expect("just pushed");
            let r1 = format!("{}/29", h.root_addr);
            let r2 = format!("{}/29", h.root_addr2);
            let nsa = format!("{}/29", h.ns_addr);
            ip(&["netns", "add", &h.netns]);
            ip(&[
                "link",
                "add",
                &h.veth_root,
                "type",
                "veth",
                "peer",
                "name",
                &veth_ns,
            ]);
            ip(&["link", "set", &veth_ns, "netns", &h.netns]);
            ip(&["addr", "add", &r1, "dev", &h.veth_root]);
            ip(&["addr", "add", &r2, "dev", &h.veth_root]);
            ip(&["link", "set", &h.veth_root, "up"]);
            ip(&["-n", &h.netns, "addr", "add", &nsa, "dev", &veth_ns]);
            ip(&["-n", &h.netns, "link", "set", &veth_ns, "up"]);
            ip(&["-n", &h.netns, "link", "set", "lo", "up"]);
        }
        net
    }

    /// Every root-side address (the primary's listen list).
    pub fn root_addrs(&self) -> Vec<Ipv4Addr> {
        self.hosts.iter().map(|h| h.root_addr).collect()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for h in &self.hosts {
            h.remove();
        }
    }
}

/// The network namespace this process is in (the inode behind /proc/self/ns/net).
pub fn own_netns() -> String {
    std::fs::read_link("/proc/self/ns/net")
        .expect("readlink /proc/self/ns/net")
        .display()
        .to_string()
}
