//! `deskward class …`

use clap::{Args, Subcommand};
use deskward_app::{App, ClassChange, NewClass};
use deskward_core::class::Features;

use super::fail;

#[derive(Args, Debug, Clone, Default)]
pub struct Switches {
    /// Comma-separated features to switch off: web, mail, im, documents, helpdesk
    #[arg(long, value_delimiter = ',')]
    pub without: Vec<String>,
    /// Storage quota in bytes (-1 removes it)
    #[arg(long, allow_negative_numbers = true)]
    pub quota_storage_bytes: Option<i64>,
    /// Maximum number of documents (-1 removes it)
    #[arg(long, allow_negative_numbers = true)]
    pub quota_documents: Option<i64>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create a user class; every feature is on unless switched off with --without
    Add {
        domain: String,
        name: String,
        #[command(flatten)]
        switches: Switches,
    },
    /// List the user classes of a domain
    List { domain: String },
    /// Change a class: --without replaces the set of switched-off features
    Set {
        domain: String,
        name: String,
        #[command(flatten)]
        switches: Switches,
    },
    /// Remove a class (its members keep their accounts)
    Remove { domain: String, name: String },
}

fn features(without: &[String]) -> anyhow::Result<Features> {
    let mut f = Features::ALL;
    for name in without {
        match name.trim() {
            "web" => f.web = false,
            "mail" => f.mail = false,
            "im" => f.im = false,
            "documents" => f.documents = false,
            "helpdesk" => f.helpdesk = false,
            other => anyhow::bail!("unknown feature {other:?}; expected web, mail, im, documents or helpdesk"),
        }
    }
    Ok(f)
}

fn describe(f: Features) -> String {
    let on = [("web", f.web), ("mail", f.mail), ("im", f.im), ("documents", f.documents), ("helpdesk", f.helpdesk)];
    on.iter().filter(|(_, v)| *v).map(|(n, _)| *n).collect::<Vec<_>>().join(",")
}

fn quota(v: Option<i64>) -> Option<Option<i64>> {
    v.map(|q| if q == -1 { None } else { Some(q) })
}

fn limit(v: Option<i64>) -> String {
    v.map_or_else(|| "unlimited".into(), |v| v.to_string())
}

pub async fn run(app: &App, cmd: Cmd) -> anyhow::Result<()> {
    let op = crate::cli::operator();
    match cmd {
        Cmd::Add { domain, name, switches } => {
            let new = NewClass {
                name,
                features: features(&switches.without)?,
                quota_storage_bytes: switches.quota_storage_bytes,
                quota_documents: switches.quota_documents,
            };
            let c = app.create_class(&op, &domain, &new).await.map_err(fail)?;
            println!("created class {} in {domain}: features {}", c.name, describe(c.features));
        }
        Cmd::List { domain } => {
            for c in app.list_classes(&op, &domain).await.map_err(fail)? {
                println!(
                    "{:<24} features={:<32} storage={} documents={}",
                    c.name,
                    describe(c.features),
                    limit(c.quota_storage_bytes),
                    limit(c.quota_documents)
                );
            }
        }
        Cmd::Set { domain, name, switches } => {
            let change = ClassChange {
                features: if switches.without.is_empty() { None } else { Some(features(&switches.without)?) },
                quota_storage_bytes: quota(switches.quota_storage_bytes),
                quota_documents: quota(switches.quota_documents),
            };
            let c = app.update_class(&op, &domain, &name, &change).await.map_err(fail)?;
            println!("class {}: features {}", c.name, describe(c.features));
        }
        Cmd::Remove { domain, name } => {
            app.remove_class(&op, &domain, &name).await.map_err(fail)?;
            println!("removed class {name} from {domain}");
        }
    }
    Ok(())
}
