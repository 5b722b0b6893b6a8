//! Per-domain password policy. Each domain has one policy for users and one for staff
//! (agents and admins); a refused password is answered with every rule it broke.

use super::blocklist;
use crate::Role;

/// Longest password accepted, so hashing cost cannot be driven by input size.
pub const MAX_LENGTH: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    Users,
    Staff,
}

impl Audience {
    pub fn of(role: Role) -> Audience {
        if role.is_staff() { Audience::Staff } else { Audience::Users }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Users => "users",
            Audience::Staff => "staff",
        }
    }

    pub fn parse(s: &str) -> Option<Audience> {
        match s {
            "users" => Some(Audience::Users),
            "staff" => Some(Audience::Staff),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub min_length: u32,
    pub min_non_letters: u32,
    pub require_lowercase: bool,
    pub require_uppercase: bool,
    pub require_digit: bool,
    pub require_symbol: bool,
    pub reject_common: bool,
    pub max_age_days: Option<u32>,
    pub history: u32,
}

impl Policy {
    /// Defaults follow NIST SP 800-63B: length and a blocklist over composition rules;
    /// staff accounts get a longer minimum and no reuse of their last five passwords.
    pub fn default_for(audience: Audience) -> Policy {
        match audience {
            Audience::Users => Policy {
                min_length: 10,
                min_non_letters: 0,
                require_lowercase: false,
                require_uppercase: false,
                require_digit: false,
                require_symbol: false,
                reject_common: true,
                max_age_days: None,
                history: 0,
            },
            Audience::Staff => Policy {
                min_length: 12,
                min_non_letters: 1,
                history: 5,
                ..Policy::default_for(Audience::Users)
            },
        }
    }

    /// Checks the rules that need only the password itself; reuse is checked by the caller
    /// against stored hashes.
    pub fn check(&self, password: &str, account_name: &str) -> Vec<Violation> {
        let mut broken = Vec::new();
        let length = password.chars().count();
        if length < self.min_length as usize {
            broken.push(Violation::TooShort { min: self.min_length });
        }
        if length > MAX_LENGTH {
            broken.push(Violation::TooLong { max: MAX_LENGTH });
        }
        let non_letters = password.chars().filter(|c| !c.is_alphabetic()).count();
        if non_letters < self.min_non_letters as usize {
            broken.push(Violation::TooFewNonLetters { min: self.min_non_letters });
        }
        let classes = [
            (self.require_lowercase, Violation::NoLowercase, char::is_lowercase as fn(char) -> bool),
            (self.require_uppercase, Violation::NoUppercase, char::is_uppercase),
            (self.require_digit, Violation::NoDigit, char::is_numeric),
            (self.require_symbol, Violation::NoSymbol, |c: char| !c.is_alphanumeric()),
        ];
        for (required, violation, test) in classes {
            if required && !password.chars().any(test) {
                broken.push(violation);
            }
        }
        if self.reject_common && blocklist::contains(password) {
            broken.push(Violation::Common);
        }
        if account_name.len() >= 3 && password.to_lowercase().contains(account_name) {
            broken.push(Violation::ContainsName);
        }
        broken
    }

    /// True when a password set at `changed_at` has outlived `max_age_days` at `now`.
    pub fn is_expired(&self, changed_at: i64, now: i64) -> bool {
        self.max_age_days
            .is_some_and(|days| now.saturating_sub(changed_at) >= i64::from(days) * 86_400)
    }
}

/// A rule a password broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    TooShort { min: u32 },
    TooLong { max: usize },
    TooFewNonLetters { min: u32 },
    NoLowercase,
    NoUppercase,
    NoDigit,
    NoSymbol,
    Common,
    ContainsName,
    Reused { history: u32 },
}

