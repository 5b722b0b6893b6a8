//! Every form the pages render posts to a route in `PAGES`, the list the forged-token test
//! walks: a form added with a new route cannot escape that test by being left off the list.

use deskward_http::PAGES;

/// A path with each `{…}` segment (a route parameter, or a template expression) made `{}`.
fn shape(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

/// The targets of the POST forms in a template: `<form method="post" action="…">` and the
/// Remove macro's calls (`m::remove_form("/a/" ~ x ~ "/remove", csrf)`), with template
/// expressions as `{}` segments.
fn post_targets(template: &str) -> Vec<String> {
    let mut found = Vec::new();
    for part in template.split("<form method=\"post\" action=\"").skip(1) {
        let action = part.split('"').next().unwrap_or_default();
        if action != "{{ action }}" {
            found.push(action.replace("{{ ", "{").replace(" }}", "}"));
        }
    }
    for part in template.split("{% call m::remove_form(").skip(1) {
        let args = part.split(", csrf)").next().unwrap_or_default();
        let path: String = args.split(" ~ ").map(|piece| if piece.starts_with('"') { piece.trim_matches('"').to_owned() } else { "{}".to_owned() }).collect();
        found.push(path);
    }
    found
}

#[test]
fn every_form_posts_to_a_listed_page_route() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let posts: Vec<String> = PAGES.iter().filter(|(m, _)| *m == "POST").map(|(_, p)| shape(p)).collect();
    let mut checked = 0;
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("templates") {
        let path = entry.expect("a template").path();
        let text = std::fs::read_to_string(&path).expect("a readable template");
        for target in post_targets(&text) {
            checked += 1;
            if !posts.contains(&shape(&target)) {
                missing.push(format!("{}: {target}", path.file_name().unwrap_or_default().to_string_lossy()));
            }
        }
    }
    assert!(checked > 40, "{checked} forms found");
    assert!(missing.is_empty(), "forms posting to routes not in PAGES: {missing:#?}");
}

#[test]
fn shapes_and_targets_are_read_as_intended() {
    assert_eq!(shape("/admin/domains/{domain}/accounts/{name}"), "/admin/domains/{}/accounts/{}");
    let t = post_targets(r#"<form method="post" action="/documents/{{ item.id }}/rename" class="inline">
        {% call m::remove_form("/admin/domains/" ~ domain ~ "/groups/" ~ g.name ~ "/remove", csrf) %}{% endcall %}"#);
    assert_eq!(t, ["/documents/{item.id}/rename", "/admin/domains/{}/groups/{}/remove"]);
    assert_eq!(shape(&t[0]), "/documents/{}/rename");
}
