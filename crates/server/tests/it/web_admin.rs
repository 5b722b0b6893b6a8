//! The administration pages of a domain's accounts and groups: over HTTPS as a browser posts
//! their forms, then in headless Chromium under the real Content-Security-Policy.

use deskward_testkit::{Backend, Browser, browser_available};
use reqwest::StatusCode;
use serde_json::json;

use crate::audit::{events, records};
use crate::support::*;

const PW: &str = "Desk-pass-admin-77";
const NEW_PW: &str = "Fresh-pass-user-88";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_admins_manage_their_accounts_on_the_accounts_page() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    server.cli_ok(&["domain", "add", "other.test"], None);
    add_account(&server, &admin, "example.org", "dora", "domain-admin", PW).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    add_account(&server, &admin, "other.test", "olga", "user", PW).await;
    let accounts = "/admin/domains/example.org/accounts";

    // Dora sees her domain's accounts, may give every role but system-admin, and has no
    // remove button for herself.
    let dora = logged_in(&server, "dora@example.org", PW).await;
    let (s, text) = page(&server, &dora, accounts).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(text.contains("ursula@example.org") && text.contains("admin@example.org") && !text.contains("olga"), "{text}");
    assert!(text.contains("<option value=\"domain-admin\"") && !text.contains("<option value=\"system-admin\">"), "{text}");
    assert!(text.contains("/accounts/ursula/remove") && !text.contains("/accounts/dora/remove"), "{text}");
    let csrf = csrf_of(&text);

    // Another domain's page is refused, and recorded.
    let (s, text) = page(&server, &dora, "/admin/domains/other.test/accounts").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{text}");
    assert!(!text.contains("olga"), "{text}");
    events(&server, &admin, "domain=example.org&action=access.denied", 1).await;
    let (s, _, _) = post_form(&server, &dora, "/admin/domains/other.test/accounts", &[("csrf", &csrf), ("name", "mallory"), ("role", "user"), ("password", NEW_PW)]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = call(&admin, "GET", server.url("/api/v1/domains/other.test/accounts/mallory"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

    // A forged form, a password the policy refuses and a role she may not give create nothing.
    let (s, _, _) = post_form(&server, &dora, accounts, &[("csrf", "forged"), ("name", "carl"), ("role", "user"), ("password", NEW_PW)]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    events(&server, &admin, "domain=example.org&action=request.csrf", 1).await;
    let (s, _, text) = post_form(&server, &dora, accounts, &[("csrf", &csrf), ("name", "carl"), ("role", "user"), ("password", "short")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("id=\"error\""), "{text}");
    let (s, _, _) = post_form(&server, &dora, accounts, &[("csrf", &csrf), ("name", "carl"), ("role", "system-admin"), ("password", NEW_PW)]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/carl"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Created, with a password carl must change at first login.
    let form = [("csrf", csrf.as_str()), ("name", "Carl"), ("role", "agent"), ("class", ""), ("password", NEW_PW), ("must_change_password", "on"), ("email", "")];
    let (s, path, text) = post_form(&server, &dora, accounts, &form).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, accounts), "{text}");
    assert!(text.contains("The account carl@example.org is created."), "{text}");
    let (s, v) = call(&server.client(), "POST", server.url("/api/v1/session"), Some(json!({"login": "carl@example.org", "password": NEW_PW}))).await;
    assert_eq!((s, &v["role"], &v["password_change_required"]), (StatusCode::CREATED, &json!("agent"), &json!(true)), "{v}");
    let made: Vec<_> = records(&server, &admin, "domain=example.org&action=account.create").await.into_iter().filter(|r| r["target"] == json!("account:carl@example.org")).collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0]["actor"], json!("dora@example.org"), "{made:?}");
    assert!(!made[0].to_string().contains(NEW_PW), "no password in the record");

    // Disabled: ursula's sessions end and her logins are refused. Saving the same values again
    // records nothing.
    let ursula = logged_in(&server, "ursula@example.org", PW).await;
    for _ in 0..2 {
        let (s, path, text) = post_form(&server, &dora, &format!("{accounts}/ursula"), &[("csrf", &csrf), ("role", "user"), ("disabled", "on")]).await;
        assert_eq!((s, path.as_str()), (StatusCode::OK, accounts), "{text}");
        assert!(text.contains("The account ursula@example.org is saved."), "{text}");
    }
    assert_eq!(records(&server, &admin, "domain=example.org&action=account.update").await.len(), 1);
    let (s, _) = call(&ursula, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_ne!(login(&server, &server.client(), "ursula@example.org", PW).await.status(), StatusCode::CREATED);

    // Enabled again, with a new password set by dora: only the new one works.
    let (s, _, _) = post_form(&server, &dora, &format!("{accounts}/ursula"), &[("csrf", &csrf), ("role", "user")]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, text) = post_form(&server, &dora, &format!("{accounts}/ursula/password"), &[("csrf", &csrf), ("password", NEW_PW)]).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(text.contains("The password of ursula@example.org is set"), "{text}");
    assert_ne!(login(&server, &server.client(), "ursula@example.org", PW).await.status(), StatusCode::CREATED);
    assert_eq!(login(&server, &server.client(), "ursula@example.org", NEW_PW).await.status(), StatusCode::CREATED);

    // Removing asks for the box to be ticked; dora cannot remove herself.
    let (s, _, text) = post_form(&server, &dora, &format!("{accounts}/carl/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("tick the box") || text.contains("Tick the box"), "{text}");
    let (s, _, _) = post_form(&server, &dora, &format!("{accounts}/dora/remove"), &[("csrf", &csrf), ("confirm", "on")]).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, path, text) = post_form(&server, &dora, &format!("{accounts}/carl/remove"), &[("csrf", &csrf), ("confirm", "on")]).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, accounts), "{text}");
    assert!(text.contains("The account carl@example.org is removed.") && !text.contains("carl@example.org</td>"), "{text}");
    let (s, _) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/carl"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A name written differently in the path (spaces, capitals) is the same account, and the
    // answer names it plainly; a hostile one is refused and shown escaped.
    let (s, path, _) = post_form(&server, &dora, &format!("{accounts}/%20URSULA%0D%0A"), &[("csrf", &csrf), ("role", "agent")]).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, accounts));
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/ursula"), None).await;
    assert_eq!(v["role"], json!("agent"), "{v}");
    let (s, text) = page(&server, &dora, "/admin/domains/%3Cscript%3Ex/accounts").await;
    assert!(s.is_client_error(), "{s}");
    assert!(!text.contains("<script>x"), "{text}");
    // A notice naming an account that is not there is not shown.
    let (_, text) = page(&server, &dora, &format!("{accounts}?done=created&name=%3Cb%3Enobody")).await;
    assert!(!text.contains("id=\"notice\"") && !text.contains("<b>nobody"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_manage_groups_and_members_on_the_groups_page() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    server.cli_ok(&["domain", "add", "other.test"], None);
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    add_account(&server, &admin, "other.test", "olga", "user", PW).await;
    let groups = "/admin/domains/example.org/groups";
    let (s, text) = page(&server, &admin, groups).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let csrf = csrf_of(&text);

    let (s, path, text) = post_form(&server, &admin, groups, &[("csrf", &csrf), ("name", "Staff")]).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, groups), "{text}");
    assert!(text.contains("The group staff is created."), "{text}");
    let (s, _, text) = post_form(&server, &admin, groups, &[("csrf", &csrf), ("name", "bad name!")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{text}");

    // Members by name or by login of this domain; another domain's account or an unknown one
    // is refused with the reason.
    let members = format!("{groups}/staff/members");
    for account in ["ursula", "admin@example.org"] {
        let (s, _, text) = post_form(&server, &admin, &members, &[("csrf", &csrf), ("account", account)]).await;
        assert_eq!(s, StatusCode::OK, "{text}");
        assert!(text.contains("The members of staff are saved."), "{text}");
    }
    let (s, _, text) = post_form(&server, &admin, &members, &[("csrf", &csrf), ("account", "olga@other.test")]).await;
    assert!(s.is_client_error(), "{s} {text}");
    let (s, _, _) = post_form(&server, &admin, &members, &[("csrf", &csrf), ("account", "nobody")]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/groups"), None).await;
    assert_eq!(v[0]["members"], json!(["admin", "ursula"]), "{v}");
    let (s, _, _) = post_form(&server, &admin, &format!("{members}/remove"), &[("csrf", &csrf), ("account", "admin")]).await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/groups"), None).await;
    assert_eq!(v[0]["members"], json!(["ursula"]), "{v}");
    assert_eq!(records(&server, &admin, "domain=example.org&action=group.member_add").await.len(), 2);
    assert_eq!(records(&server, &admin, "domain=example.org&action=group.member_remove").await.len(), 1);

    // A user may not open the page; a forged form changes nothing.
    let ursula = logged_in(&server, "ursula@example.org", PW).await;
    let (s, _) = page(&server, &ursula, groups).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = post_form(&server, &admin, &format!("{groups}/staff/remove"), &[("csrf", "forged"), ("confirm", "on")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Removing asks for the box to be ticked.
    let (s, _, _) = post_form(&server, &admin, &format!("{groups}/staff/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, text) = post_form(&server, &admin, &format!("{groups}/staff/remove"), &[("csrf", &csrf), ("confirm", "on")]).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(text.contains("The group staff is removed."), "{text}");
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/groups"), None).await;
    assert_eq!(v, json!([]));

    if !browser_available("the accounts and groups pages in Chromium") {
        return;
    }
    let b = Browser::start().await.expect("chromium starts");
    log_in_on_page(&b, &server, ADMIN, ADMIN_PW).await;
    b.click("#admin-accounts").await.unwrap();
    b.wait_for_path("/admin/domains/example.org/accounts").await.unwrap();
    b.fill("#create-account input[name=name]", "pia").await.unwrap();
    b.fill("#create-account input[name=password]", NEW_PW).await.unwrap();
    b.click("#create-account button").await.unwrap();
    b.wait_for_text("#notice", "pia@example.org is created").await.unwrap();
    b.click("#groups-link").await.unwrap();
    b.wait_for_path(groups).await.unwrap();
    b.fill("#create-group input[name=name]", "helpers").await.unwrap();
    b.click("#create-group button").await.unwrap();
    b.wait_for_text("#notice", "helpers is created").await.unwrap();
    b.fill("form[action='/admin/domains/example.org/groups/helpers/members'] input[name=account]", "pia").await.unwrap();
    b.click("form[action='/admin/domains/example.org/groups/helpers/members'] button").await.unwrap();
    b.wait_for_text("#notice", "members of helpers are saved").await.unwrap();
    // The other administration pages: a class, a password policy and a session rule saved by
    // their forms, under the same Content-Security-Policy.
    b.goto(&server.url("/admin/domains/example.org/classes")).await.unwrap();
    b.fill("#create-class input[name=name]", "staffers").await.unwrap();
    b.click("#create-class button").await.unwrap();
    b.wait_for_text("#notice", "staffers is created").await.unwrap();
    b.goto(&server.url("/admin/domains/example.org/policies")).await.unwrap();
    b.fill("#policy-users input[name=min_length]", "11").await.unwrap();
    b.click("#policy-users button").await.unwrap();
    b.wait_for_text("#notice", "policy for users is saved").await.unwrap();
    b.goto(&server.url("/admin/domains/example.org/sign-in")).await.unwrap();
    b.fill("#sessions input[name=users_idle]", "45").await.unwrap();
    b.click("#sessions button").await.unwrap();
    b.wait_for_text("#notice", "session rules are saved").await.unwrap();
    b.goto(&server.url("/admin/domains")).await.unwrap();
    b.fill("#create-domain input[name=name]", "browser.test").await.unwrap();
    b.click("#create-domain button").await.unwrap();
    b.wait_for_text("#notice", "browser.test is created").await.unwrap();
    // Login mails, reached from the sign-in page, and the bans.
    b.goto(&server.url("/admin/domains/example.org/sign-in")).await.unwrap();
    b.click("#login-mails").await.unwrap();
    b.wait_for_path("/admin/domains/example.org/notifications").await.unwrap();
    b.click("#notifications button").await.unwrap();
    b.wait_for_text("#notice", "login mails are saved").await.unwrap();
    b.goto(&server.url("/admin/bans")).await.unwrap();
    b.fill("#ban input[name=network]", "203.0.113.0/24").await.unwrap();
    b.fill("#ban input[name=hours]", "1").await.unwrap();
    b.click("#ban-submit").await.unwrap();
    b.wait_for_text("#notice", "203.0.113.0/24 is banned").await.unwrap();
    b.click("#bans button").await.unwrap();
    b.wait_for_text("#notice", "ban of 203.0.113.0/24 is lifted").await.unwrap();
    assert_no_csp_violations(&b).await;
    b.quit().await;
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/policies/users"), None).await;
    assert_eq!(v["min_length"], json!(11), "{v}");
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/groups"), None).await;
    assert_eq!(v[0]["members"], json!(["pia"]), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_admins_create_disable_and_remove_domains_on_the_domains_page() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "dora", "domain-admin", PW).await;
    let (_, text) = page(&server, &admin, "/admin/domains").await;
    let csrf = csrf_of(&text);

    // A domain admin may not create one.
    let dora = logged_in(&server, "dora@example.org", PW).await;
    let (_, text) = page(&server, &dora, "/account").await;
    let (s, _, _) = post_form(&server, &dora, "/admin/domains", &[("csrf", &csrf_of(&text)), ("name", "dora.test")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    events(&server, &admin, "domain=example.org&action=access.denied", 1).await;

    // A bad name is refused and shown escaped; a good one is created.
    let (s, _, text) = post_form(&server, &admin, "/admin/domains", &[("csrf", &csrf), ("name", "<b>bad</b>")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("id=\"error\"") && !text.contains("<b>bad"), "{text}");
    let (s, path, text) = post_form(&server, &admin, "/admin/domains", &[("csrf", &csrf), ("name", "New.Test")]).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, "/admin/domains"), "{text}");
    assert!(text.contains("The domain new.test is created."), "{text}");
    add_account(&server, &admin, "new.test", "nia", "user", PW).await;

    // Disabled: its accounts cannot log in; enabled again, they can.
    let (s, _, text) = post_form(&server, &admin, "/admin/domains/new.test/status", &[("csrf", &csrf), ("disabled", "on")]).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(text.contains("The domain new.test is disabled"), "{text}");
    assert_ne!(login(&server, &server.client(), "nia@new.test", PW).await.status(), StatusCode::CREATED);
    let (s, _, text) = post_form(&server, &admin, "/admin/domains/new.test/status", &[("csrf", &csrf), ("disabled", "off")]).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert_eq!(login(&server, &server.client(), "nia@new.test", PW).await.status(), StatusCode::CREATED);
    // The administrator's own domain cannot be disabled or removed from under them.
    let (s, _, _) = post_form(&server, &admin, "/admin/domains/example.org/status", &[("csrf", &csrf), ("disabled", "on")]).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Removing asks for the box to be ticked; then the domain and its accounts are gone.
    let (s, _, _) = post_form(&server, &admin, "/admin/domains/new.test/remove", &[("csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = post_form(&server, &admin, "/admin/domains/example.org/remove", &[("csrf", &csrf), ("confirm", "on")]).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, path, text) = post_form(&server, &admin, "/admin/domains/new.test/remove", &[("csrf", &csrf), ("confirm", "on")]).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, "/admin/domains"), "{text}");
    assert!(text.contains("The domain new.test is removed.") && !text.contains("id=\"domain-new.test\""), "{text}");
    let (s, _) = call(&admin, "GET", server.url("/api/v1/domains/new.test"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let actions: Vec<String> = records(&server, &admin, "domain=new.test").await.iter().map(|r| r["action"].as_str().unwrap_or_default().to_owned()).collect();
    for action in ["domain.create", "domain.disable", "domain.enable", "domain.remove"] {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }
}

/// Every form of every page refuses a post whose CSRF token is not the session's (or, before
/// login, the cookie's), whatever else the post holds, so no page added later can forget it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_form_refuses_a_forged_token() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    let (s, _) = call(&admin, "POST", server.url("/api/v1/domains/example.org/groups"), Some(json!({"name": "staff"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, folder) = call(&admin, "POST", server.url("/api/v1/items/folders"), Some(json!({"name": "forms", "parent": null}))).await;
    assert_eq!(s, StatusCode::CREATED, "{folder}");
    let id = folder["id"].to_string();
    let (mut checked, mut wrong) = (0, Vec::new());
    for (method, route) in deskward_http::PAGES {
        if *method != "POST" {
            continue;
        }
        let path = route
            .replace("{domain}", "example.org")
            .replace("{name}", "ursula")
            .replace("{group}", "staff")
            .replace("{who}", "users")
            .replace("{id}", &id)
            .replace("{token}", &"a".repeat(43));
        let request = admin.post(server.url(&path));
        let request = if ["/upload", "/version"].iter().any(|m| path.ends_with(m)) {
            let boundary = "forged-boundary";
            let body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nforged\r\n--{boundary}--\r\n");
            request.header("content-type", format!("multipart/form-data; boundary={boundary}")).body(body)
        } else {
            // Every field any page's form has, so each reaches its token check.
            let fields = [
                "name", "login", "password", "current_password", "new_password", "reason", "role", "account", "url", "security", "preset", "bind_dn",
                "base_dns", "user_filter", "keep_groups", "class", "ca_certificate", "timeout_ms", "backends", "parent", "to", "inherit",
            ];
            let mut form: Vec<(&str, &str)> = fields.iter().map(|f| (*f, "x")).collect();
            form.extend([("csrf", "forged"), ("confirm", "on"), ("disabled", "on")]);
            request.form(&form)
        };
        let status = request.send().await.unwrap().status();
        if status != StatusCode::FORBIDDEN {
            wrong.push(format!("POST {route}: {status}"));
        }
        checked += 1;
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(checked > 40, "{checked} forms checked");
    // Each is a security event, up to the per-source budget (past it they are counted, and
    // one `events.suppressed` record says how many when the window ends).
    let recorded = events(&server, &admin, "action=request.csrf", 20).await;
    let mut targets: Vec<String> = recorded.iter().map(|r| r["target"].as_str().unwrap_or_default().to_owned()).collect();
    targets.sort();
    targets.dedup();
    assert!(targets.len() >= 20 && targets.iter().all(|t| t.starts_with("POST /")), "{targets:#?}");
    let (s, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/ursula"), None).await;
    assert_eq!((s, &v["disabled"]), (StatusCode::OK, &json!(false)), "nothing changed: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_admins_set_password_policies_on_the_policies_page() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    server.cli_ok(&["domain", "add", "other.test"], None);
    add_account(&server, &admin, "example.org", "dora", "domain-admin", PW).await;
    let policies = "/admin/domains/example.org/policies";
    let dora = logged_in(&server, "dora@example.org", PW).await;
    let (s, text) = page(&server, &dora, policies).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(text.contains("id=\"policy-users\"") && text.contains("id=\"policy-staff\""), "{text}");
    let csrf = csrf_of(&text);
    let (s, _) = page(&server, &dora, "/admin/domains/other.test/policies").await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Malformed or out-of-range numbers are refused with the reason, and nothing is saved.
    let users = format!("{policies}/users");
    let form = |min: &'static str| vec![("csrf", csrf.clone()), ("min_length", min.to_owned()), ("min_non_letters", "1".into()), ("require_digit", "on".into()), ("reject_common", "on".into()), ("max_age_days", "".into()), ("history", "3".into())];
    let post = |form: Vec<(&'static str, String)>| {
        let (server, dora, users) = (&server, &dora, users.clone());
        async move { let r = dora.post(server.url(&users)).form(&form).send().await.unwrap(); (r.status(), r.text().await.unwrap()) }
    };
    let (s, text) = post(form("ten")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("minimum length must be a whole number"), "{text}");
    let (s, text) = post(form("5000")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{text}");

    // Saved once; saving the same values again records nothing.
    for _ in 0..2 {
        let (s, text) = post(form("14")).await;
        assert_eq!(s, StatusCode::OK, "{text}");
        assert!(text.contains("The password policy for users is saved."), "{text}");
    }
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/policies/users"), None).await;
    assert_eq!((&v["min_length"], &v["min_non_letters"], &v["require_digit"], &v["history"], &v["max_age_days"]), (&json!(14), &json!(1), &json!(true), &json!(3), &serde_json::Value::Null), "{v}");
    assert_eq!(records(&server, &admin, "domain=example.org&action=policy.set").await.len(), 1);

    // The policy applies: a user's 12-character password is refused, naming the rule.
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/accounts"), Some(json!({"name": "uma", "role": "user", "password": "Twelve-chars"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v.to_string().contains("14"), "{v}");
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/accounts"), Some(json!({"name": "uma", "role": "user", "password": "Fourteen-char-9"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // The staff policy is untouched.
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/policies/staff"), None).await;
    assert_eq!(v["min_length"], json!(12), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_manage_user_classes_and_give_them_to_accounts_on_the_pages() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    let classes = "/admin/domains/example.org/classes";
    let (s, text) = page(&server, &admin, classes).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let csrf = csrf_of(&text);

    // Bad quotas are refused with the reason.
    for (storage, documents) in [("-1", ""), ("", "many"), ("99999999999999", "")] {
        let (s, _, text) = post_form(&server, &admin, classes, &[("csrf", &csrf), ("name", "basic"), ("web", "on"), ("storage_mib", storage), ("quota_documents", documents)]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{storage} {documents}: {text}");
    }
    // Created: the web and documents only, 5 MiB and 10 documents.
    let form = [("csrf", csrf.as_str()), ("name", "Basic"), ("web", "on"), ("documents", "on"), ("storage_mib", "5"), ("quota_documents", "10")];
    let (s, path, text) = post_form(&server, &admin, classes, &form).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, classes), "{text}");
    assert!(text.contains("The class basic is created."), "{text}");
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/classes"), None).await;
    assert_eq!(v[0]["features"], json!({"web": true, "mail": false, "im": false, "documents": true, "helpdesk": false}), "{v}");
    assert_eq!((&v[0]["quota_storage_bytes"], &v[0]["quota_documents"]), (&json!(5 * 1024 * 1024), &json!(10)), "{v}");

    // Saving the same values records nothing; switching the web off does.
    let save = format!("{classes}/basic");
    let (s, _, _) = post_form(&server, &admin, &save, &[("csrf", &csrf), ("web", "on"), ("documents", "on"), ("storage_mib", "5"), ("quota_documents", "10")]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(records(&server, &admin, "domain=example.org&action=class.update").await.len(), 0);
    let (s, _, text) = post_form(&server, &admin, &save, &[("csrf", &csrf), ("documents", "on"), ("storage_mib", ""), ("quota_documents", "10")]).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(text.contains("The class basic is saved."), "{text}");
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/classes"), None).await;
    assert_eq!((&v[0]["features"]["web"], &v[0]["quota_storage_bytes"]), (&json!(false), &serde_json::Value::Null), "{v}");
    assert_eq!(records(&server, &admin, "domain=example.org&action=class.update").await.len(), 1);

    // Given to ursula on the accounts page: her web pages are refused, her class shows.
    let accounts = "/admin/domains/example.org/accounts";
    let ursula = logged_in(&server, "ursula@example.org", PW).await;
    let (s, _) = page(&server, &ursula, "/account").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, text) = post_form(&server, &admin, &format!("{accounts}/ursula"), &[("csrf", &csrf), ("role", "user"), ("class", "basic")]).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(text.contains("<option value=\"basic\" selected>"), "{text}");
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/ursula"), None).await;
    assert_eq!(v["class"], json!("basic"), "{v}");
    let ursula = logged_in(&server, "ursula@example.org", PW).await;
    let (s, _) = page(&server, &ursula, "/account").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the class has no web interface");

    // Removing needs the box; afterwards ursula has no class, and every feature again.
    let (s, _, _) = post_form(&server, &admin, &format!("{save}/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, text) = post_form(&server, &admin, &format!("{save}/remove"), &[("csrf", &csrf), ("confirm", "on")]).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(text.contains("The class basic is removed"), "{text}");
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/ursula"), None).await;
    assert_eq!(v["class"], serde_json::Value::Null, "{v}");
    let (s, _) = page(&server, &ursula, "/account").await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_admins_set_session_rules_and_the_allow_list_on_the_sign_in_page() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    server.cli_ok(&["domain", "add", "other.test"], None);
    add_account(&server, &admin, "example.org", "dora", "domain-admin", PW).await;
    let sign_in = "/admin/domains/example.org/sign-in";
    let dora = logged_in(&server, "dora@example.org", PW).await;
    let (s, text) = page(&server, &dora, sign_in).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let csrf = csrf_of(&text);
    let (s, text) = page(&server, &dora, "/admin/domains/other.test/sign-in").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(!text.contains("name=\"csrf\""), "{text}");

    // Lifetimes: malformed, out of bounds, or idle longer than the whole session: refused.
    let sessions = format!("{sign_in}/sessions");
    for (idle, absolute) in [("soon", ""), ("0", ""), ("600", "30")] {
        let (s, _, text) = post_form(&server, &dora, &sessions, &[("csrf", &csrf), ("users_idle", idle), ("users_absolute", absolute), ("remember_me", "server")]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{idle} {absolute}: {text}");
    }
    // Saved once; the same values again record nothing.
    for _ in 0..2 {
        let (s, path, text) = post_form(&server, &dora, &sessions, &[("csrf", &csrf), ("users_idle", "30"), ("users_absolute", "600"), ("staff_idle", ""), ("staff_absolute", ""), ("remember_me", "no")]).await;
        assert_eq!((s, path.as_str()), (StatusCode::OK, sign_in), "{text}");
        assert!(text.contains("The session rules are saved"), "{text}");
    }
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/session-rules"), None).await;
    let o = &v["overrides"];
    assert_eq!(
        (&o["users_idle_seconds"], &o["users_absolute_seconds"], &o["staff_idle_seconds"], &o["remember_me"]),
        (&json!(1800), &json!(36_000), &serde_json::Value::Null, &json!(false)),
        "{v}"
    );
    assert_eq!(records(&server, &admin, "domain=example.org&action=domain.session_rules").await.len(), 1);

    // The allow-list: a bad network is refused with the reason; then saved, shown and lifted.
    let list = format!("{sign_in}/allow-list");
    let (s, _, text) = post_form(&server, &dora, &list, &[("csrf", &csrf), ("networks", "192.0.2.0/24\nnot-a-network")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("not-a-network"), "{text}");
    let (s, _, text) = post_form(&server, &dora, &list, &[("csrf", &csrf), ("networks", "192.0.2.0/24\r\n2001:db8::/32, 127.0.0.1"), ("admins_only", "on"), ("trust_days", "7")]).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(text.contains("The allow-list is saved.") && text.contains("2001:db8::/32"), "{text}");
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/allow-list"), None).await;
    assert_eq!((v["networks"].as_array().map(Vec::len), &v["admins_only"], &v["trust_seconds"]), (Some(3), &json!(true), &json!(7 * 86_400)), "{v}");
    let (s, _, _) = post_form(&server, &dora, &list, &[("csrf", &csrf), ("networks", "192.0.2.0/24\n2001:db8::/32\n127.0.0.1"), ("admins_only", "on"), ("trust_days", "7")]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(records(&server, &admin, "domain=example.org&action=domain.allow_list").await.len(), 1, "the same list again records nothing");
    let (s, _, _) = post_form(&server, &dora, &list, &[("csrf", &csrf), ("networks", "")]).await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/allow-list"), None).await;
    assert_eq!(v["networks"], json!([]), "{v}");
}

/// An administrator who must change their password first can only do that: every
/// administration and documents form, sent with their valid token, brings them to the account
/// page and changes nothing, as the API refuses them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_who_must_change_their_password_changes_nothing_through_forms() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    let (s, _) = call(&admin, "POST", server.url("/api/v1/domains/example.org/groups"), Some(json!({"name": "staff"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let body = json!({"name": "dora", "role": "domain-admin", "password": PW, "must_change_password": true});
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/accounts"), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let dora = server.client();
    assert_eq!(login(&server, &dora, "dora@example.org", PW).await.status(), StatusCode::CREATED);
    let (_, account) = page(&server, &dora, "/account").await;
    let csrf = csrf_of(&account);
    let (mut checked, mut wrong) = (0, Vec::new());
    for (method, route) in deskward_http::PAGES {
        if *method != "POST" || !(route.starts_with("/admin/") || route.starts_with("/documents/")) || route.ends_with("/upload") || route.ends_with("/version") {
            continue;
        }
        let path = route.replace("{domain}", "example.org").replace("{name}", "ursula").replace("{group}", "staff").replace("{who}", "users").replace("{id}", "1");
        // Every field any page's form has, so none stops at a missing field.
        let fields = [
            "name", "login", "password", "current_password", "new_password", "reason", "role", "account", "url", "security", "preset", "bind_dn",
            "base_dns", "user_filter", "keep_groups", "class", "ca_certificate", "timeout_ms", "backends", "parent", "to", "inherit",
        ];
        let mut form: Vec<(&str, &str)> = fields.iter().map(|f| (*f, "x")).collect();
        form.extend([("csrf", csrf.as_str()), ("confirm", "on"), ("disabled", "on")]);
        let (status, at, _) = post_form(&server, &dora, &path, &form).await;
        if (status, at.as_str()) != (StatusCode::OK, "/account") {
            wrong.push(format!("POST {route}: {status} at {at}"));
        }
        checked += 1;
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(checked > 30, "{checked} forms checked");
    let (s, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/ursula"), None).await;
    assert_eq!((s, &v["disabled"], &v["role"]), (StatusCode::OK, &json!(false), &json!("user")), "nothing changed: {v}");
    let (_, groups) = call(&admin, "GET", server.url("/api/v1/domains/example.org/groups"), None).await;
    assert_eq!(groups.as_array().map(Vec::len), Some(1), "{groups}");
    assert_eq!(login(&server, &server.client(), "ursula@example.org", PW).await.status(), StatusCode::CREATED, "ursula's password is unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_admins_ban_and_lift_on_the_bans_page() {
    // Behind a proxy on loopback, so a login can come from a banned address.
    let (server, admin) = with_admin_using(deskward_testkit::ServerOptions::new(Backend::Sqlite).env("DESKWARD_HTTP__TRUSTED_PROXIES", "127.0.0.1")).await;
    add_account(&server, &admin, "example.org", "dora", "domain-admin", PW).await;
    let (s, text) = page(&server, &admin, "/admin/bans").await;
    assert!(s == StatusCode::OK && text.contains("No bans are in force."), "{text}");
    let csrf = csrf_of(&text);

    // Domain admins neither see nor change bans: they hold for every domain.
    let dora = logged_in(&server, "dora@example.org", PW).await;
    let (s, _) = page(&server, &dora, "/admin/bans").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, account) = page(&server, &dora, "/account").await;
    assert!(!account.contains("id=\"admin-bans\""), "no link for a domain admin");
    let (s, _, _) = post_form(&server, &dora, "/admin/bans", &[("csrf", &csrf_of(&account)), ("network", "198.51.100.7"), ("hours", "1")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    events(&server, &admin, "action=access.denied", 2).await;

    // Refused, with the form shown again and escaped: a bad network, a bad length, the
    // administrator's own address.
    for (network, hours, says) in [("<b>x</b>", "1", "Invalid network"), ("198.51.100.7", "soon", "in hours"), ("127.0.0.0/8", "1", "your own address")] {
        let (s, _, text) = post_form(&server, &admin, "/admin/bans", &[("csrf", &csrf), ("network", network), ("hours", hours)]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{network}: {text}");
        assert!(text.contains("id=\"error\"") && text.contains(says) && !text.contains("<b>x"), "{network}: {text}");
    }

    // Banned for 2 hours: listed, recorded, and the banned address gets no answer.
    let (s, path, text) = post_form(&server, &admin, "/admin/bans", &[("csrf", &csrf), ("network", "2001:DB8::1:0/112"), ("hours", "2")]).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, "/admin/bans"), "{text}");
    assert!(text.contains("2001:db8::1:0/112 is banned.") && text.contains("<code>2001:db8::1:0/112</code>") && text.contains("manual"), "{text}");
    let (s, path, text) = post_form(&server, &admin, "/admin/bans", &[("csrf", &csrf), ("network", "198.51.100.7"), ("hours", "")]).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, "/admin/bans"), "{text}");
    let (_, bans) = call(&admin, "GET", server.url("/api/v1/bans"), None).await;
    let listed: Vec<&str> = bans.as_array().unwrap().iter().filter_map(|b| b["network"].as_str()).collect();
    assert_eq!(listed.len(), 2, "{bans}");
    let added = records(&server, &admin, "action=ban.added").await;
    assert_eq!(added.len(), 2, "{added:?}");
    assert!(added.iter().all(|r| r["actor"] == json!(ADMIN)), "{added:?}");
    let (s, _) = login_answer(&server, "198.51.100.7", "dora@example.org", PW).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "the banned address is refused");

    // Lifted: gone from the list, recorded, and the address logs in again.
    let (s, path, text) = post_form(&server, &admin, "/admin/bans/lift", &[("csrf", &csrf), ("network", "198.51.100.7")]).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, "/admin/bans"), "{text}");
    assert!(text.contains("The ban of 198.51.100.7 is lifted.") && !text.contains("<code>198.51.100.7</code>"), "{text}");
    assert_eq!(records(&server, &admin, "action=ban.lifted").await.len(), 1);
    let (s, _) = login_answer(&server, "198.51.100.7", "dora@example.org", PW).await;
    assert_eq!(s, StatusCode::CREATED, "the lifted address logs in");
    // Lifting it again finds nothing.
    let (s, _, text) = post_form(&server, &admin, "/admin/bans/lift", &[("csrf", &csrf), ("network", "198.51.100.7")]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{text}");
    // A notice can only name a network: other text in the address bar is not echoed.
    let (_, text) = page(&server, &admin, "/admin/bans?done=banned&network=%3Cscript%3E").await;
    assert!(!text.contains("id=\"notice\"") && !text.contains("<script>"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_admins_choose_who_is_mailed_about_logins_on_the_login_mails_page() {
    let (server, admin) = with_admin(Backend::Postgres).await;
    add_account(&server, &admin, "example.org", "dora", "domain-admin", PW).await;
    server.cli_ok(&["domain", "add", "other.test"], None);
    let dora = logged_in(&server, "dora@example.org", PW).await;
    let rules = server.url("/api/v1/domains/example.org/notifications");
    let (s, text) = page(&server, &dora, "/admin/domains/example.org/notifications").await;
    assert!(s == StatusCode::OK && text.contains("id=\"user-by\""), "{text}");
    let csrf = csrf_of(&text);

    // Users: mailed on each login, set by the domain; agents: failed logins only; the others
    // stay with the server.
    let form = [("csrf", csrf.as_str()), ("user", "own"), ("user_success", "on"), ("agent", "own"), ("agent_failure", "on"), ("domain-admin", "server"), ("system-admin", "server")];
    let (s, path, text) = post_form(&server, &dora, "/admin/domains/example.org/notifications", &form).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, "/admin/domains/example.org/notifications"), "{text}");
    assert!(text.contains("The login mails are saved."), "{text}");
    let (_, v) = call(&admin, "GET", rules.clone(), None).await;
    let of = |role: &str| v.as_array().unwrap().iter().find(|r| r["role"] == json!(role)).cloned().unwrap();
    assert_eq!((&of("user")["own"], &of("user")["login_success"], &of("user")["login_failure"]), (&json!(true), &json!(true), &json!(false)), "{v}");
    assert_eq!((&of("agent")["own"], &of("agent")["login_success"], &of("agent")["login_failure"]), (&json!(true), &json!(false), &json!(true)), "{v}");
    assert_eq!(of("domain-admin")["own"], json!(false), "{v}");
    assert_eq!(records(&server, &admin, "domain=example.org&action=domain.notifications").await.len(), 1);

    // Saving the same again records nothing; giving users back to the server does.
    let (_, text) = page(&server, &dora, "/admin/domains/example.org/notifications").await;
    assert!(text.contains("id=\"user-success\" aria-label=\"user: each login\" checked"), "{text}");
    post_form(&server, &dora, "/admin/domains/example.org/notifications", &form).await;
    assert_eq!(records(&server, &admin, "domain=example.org&action=domain.notifications").await.len(), 1, "an unchanged save is no change");
    let back = [("csrf", csrf.as_str()), ("user", "server"), ("agent", "own"), ("agent_failure", "on")];
    post_form(&server, &dora, "/admin/domains/example.org/notifications", &back).await;
    let (_, v) = call(&admin, "GET", rules, None).await;
    assert_eq!(v.as_array().unwrap().iter().filter(|r| r["own"] == json!(true)).count(), 1, "{v}");
    assert_eq!(records(&server, &admin, "domain=example.org&action=domain.notifications").await.len(), 2);

    // Another domain's page and form are refused, and recorded.
    let (s, _) = page(&server, &dora, "/admin/domains/other.test/notifications").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = post_form(&server, &dora, "/admin/domains/other.test/notifications", &form).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    events(&server, &admin, "domain=example.org&action=access.denied", 2).await;
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/other.test/notifications"), None).await;
    assert!(v.as_array().unwrap().iter().all(|r| r["own"] == json!(false)), "{v}");
}