impl Violation {
    /// Stable rule name, as used in the API and the policy settings.
    pub fn rule(self) -> &'static str {
        match self {
            Violation::TooShort { .. } => "min_length",
            Violation::TooLong { .. } => "max_length",
            Violation::TooFewNonLetters { .. } => "min_non_letters",
            Violation::NoLowercase => "require_lowercase",
            Violation::NoUppercase => "require_uppercase",
            Violation::NoDigit => "require_digit",
            Violation::NoSymbol => "require_symbol",
            Violation::Common => "reject_common",
            Violation::ContainsName => "contains_name",
            Violation::Reused { .. } => "history",
        }
    }

    pub fn message(self) -> String {
        match self {
            Violation::TooShort { min } => format!("must be at least {min} characters long"),
            Violation::TooLong { max } => format!("must be at most {max} characters long"),
            Violation::TooFewNonLetters { min } => {
                format!("must contain at least {min} characters that are not letters")
            }
            Violation::NoLowercase => "must contain a lowercase letter".into(),
            Violation::NoUppercase => "must contain an uppercase letter".into(),
            Violation::NoDigit => "must contain a digit".into(),
            Violation::NoSymbol => "must contain a symbol".into(),
            Violation::Common => "is on the list of common or breached passwords".into(),
            Violation::ContainsName => "must not contain the account name".into(),
            Violation::Reused { history } => {
                format!("must differ from the last {history} passwords of this account")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strict() -> Policy {
        Policy {
            min_length: 8,
            min_non_letters: 2,
            require_lowercase: true,
            require_uppercase: true,
            require_digit: true,
            require_symbol: true,
            reject_common: true,
            max_age_days: Some(90),
            history: 3,
        }
    }

    fn rules(p: &Policy, pw: &str) -> Vec<&'static str> {
        p.check(pw, "alice").into_iter().map(Violation::rule).collect()
    }

    #[test]
    fn each_rule_is_named_when_broken() {
        let p = strict();
        assert_eq!(rules(&p, "Xy7!kq#Lm"), Vec::<&str>::new());
        assert_eq!(rules(&p, "Xy7!k"), ["min_length"]);
        assert_eq!(rules(&p, "Xyabc!kqLm"), ["min_non_letters", "require_digit"]);
        assert_eq!(rules(&p, "xy7!kq#lm"), ["require_uppercase"]);
        assert_eq!(rules(&p, "XY7!KQ#LM"), ["require_lowercase"]);
        assert_eq!(rules(&p, "Xy7kq9Lmn"), ["require_symbol"]);
        assert_eq!(rules(&p, "Alice!7#xyz"), ["contains_name"]);
        assert_eq!(rules(&Policy::default_for(Audience::Users), "PassWord123"), ["reject_common"]);
        assert_eq!(rules(&p, &"aB1!".repeat(300)), ["max_length"]);
    }

    #[test]
    fn expiry_counts_whole_days() {
        let p = strict();
        assert!(!p.is_expired(0, 90 * 86_400 - 1));
        assert!(p.is_expired(0, 90 * 86_400));
        assert!(!Policy::default_for(Audience::Users).is_expired(0, i64::MAX));
    }

    #[test]
    fn staff_policy_is_at_least_as_strict_as_users() {
        let (u, s) = (Policy::default_for(Audience::Users), Policy::default_for(Audience::Staff));
        assert!(s.min_length >= u.min_length && s.history >= u.history);
        assert_eq!(Audience::of(Role::Agent), Audience::Staff);
        assert_eq!(Audience::of(Role::User), Audience::Users);
    }

    proptest! {
        // Reference model: the length rule alone decides for a policy with only a minimum length.
        #[test]
        fn length_rule_matches_reference(pw in "\\PC{0,40}", min in 0u32..30) {
            let p = Policy { min_length: min, reject_common: false, ..Policy::default_for(Audience::Users) };
            let short = (pw.chars().count() as u32) < min;
            prop_assert_eq!(p.check(&pw, "zz").contains(&Violation::TooShort { min }), short);
        }

        #[test]
        fn passing_passwords_satisfy_every_class(pw in "\\PC{0,40}") {
            let p = Policy { reject_common: false, ..strict() };
            if p.check(&pw, "zz").is_empty() {
                prop_assert!(pw.chars().any(char::is_lowercase) && pw.chars().any(char::is_uppercase));
                prop_assert!(pw.chars().any(char::is_numeric) && pw.chars().any(|c| !c.is_alphanumeric()));
                prop_assert!(pw.chars().filter(|c| !c.is_alphabetic()).count() >= 2);
            }
        }
    }
}
