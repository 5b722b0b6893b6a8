//! The audit record and its hash chain. Each domain's records form one chain (events outside
//! any domain go to [`SYSTEM_CHAIN`]): record `n` stores the hash of record `n - 1`, and its own
//! hash covers every field. Editing, deleting, inserting or reordering records breaks a link,
//! and [`ChainCheck`] names the first broken one.

use sha2::{Digest, Sha256};

/// The chain of events that belong to no domain (a login to an unknown domain, the
/// installation's settings).
pub const SYSTEM_CHAIN: &str = "_system";

/// What ends the name of a domain's conversation log (`example.org:im`), a chain of its own
/// beside the domain's audit chain. A colon is in no domain name, so the two never meet.
const CONVERSATIONS: &str = ":im";

/// The chain of `domain`'s logged instant-messaging conversations.
pub fn conversation_chain(domain: &str) -> String {
    format!("{domain}{CONVERSATIONS}")
}

/// The domain whose conversation log `chain` is, if it is one.
pub fn conversations_of(chain: &str) -> Option<&str> {
    chain.strip_suffix(CONVERSATIONS)
}

/// Longest message text a conversation record keeps; longer text is cut, with its length noted.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// The "previous hash" of a chain's first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest text kept in one field of a record; longer values are cut (with a marker), so a
/// hostile request cannot make records huge.
pub const MAX_FIELD: usize = 512;

/// One audit record as stored and exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Domain name, or [`SYSTEM_CHAIN`].
    pub chain: String,
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// Unix seconds (UTC).
    pub at: i64,
    /// A security event (failed login, denied access, hostile input…) rather than a change.
    pub security: bool,
    /// What happened, `resource.verb` (`account.create`, `login.failed`).
    pub action: String,
    /// Who: `name@domain`, `operator` for the host's command line, or `-` when unknown.
    pub actor: String,
    pub source_ip: String,
    pub source_host: String,
    /// What it happened to (`account:bob@example.com`).
    pub target: String,
    /// What changed, a compact JSON object; never a secret.
    pub summary: String,
    /// The administrator acting for `actor` (an impersonation session), or empty.
    pub acting: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Record {
    /// The SHA-256 (hex) of every field but `hash`, each length-prefixed so that no two
    /// different records hash the same bytes.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        };
        field(b"deskward-audit-v1");
        field(self.prev_hash.as_bytes());
        field(self.chain.as_bytes());
        field(&self.seq.to_be_bytes());
        field(&self.at.to_be_bytes());
        field(&[u8::from(self.security)]);
        field(self.action.as_bytes());
        field(self.actor.as_bytes());
        field(self.source_ip.as_bytes());
        field(self.source_host.as_bytes());
        field(self.target.as_bytes());
        field(self.summary.as_bytes());
        // Added after the first records were written: an empty value leaves the hash of
        // every record without one as it was.
        if !self.acting.is_empty() {
            field(b"acting");
            field(self.acting.as_bytes());
        }
        hex(&h.finalize())
    }

    /// The record's UTC day, `yyyy-mm-dd`.
    pub fn day(&self) -> String {
        day_of(self.at)
    }

    /// Short description for messages: `record 17 (2026-11-23T10:04:05Z account.create account:bob@x)`.
    pub fn describe(&self) -> String {
        format!("record {} ({} {} {})", self.seq, timestamp(self.at), self.action, self.target)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Cuts `s` to [`MAX_FIELD`] bytes (on a character boundary) and replaces control characters,
/// so a value from a request can neither bloat a record nor break a line of a log that
/// prints it.
pub fn clean_field(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_FIELD));
    for c in s.chars() {
        if out.len() + c.len_utf8() > MAX_FIELD {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { '\u{FFFD}' } else { c });
    }
    out
}

