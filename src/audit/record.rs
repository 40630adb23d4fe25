//! One audit record and its canonical encoding (issue 14): JSON with a fixed field order and
//! the names an analyst expects, so the stored bytes are what `ferrohsm-util audit show
//! --json` prints and what the hash chain covers. Nothing secret goes in: no key byte, no PIN,
//! no label of a private object.

use crate::object::attr::{AttrValue, Attributes};
use cryptoki_sys::*;

/// Who made a call, as the process sees itself (cached per process id, so a forked child
/// reports its own pid).
#[derive(Debug, Clone)]
pub struct Origin {
    pub host: String,
    pub pid: u32,
    pub uid: u32,
    pub program: String,
}

fn read_origin() -> Origin {
    use std::os::unix::fs::MetadataExt;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    // The owner of /proc/self is the process's effective uid: no unsafe call needed.
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    let program = std::fs::read_to_string("/proc/self/comm")
        .map(|c| c.trim().to_owned())
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_default();
    Origin {
        host,
        pid: std::process::id(),
        uid,
        program,
    }
}

static ORIGIN: parking_lot::Mutex<Option<Origin>> = parking_lot::Mutex::new(None);

/// This process's origin.
pub fn origin() -> Origin {
    let mut c = ORIGIN.lock();
    match &*c {
        Some(o) if o.pid == std::process::id() => o.clone(),
        _ => {
            let o = read_origin();
            *c = Some(o.clone());
            o
        }
    }
}

/// Drop the cached origin (C_Finalize): a host may unload the module next, and heap blocks
/// held by its statics would then be lost for good.
pub fn forget_origin() {
    *ORIGIN.lock() = None;
}

/// Microseconds since the Unix epoch, UTC.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// One audited event.
#[derive(Debug, Clone)]
pub struct Record {
    pub time_us: i64,
    pub function: &'static str,
    pub serial: String,
    pub origin: Origin,
    pub session: Option<CK_SESSION_HANDLE>,
    /// `CKU_SO`, `CKU_USER`, `CKU_CONTEXT_SPECIFIC`, or `none` (not logged in).
    pub user_type: &'static str,
    pub mechanism: Option<CK_MECHANISM_TYPE>,
    /// CKA_UNIQUE_ID of the object the call made, changed, destroyed, used or wrapped.
    pub key_id: Option<String>,
    /// Its label, for a public object only.
    pub key_label: Option<String>,
    /// The key the call worked with besides (wrapping, unwrapping, base or source key).
    pub base_key_id: Option<String>,
    pub bytes: Option<u64>,
    pub result: CK_RV,
    pub reason: Option<String>,
}

impl Record {
    pub fn new(function: &'static str, serial: &str) -> Record {
        Record {
            time_us: now_us(),
            function,
            serial: serial.to_owned(),
            origin: origin(),
            session: None,
            user_type: "none",
            mechanism: None,
            key_id: None,
            key_label: None,
            base_key_id: None,
            bytes: None,
            result: CKR_OK,
            reason: None,
        }
    }

    /// The object a call acted on: its unique id, and its label only when it is public.
    pub fn set_object(&mut self, attrs: &Attributes) {
        let (id, label) = object_names(attrs);
        self.key_id = id;
        self.key_label = label;
    }

    /// The canonical bytes (the field order is part of the format: the chain hashes them).
    // CK_ULONG is u64 here but not on every target: the cast is not a no-op everywhere.
    #[allow(clippy::unnecessary_cast)]
    pub fn encode(&self) -> Vec<u8> {
        let mut o = Json::default();
        o.str("eventTime", Some(&iso_time(self.time_us)));
        o.str("eventName", Some(self.function));
        o.str("tokenSerial", Some(&self.serial));
        o.str("sourceHost", Some(&self.origin.host));
        o.num("processId", Some(u64::from(self.origin.pid)));
        o.num("userId", Some(u64::from(self.origin.uid)));
        o.str("program", Some(&self.origin.program));
        o.num("session", self.session.map(|h| h as u64));
        o.str("userType", Some(self.user_type));
        o.str(
            "mechanism",
            self.mechanism.map(super::names::mechanism).as_deref(),
        );
        o.str("keyId", self.key_id.as_deref());
        o.str("keyLabel", self.key_label.as_deref());
        o.str("baseKeyId", self.base_key_id.as_deref());
        o.num("bytes", self.bytes);
        o.str("result", Some(crate::error::rv_name(self.result)));
        o.str("reason", self.reason.as_deref());
        o.finish()
    }
}

/// CKA_UNIQUE_ID and (public objects only) CKA_LABEL, as text.
pub fn object_names(attrs: &Attributes) -> (Option<String>, Option<String>) {
    let text = |t| match attrs.get(t) {
        Some(AttrValue::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    };
    let label = if attrs.flag(CKA_PRIVATE) {
        None
    } else {
        text(CKA_LABEL)
    };
    (text(CKA_UNIQUE_ID), label)
}

/// The user type of a login state, by name.
pub fn user_type(login: crate::token::Login) -> &'static str {
    match login {
        crate::token::Login::Public => "none",
        crate::token::Login::User => "CKU_USER",
        crate::token::Login::So => "CKU_SO",
    }
}

