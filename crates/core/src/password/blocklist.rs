//! The shipped list of common and breached passwords (see `data/README.md` for its sources).
//! The list is sorted and lowercased at build time, so a lookup is a binary search over the
//! embedded bytes: no start-up cost and no heap.

static LIST: &str = include_str!("../../data/common-passwords.txt");

/// Number of entries in the shipped list.
pub fn len() -> usize {
    LIST.lines().count()
}

/// True when `password`, compared case-insensitively, is on the list.
pub fn contains(password: &str) -> bool {
    let needle = password.to_lowercase();
    let bytes = LIST.as_bytes();
    let (mut lo, mut hi) = (0usize, bytes.len());
    // Invariant: every line starting before `lo` is < needle; every line starting at or after `hi` is > needle.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = bytes[..mid].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let end = bytes[start..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |p| start + p);
        match bytes[start..end].cmp(needle.as_bytes()) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = end + 1,
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_large_sorted_and_lowercase() {
        assert!(len() >= 100_000, "only {} entries", len());
        let lines: Vec<&str> = LIST.lines().collect();
        for pair in lines.windows(2) {
            assert!(pair[0].as_bytes() < pair[1].as_bytes(), "not sorted/unique at {pair:?}");
        }
        assert!(lines.iter().all(|l| l.to_lowercase() == *l && !l.is_empty()));
    }

    #[test]
    fn every_entry_is_found_in_any_case_and_others_are_not() {
        for line in LIST.lines() {
            assert!(contains(line), "{line:?}");
        }
        assert!(contains("PASSWORD") && contains("Password") && contains("123456"));
        assert!(!contains("correct-horse-battery-staple-7Q!x"));
        assert!(!contains(""));
    }
}
