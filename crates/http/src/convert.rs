//! Conversions from store rows and core values to the wire types.

use std::time::{Duration, UNIX_EPOCH};

use deskward_core::class::Features;
use deskward_core::password::Policy;
use deskward_proto as proto;
use deskward_store::{AccountRow, ClassRow, DomainRow, GroupRow};

/// Unix seconds as RFC 3339 UTC, as the API and the CLI show times.
pub fn time(unix: i64) -> String {
    let secs = u64::try_from(unix).unwrap_or(0);
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

pub fn domain(d: &DomainRow) -> proto::Domain {
    proto::Domain { name: d.name.clone(), disabled: d.disabled, created_at: time(d.created_at), accounts: d.accounts }
}

pub fn account(a: &AccountRow, groups: Vec<String>) -> proto::Account {
    proto::Account {
        login: a.login(),
        role: a.role.to_string(),
        class: a.class.clone(),
        disabled: a.disabled,
        must_change_password: a.must_change_password,
        groups,
        created_at: time(a.created_at),
        password_changed_at: a.password_changed_at.map(time),
        last_login_at: a.last_login_at.map(time),
    }
}

pub fn group(g: &GroupRow) -> proto::Group {
    proto::Group { name: g.name.clone(), members: g.members.clone() }
}

pub fn features_out(f: Features) -> proto::Features {
    proto::Features { web: f.web, mail: f.mail, im: f.im, documents: f.documents, helpdesk: f.helpdesk }
}

pub fn features_in(f: &proto::Features) -> Features {
    Features { web: f.web, mail: f.mail, im: f.im, documents: f.documents, helpdesk: f.helpdesk }
}

pub fn class(c: &ClassRow) -> proto::UserClass {
    proto::UserClass {
        name: c.name.clone(),
        features: features_out(c.features),
        quota_storage_bytes: c.quota_storage_bytes,
        quota_documents: c.quota_documents,
    }
}

pub fn policy_out(p: &Policy) -> proto::PasswordPolicy {
    proto::PasswordPolicy {
        min_length: p.min_length,
        min_non_letters: p.min_non_letters,
        require_lowercase: p.require_lowercase,
        require_uppercase: p.require_uppercase,
        require_digit: p.require_digit,
        require_symbol: p.require_symbol,
        reject_common: p.reject_common,
        max_age_days: p.max_age_days,
        history: p.history,
    }
}

pub fn policy_in(p: &proto::PasswordPolicy) -> Policy {
    Policy {
        min_length: p.min_length,
        min_non_letters: p.min_non_letters,
        require_lowercase: p.require_lowercase,
        require_uppercase: p.require_uppercase,
        require_digit: p.require_digit,
        require_symbol: p.require_symbol,
        reject_common: p.reject_common,
        max_age_days: p.max_age_days,
        history: p.history,
    }
}
