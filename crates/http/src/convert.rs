//! Conversions from store rows and core values to the wire types.

use std::time::{Duration, UNIX_EPOCH};

use deskward_core::class::Features;
use deskward_core::password::Policy;
use deskward_proto as proto;
use deskward_store::{AccountRow, BanRow, ClassRow, DomainRow, GroupRow};

/// Unix seconds as RFC 3339 UTC, as the API and the CLI show times.
pub fn time(unix: i64) -> String {
    let secs = u64::try_from(unix).unwrap_or(0);
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

pub fn domain(d: &DomainRow) -> proto::Domain {
    proto::Domain {
        name: d.name.clone(),
        disabled: d.disabled,
        created_at: time(d.created_at),
        accounts: d.accounts,
        audit_retention_days: d.audit_retention_days,
        im_logging: d.im_logging,
    }
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
        email: a.email.clone(),
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

pub fn audit_record(r: &deskward_core::audit::Record) -> proto::AuditRecord {
    proto::AuditRecord {
        chain: r.chain.clone(),
        seq: r.seq,
        time: deskward_core::audit::timestamp(r.at),
        at: r.at,
        security: r.security,
        action: r.action.clone(),
        actor: r.actor.clone(),
        source_ip: r.source_ip.clone(),
        source_host: r.source_host.clone(),
        target: r.target.clone(),
        // Stored summaries are JSON written by the server; a damaged one is shown as text.
        summary: serde_json::from_str(&r.summary).unwrap_or_else(|_| serde_json::Value::String(r.summary.clone())),
        acting: r.acting.clone(),
        prev_hash: r.prev_hash.clone(),
        hash: r.hash.clone(),
    }
}

/// Reads back an exported record. Fails when `time` was edited away from `at`.
pub fn audit_record_in(w: proto::AuditRecord) -> Result<deskward_core::audit::Record, String> {
    if w.time != deskward_core::audit::timestamp(w.at) {
        return Err(format!("record {}: its time {} does not match its at {} (edited)", w.seq, w.time, w.at));
    }
    Ok(deskward_core::audit::Record {
        chain: w.chain,
        seq: w.seq,
        at: w.at,
        security: w.security,
        action: w.action,
        actor: w.actor,
        source_ip: w.source_ip,
        source_host: w.source_host,
        target: w.target,
        // Summaries are JSON objects; a string is the text of a damaged one (see above).
        summary: match w.summary {
            serde_json::Value::String(s) => s,
            v => v.to_string(),
        },
        acting: w.acting,
        prev_hash: w.prev_hash,
        hash: w.hash,
    })
}

pub fn ban(b: &BanRow) -> proto::Ban {
    proto::Ban {
        network: b.network.clone(),
        until: time(b.until_at),
        offences: b.offences,
        reason: b.reason.clone(),
        created_at: time(b.created_at),
        created_by: b.created_by.clone(),
    }
}

/// A listed session; `current` is the token hash of the request's own session.
pub fn session(e: &deskward_app::SessionEntry, current: &str) -> proto::SessionInfo {
    let s = &e.session;
    proto::SessionInfo {
        id: s.id().to_owned(),
        login: e.login.clone(),
        created_at: time(s.created_at),
        last_seen_at: time(s.last_seen_at),
        idle_expires_at: time(s.idle_expires_at),
        expires_at: time(s.expires_at),
        source_ip: s.source_ip.clone(),
        source_host: e.host.clone(),
        user_agent: s.user_agent.clone(),
        remembered: s.remembered,
        current: s.token_hash == current,
        acting_admin: s.acting_admin.as_ref().map(|a| a.1.clone()),
    }
}

pub fn session_rules(overrides: &deskward_store::SessionRuleRow, e: &deskward_app::SessionRules) -> proto::DomainSessionRules {
    proto::DomainSessionRules {
        overrides: proto::SessionRuleOverrides {
            users_idle_seconds: overrides.users_idle,
            users_absolute_seconds: overrides.users_absolute,
            staff_idle_seconds: overrides.staff_idle,
            staff_absolute_seconds: overrides.staff_absolute,
            remember_me: overrides.remember_me,
        },
        effective: proto::EffectiveSessionRules {
            users_idle_seconds: e.users.idle,
            users_absolute_seconds: e.users.absolute,
            staff_idle_seconds: e.staff.idle,
            staff_absolute_seconds: e.staff.absolute,
            remember_me: e.remember_me,
            remember_me_seconds: e.remember_me_timeout,
        },
    }
}

pub fn session_rules_in(r: &proto::SessionRuleOverrides) -> deskward_store::SessionRuleRow {
    deskward_store::SessionRuleRow {
        users_idle: r.users_idle_seconds,
        users_absolute: r.users_absolute_seconds,
        staff_idle: r.staff_idle_seconds,
        staff_absolute: r.staff_absolute_seconds,
        remember_me: r.remember_me,
    }
}

pub fn notifications(rows: &[deskward_app::RoleNotifications]) -> Vec<proto::RoleNotifications> {
    rows.iter()
        .map(|r| proto::RoleNotifications { role: r.role.to_string(), login_success: r.login_success, login_failure: r.login_failure, own: r.own })
        .collect()
}

pub fn notifications_in(req: &proto::SetNotifications) -> Result<Vec<deskward_store::NotificationRow>, deskward_app::AppError> {
    req.roles
        .iter()
        .map(|r| {
            Ok(deskward_store::NotificationRow { role: r.role.parse()?, login_success: r.login_success, login_failure: r.login_failure })
        })
        .collect()
}

pub fn outbox_message(m: &deskward_store::OutboxRow) -> proto::OutboxMessage {
    proto::OutboxMessage {
        id: m.id,
        chain: m.chain.clone(),
        kind: m.kind.clone(),
        recipient: m.recipient.clone(),
        subject: m.subject.clone(),
        state: m.state.clone(),
        attempts: m.attempts,
        created_at: time(m.created_at),
        next_attempt_at: (m.state == "queued").then(|| time(m.next_attempt_at)),
        last_error: m.last_error.clone(),
        done_at: m.done_at.map(time),
    }
}

pub fn allow_list(a: &deskward_app::AllowList) -> proto::AllowList {
    proto::AllowList {
        networks: a.networks.clone(),
        admins_only: a.admins_only,
        trust_seconds: a.trust_seconds,
        effective_trust_seconds: a.effective_trust_seconds,
    }
}

pub fn directory(d: &deskward_app::Directory) -> proto::Directory {
    proto::Directory {
        url: d.url.clone(),
        security: d.security.as_str().into(),
        preset: d.preset.as_str().into(),
        bind_dn: d.bind_dn.clone(),
        bind_password_set: d.bind_password_set,
        base_dns: d.base_dns.clone(),
        user_filter: d.user_filter.clone(),
        login_attribute: d.login_attribute.clone(),
        mail_attribute: d.mail_attribute.clone(),
        name_attribute: d.name_attribute.clone(),
        group_attribute: d.group_attribute.clone(),
        group_map: d.group_map.iter().map(|(dn, g)| proto::GroupMapping { directory_group: dn.clone(), group: g.clone() }).collect(),
        new_account_class: d.new_account_class.clone(),
        ca_certificate: d.ca_certificate.clone(),
        timeout_ms: d.timeout.as_millis() as u64,
        updated_at: deskward_core::audit::timestamp(d.updated_at),
        last_sync_at: d.last_sync_at.map(deskward_core::audit::timestamp),
    }
}

pub fn directory_input(r: proto::SetDirectory) -> deskward_app::DirectoryInput {
    deskward_app::DirectoryInput {
        url: r.url,
        security: r.security,
        preset: r.preset,
        bind_dn: r.bind_dn,
        base_dns: r.base_dns,
        user_filter: r.user_filter,
        login_attribute: r.login_attribute,
        mail_attribute: r.mail_attribute,
        name_attribute: r.name_attribute,
        group_attribute: r.group_attribute,
        group_map: r.group_map.into_iter().map(|m| (m.directory_group, m.group)).collect(),
        new_account_class: r.new_account_class,
        ca_certificate: r.ca_certificate,
        timeout_ms: r.timeout_ms,
    }
}

pub fn directory_sync(r: &deskward_app::SyncReport) -> proto::DirectorySync {
    proto::DirectorySync { entries: r.entries, accounts: r.accounts, blocked: r.blocked.clone(), unblocked: r.unblocked.clone(), regrouped: r.regrouped.clone(), remailed: r.remailed.clone() }
}

pub fn directory_test(t: &deskward_app::DirectoryTest) -> proto::DirectoryTestResult {
    proto::DirectoryTestResult {
        connected: true,
        entry: t.entry.as_ref().map(|e| proto::DirectoryEntry { dn: e.dn.clone(), mail: e.mail.clone(), name: e.name.clone(), groups: e.groups.clone(), disabled: e.disabled }),
    }
}

pub fn secrets_state(s: &deskward_app::SecretsStatus) -> proto::SecretsState {
    proto::SecretsState {
        enabled: s.enabled,
        key_file: s.key_file.clone(),
        key_problem: s.key_problem.clone(),
        keys: s
            .keys
            .iter()
            .map(|k| proto::SecretKeyInfo { key_id: k.key_id.clone(), active: k.retired_at.is_none(), created_at: time(k.created_at), retired_at: k.retired_at.map(time) })
            .collect(),
        secrets: s
            .secrets
            .iter()
            .map(|x| proto::StoredSecret {
                owner: x.owner.clone(),
                field: x.field.clone(),
                sealed_with: x.sealed_with.clone(),
                updated_at: time(x.updated_at),
                problem: x.problem.clone(),
            })
            .collect(),
    }
}

pub fn auth_order(o: &deskward_app::AuthOrder) -> proto::AuthOrder {
    proto::AuthOrder {
        domain: o.domain.clone(),
        backends: o.backends.iter().map(ToString::to_string).collect(),
        default: o.default,
        plugins: o.plugins.clone(),
    }
}

pub fn rights(r: deskward_core::acl::Rights) -> Vec<String> {
    r.names().into_iter().map(str::to_owned).collect()
}

pub fn item(row: &deskward_store::ItemRow, r: deskward_core::acl::Rights) -> proto::documents::Item {
    proto::documents::Item {
        id: row.id,
        kind: row.kind.as_str().to_owned(),
        name: row.name.clone(),
        parent: row.parent_id,
        owner: row.owner.clone(),
        size: row.size,
        inherit: row.inherit,
        has_link: row.has_link,
        has_password: row.has_password,
        rights: rights(r),
        created_at: time(row.created_at),
        updated_at: time(row.updated_at),
    }
}

pub fn item_detail(d: &deskward_app::ItemDetail) -> proto::documents::ItemDetail {
    use proto::documents::{PathEntry, Version};
    proto::documents::ItemDetail {
        item: item(&d.item, d.rights),
        path: d.path.iter().map(|(id, name)| PathEntry { id: *id, name: name.clone() }).collect(),
        children: d.children.iter().map(|c| item(&c.item, c.rights)).collect(),
        versions: d
            .versions
            .iter()
            .map(|v| Version { number: v.number, size: v.size, sha256: v.sha256.clone(), author: v.author.clone(), created_at: time(v.created_at) })
            .collect(),
    }
}

pub fn acl(a: &deskward_app::AclView) -> proto::documents::Acl {
    proto::documents::Acl {
        inherit: a.inherit,
        grants: a.grants.iter().map(|g| proto::documents::Grant { to: g.to.clone(), rights: rights(g.rights) }).collect(),
        has_link: a.has_link,
        has_password: a.has_password,
        version: a.version.clone(),
    }
}

pub fn explanation(e: &deskward_app::Explanation) -> proto::documents::Explanation {
    proto::documents::Explanation {
        account: e.account.clone(),
        rights: rights(e.rights),
        reasons: e
            .reasons
            .iter()
            .map(|r| proto::documents::Reason {
                source: r.source.to_owned(),
                item: r.item.as_ref().map(|(id, name)| proto::documents::PathEntry { id: *id, name: name.clone() }),
                principal: r.principal.clone(),
                rights: rights(r.rights),
                inherited: r.inherited,
            })
            .collect(),
        stopped_at: e.stopped_at,
    }
}

pub fn usage(u: &deskward_app::UsageView) -> proto::documents::Usage {
    proto::documents::Usage { bytes: u.bytes, documents: u.documents, quota_bytes: u.quota_bytes, quota_documents: u.quota_documents }
}