/// Cuts a message text to [`MAX_MESSAGE`] bytes on a character boundary; `None` when it fits.
/// Newlines and other control characters stay: the record holds the text JSON-escaped, so they
/// cannot break a line of an export.
pub fn cut_message(text: &str) -> Option<&str> {
    if text.len() <= MAX_MESSAGE {
        return None;
    }
    let mut end = MAX_MESSAGE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(&text[..end])
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `yyyy-mm-dd` of a Unix time, UTC.
pub fn day_of(unix: i64) -> String {
    let (y, m, d) = civil(unix.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `yyyy-mm-ddThh:mm:ssZ` of a Unix time.
pub fn timestamp(unix: i64) -> String {
    let secs = unix.rem_euclid(86_400);
    format!("{}T{:02}:{:02}:{:02}Z", day_of(unix), secs / 3600, secs / 60 % 60, secs % 60)
}

/// Unix time of the start (00:00:00 UTC) of `yyyy-mm-dd`, if it is a real date.
pub fn day_start(day: &str) -> Option<i64> {
    let mut parts = day.splitn(3, '-');
    let y: i64 = parts.next().filter(|p| p.len() == 4)?.parse().ok()?;
    let m: u32 = parts.next().filter(|p| p.len() == 2)?.parse().ok()?;
    let d: u32 = parts.next().filter(|p| p.len() == 2)?.parse().ok()?;
    // Inverse of `civil`; checked by converting back so 2026-02-30 is refused.
    let (yy, mm) = if m <= 2 { (y - 1, i64::from(m) + 9) } else { (y, i64::from(m) - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy.rem_euclid(400);
    let doy = (153 * mm + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (civil(days) == (y, m, d)).then_some(days * 86_400)
}

/// The first problem a chain walk found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error("{record} was edited: its content no longer matches its hash")]
    Edited { seq: i64, record: String },
    #[error("{record} does not link to record {previous}: record {previous} was changed and re-hashed, or {record} was inserted or moved")]
    Relinked { seq: i64, previous: i64, record: String },
    #[error("records {first} to {last} are missing (deleted)")]
    Missing { first: i64, last: i64 },
    #[error("{record} appears again after record {after}: a copy was inserted or the records were reordered")]
    OutOfOrder { seq: i64, after: i64, record: String },
    #[error("the chain ends at record {found} but its head says {expected}: the last records were deleted")]
    Truncated { found: i64, expected: i64 },
    #[error("{record} is beyond the chain's head ({head}): it was inserted")]
    BeyondHead { seq: i64, head: i64, record: String },
    #[error("the chain's last hash does not match its head: record {seq} was replaced")]
    HeadMismatch { seq: i64 },
    #[error("the seal of {day} says its last record is {seq} with another hash: the day was changed")]
    Seal { day: String, seq: i64 },
    #[error("record {seq} belongs to chain {found}, not {expected}")]
    WrongChain { seq: i64, found: String, expected: String },
}

/// Walks a chain in order, from its start or from an archive boundary.
#[derive(Debug, Clone)]
pub struct ChainCheck {
    chain: String,
    last_seq: i64,
    last_hash: String,
    checked: u64,
}

impl ChainCheck {
    /// A walk from the chain's first record.
    pub fn from_genesis(chain: &str) -> ChainCheck {
        ChainCheck::after(chain, 0, GENESIS)
    }

    /// A walk that starts after record `seq` whose hash was `hash` (an archive boundary).
    pub fn after(chain: &str, seq: i64, hash: &str) -> ChainCheck {
        ChainCheck { chain: chain.to_owned(), last_seq: seq, last_hash: hash.to_owned(), checked: 0 }
    }

    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    pub fn last_hash(&self) -> &str {
        &self.last_hash
    }

    /// Records checked so far.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// Checks the next record.
    pub fn push(&mut self, r: &Record) -> Result<(), Break> {
        if r.chain != self.chain {
            return Err(Break::WrongChain { seq: r.seq, found: r.chain.clone(), expected: self.chain.clone() });
        }
        if r.seq <= self.last_seq {
            return Err(Break::OutOfOrder { seq: r.seq, after: self.last_seq, record: r.describe() });
        }
        if r.seq > self.last_seq + 1 {
            return Err(Break::Missing { first: self.last_seq + 1, last: r.seq - 1 });
        }
        if r.compute_hash() != r.hash {
            return Err(Break::Edited { seq: r.seq, record: r.describe() });
        }
        if r.prev_hash != self.last_hash {
            return Err(Break::Relinked { seq: r.seq, previous: self.last_seq, record: r.describe() });
        }
        self.last_seq = r.seq;
        self.last_hash.clone_from(&r.hash);
        self.checked += 1;
        Ok(())
    }

    /// Checks that the walk reached the chain's head.
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<(), Break> {
        if self.last_seq < head_seq {
            return Err(Break::Truncated { found: self.last_seq, expected: head_seq });
        }
        if self.last_hash != head_hash {
            return Err(Break::HeadMismatch { seq: self.last_seq });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<Record> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let mut r = Record {
                    chain: "example.com".into(),
                    seq,
                    at: 1_795_000_000 + seq * 3600,
                    security: seq % 3 == 0,
                    action: "group.create".into(),
                    actor: "admin@example.com".into(),
                    source_ip: "192.0.2.1".into(),
                    source_host: String::new(),
                    target: format!("group:g{seq}"),
                    summary: "{}".into(),
                    acting: String::new(),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                r.hash = r.compute_hash();
                prev.clone_from(&r.hash);
                r
            })
            .collect()
    }

    /// The hash as written before `acting` existed (computed independently of this code):
    /// old records keep verifying, and an acting administrator is covered.
    #[test]
    fn acting_is_hashed_only_when_present() {
        let mut r = Record {
            chain: "example.com".into(),
            seq: 1,
            at: 1_795_003_600,
            security: false,
            action: "group.create".into(),
            actor: "bob@example.com".into(),
            source_ip: "192.0.2.1".into(),
            source_host: String::new(),
            target: "group:g1".into(),
            summary: "{}".into(),
            acting: String::new(),
            prev_hash: "0".repeat(64),
            hash: String::new(),
        };
        assert_eq!(r.compute_hash(), "5f861dc1ea4bc799a4fe53a610cdf201244a0e5dafb27db8667f378d742a8900");
        r.acting = "root@example.com".into();
        assert_eq!(r.compute_hash(), "acc154c9e4988b6b1fae27c3d0a94c4045817915178e8f0ed22e7a25e725def4");
    }

    fn walk(records: &[Record]) -> Result<ChainCheck, Break> {
        let mut check = ChainCheck::from_genesis("example.com");
        for r in records {
            check.push(r)?;
        }
        Ok(check)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let records = chain(10);
        let check = walk(&records).unwrap();
        assert_eq!(check.checked(), 10);
        check.finish(10, &records[9].hash).unwrap();
    }

    #[test]
    fn an_edit_is_named() {
        let mut records = chain(10);
        records[4].target = "group:other".into();
        assert!(matches!(walk(&records), Err(Break::Edited { seq: 5, .. })));
        // Re-hashing the edited record moves the break to the link that follows it.
        records[4].hash = records[4].compute_hash();
        assert!(matches!(walk(&records), Err(Break::Relinked { seq: 6, previous: 5, .. })));
    }

    #[test]
    fn a_deletion_is_named() {
        let mut records = chain(10);
        records.remove(3);
        assert_eq!(walk(&records).err(), Some(Break::Missing { first: 4, last: 4 }));
        let records = chain(10);
        let check = walk(&records[..8]).unwrap();
        assert_eq!(check.finish(10, &records[9].hash), Err(Break::Truncated { found: 8, expected: 10 }));
    }

    #[test]
    fn reordering_and_insertion_are_named() {
        let mut records = chain(10);
        records.swap(2, 3);
        assert!(matches!(walk(&records), Err(Break::Missing { first: 3, last: 3 })));
        let mut records = chain(10);
        let copy = records[2].clone();
        records.insert(5, copy);
        assert!(matches!(walk(&records), Err(Break::OutOfOrder { seq: 3, after: 5, .. })));
        // Swapping the contents of two positions (keeping seq) breaks their hashes.
        let mut records = chain(10);
        let (a, b) = (records[2].clone(), records[3].clone());
        records[2] = Record { seq: 3, ..b };
        records[3] = Record { seq: 4, ..a };
        assert!(matches!(walk(&records), Err(Break::Edited { seq: 3, .. })));
    }

    #[test]
    fn a_walk_can_start_at_an_archive_boundary() {
        let records = chain(10);
        let mut check = ChainCheck::after("example.com", 4, &records[3].hash);
        for r in &records[4..] {
            check.push(r).unwrap();
        }
        check.finish(10, &records[9].hash).unwrap();
        let mut wrong = ChainCheck::after("example.com", 4, GENESIS);
        assert!(matches!(wrong.push(&records[4]), Err(Break::Relinked { seq: 5, .. })));
    }

    #[test]
    fn days_and_timestamps_are_utc() {
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(timestamp(1_795_435_445), "2026-11-23T12:04:05Z");
        assert_eq!(day_of(951_782_400), "2000-02-29");
        assert_eq!(day_start("2000-02-29"), Some(951_782_400));
        assert_eq!(day_start("2026-02-30"), None);
        assert_eq!(day_start("2026-1-3"), None);
        for unix in [-86_400 * 400, 0, 86_399, 1_795_435_445, 4_102_444_800] {
            assert_eq!(day_start(&day_of(unix)), Some(unix - unix.rem_euclid(86_400)));
        }
    }

    #[test]
    fn fields_are_cut_and_control_characters_replaced() {
        assert_eq!(clean_field("a\nb\u{1b}[31m"), "a\u{FFFD}b\u{FFFD}[31m");
        let long = "é".repeat(1000);
        let cut = clean_field(&long);
        assert!(cut.len() <= MAX_FIELD + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        assert_eq!(cut_message("hello\nworld"), None);
        let long = "é".repeat(MAX_MESSAGE);
        let cut = cut_message(&long).unwrap();
        assert!(cut.len() <= MAX_MESSAGE && cut.len() > MAX_MESSAGE - 4);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(conversations_of(&conversation_chain("example.org")), Some("example.org"));
        assert_eq!(conversations_of("example.org"), None);
    }
}