#[derive(Default)]
struct Json {
    out: String,
}

impl Json {
    fn key(&mut self, k: &str) {
        self.out.push(if self.out.is_empty() { '{' } else { ',' });
        self.out.push('"');
        self.out.push_str(k);
        self.out.push_str("\":");
    }
    fn str(&mut self, k: &str, v: Option<&str>) {
        self.key(k);
        match v {
            Some(v) => escape(&mut self.out, v),
            None => self.out.push_str("null"),
        }
    }
    fn num(&mut self, k: &str, v: Option<u64>) {
        self.key(k);
        match v {
            Some(v) => self.out.push_str(&v.to_string()),
            None => self.out.push_str("null"),
        }
    }
    fn finish(mut self) -> Vec<u8> {
        self.out.push('}');
        self.out.into_bytes()
    }
}

fn escape(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `2026-12-03T07:57:05.123456Z`.
pub fn iso_time(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Civil date (year, month, day) from days since 1970-01-01 (Howard Hinnant's algorithm); also
/// the token's clock (`module::utc_time`).
pub fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a civil date (the inverse of `civil`).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parse `YYYY-MM-DD`, `YYYY-MM-DDThh:mm:ss[.ffffff][Z]` (UTC) into µs since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut p = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, m, d) = (p.next()??, p.next()??, p.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut us = days_from_civil(y, m, d) * 86_400 * 1_000_000;
    if let Some(t) = time {
        let (hms, frac) = match t.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (t, None),
        };
        let mut q = hms.splitn(3, ':').map(|x| x.parse::<i64>().ok());
        let h = q.next()??;
        let mi = q.next().flatten().unwrap_or(0);
        let se = q.next().flatten().unwrap_or(0);
        us += ((h * 60 + mi) * 60 + se) * 1_000_000;
        if let Some(f) = frac {
            let digits: String = f.chars().take(6).collect();
            let n: i64 = digits.parse().ok()?;
            us += n * 10i64.pow(6 - digits.len() as u32);
        }
    }
    Some(us)
}

/// One field of a canonical record, as text (strings unescaped; numbers as written; `None`
/// for null or absent). Enough for `audit show`'s filters: the records are ours, of a fixed
/// shape, so no general JSON parser is needed.
pub fn field(record: &[u8], name: &str) -> Option<String> {
    let s = std::str::from_utf8(record).ok()?;
    let pat = format!("\"{name}\":");
    let mut start = 0;
    // A key only ever follows `{` or `,`; the same text inside a string value does not count.
    let at = loop {
        let i = s[start..].find(&pat)? + start;
        if i > 0 && matches!(s.as_bytes()[i - 1], b'{' | b',') && !inside_string(&s[..i]) {
            break i + pat.len();
        }
        start = i + 1;
    };
    let rest = &s[at..];
    if let Some(body) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let h: String = chars.by_ref().take(4).collect();
                        out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
                    }
                    c => out.push(c),
                },
                c => out.push(c),
            }
        }
        None
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        let v = &rest[..end];
        (v != "null").then(|| v.to_owned())
    }
}

fn inside_string(prefix: &str) -> bool {
    let mut inside = false;
    let mut esc = false;
    for c in prefix.chars() {
        match (esc, c) {
            (true, _) => esc = false,
            (false, '\\') => esc = true,
            (false, '"') => inside = !inside,
            _ => {}
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_canonical_and_readable() {
        let mut r = Record::new("C_Sign", "00112233");
        r.time_us = 1_764_748_625_123_456;
        r.session = Some(7);
        r.user_type = "CKU_USER";
        r.mechanism = Some(CKM_ECDSA);
        r.key_id = Some("ab\"c".into());
        r.bytes = Some(32);
        let e = r.encode();
        let s = String::from_utf8(e.clone()).unwrap_or_default();
        assert!(s.starts_with(
            "{\"eventTime\":\"2025-12-03T07:57:05.123456Z\",\"eventName\":\"C_Sign\""
        ));
        assert_eq!(field(&e, "keyId").as_deref(), Some("ab\"c"));
        assert_eq!(field(&e, "mechanism").as_deref(), Some("CKM_ECDSA"));
        assert_eq!(field(&e, "bytes").as_deref(), Some("32"));
        assert_eq!(field(&e, "keyLabel"), None);
        assert_eq!(field(&e, "result").as_deref(), Some("CKR_OK"));
        assert_eq!(parse_time("2025-12-03T07:57:05.123456Z"), Some(r.time_us));
        assert_eq!(parse_time("1970-01-02"), Some(86_400_000_000));
    }
}
