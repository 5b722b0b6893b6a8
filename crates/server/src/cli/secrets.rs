//! `deskward secrets …`: the encryption of stored secrets with a key file (docs/secrets.md).
//! Turning it off and rotating the key exist only here, at the host's command line.

use anyhow::bail;
use clap::Subcommand;
use deskward_app::{Acknowledgements, App, RotationStage, SecretsStatus};

use super::{fail, time};

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Show whether stored secrets are encrypted, the keys, and whether every secret opens
    /// (exit status 1 when something is wrong)
    Status,
    /// Encrypt every stored secret with a key kept in the key file (made if missing)
    Enable {
        /// Acknowledge that losing the key file loses every encrypted secret
        #[arg(long)]
        i_understand_key_loss: bool,
        /// Acknowledge that a secure backup of the key file is prepared, apart from the database's backups
        #[arg(long)]
        key_backed_up: bool,
    },
    /// Store every secret in the clear again (the key file is kept)
    Disable,
    /// Make a new key and re-encrypt every secret with it; safe to interrupt and run again
    Rotate,
}

pub async fn run(app: &App, cmd: Cmd) -> anyhow::Result<()> {
    let op = crate::cli::operator();
    match cmd {
        Cmd::Status => {
            let status = app.secrets_status(&op).await.map_err(fail)?;
            print(&status);
            let broken = status.secrets.iter().filter(|s| s.problem.is_some()).count();
            if let Some(problem) = &status.key_problem {
                bail!("stored secrets are locked: {problem}");
            }
            if broken > 0 {
                bail!("{broken} stored secret(s) cannot be opened; set them again");
            }
        }
        Cmd::Enable { i_understand_key_loss, key_backed_up } => {
            if !(i_understand_key_loss && key_backed_up) {
                bail!(
                    "turning encryption on needs two acknowledgements:\n  --i-understand-key-loss   losing the key file loses every encrypted secret; no one can recover them\n  --key-backed-up           a secure backup of the key file is prepared, kept apart from the database's backups"
                );
            }
            let ack = Acknowledgements { key_loss: i_understand_key_loss, key_backed_up };
            let status = app.enable_encryption(&op, ack).await.map_err(fail)?;
            let key = status.keys.iter().find(|k| k.retired_at.is_none()).map_or("-", |k| k.key_id.as_str());
            println!("encryption is on: {} stored secret(s) sealed with key {key}", status.secrets.len());
            println!("the key is in {}: back it up now, apart from the database's backups; without it the secrets cannot be opened", status.key_file);
        }
        Cmd::Disable => {
            let n = app.disable_encryption(&op).await.map_err(fail)?;
            println!("encryption is off: {n} stored secret(s) are in the clear again; the key file stays (backups made while encryption was on need it)");
        }
        Cmd::Rotate => {
            let progress = |stage: RotationStage, detail: &str| match stage {
                RotationStage::KeyWritten => println!("new key {detail} written"),
                RotationStage::Resealed => println!("{detail} stored secret(s) re-sealed under the new key"),
                RotationStage::Promoted => println!("the new key file is current; the previous key is kept in {detail}"),
            };
            let r = app.rotate_secrets_key(&op, &progress).await.map_err(fail)?;
            if r.finished_earlier {
                println!("finished an interrupted rotation: key {} is current; the previous key {} is kept in {}", r.to, r.from, r.kept_in);
            } else {
                println!("rotated from key {} to key {}: a backup of the database made before now needs {}", r.from, r.to, r.kept_in);
            }
        }
    }
    Ok(())
}

fn print(s: &SecretsStatus) {
    let active = s.keys.iter().find(|k| k.retired_at.is_none());
    match active {
        Some(k) => println!("encryption: on, key {} (made {})", k.key_id, time(Some(k.created_at))),
        None => println!("encryption: off"),
    }
    println!("key file: {}{}", s.key_file, if s.key_problem.is_some() { " (cannot be used, see below)" } else { "" });
    for k in &s.keys {
        let state = k.retired_at.map_or_else(|| "active".to_owned(), |t| format!("retired {}", time(Some(t))));
        println!("  key {}  made {}  {state}", k.key_id, time(Some(k.created_at)));
    }
    println!("{} stored secret(s)", s.secrets.len());
    for x in &s.secrets {
        let sealed = x.sealed_with.as_deref().map_or_else(|| "in the clear".to_owned(), |k| format!("sealed with {k}"));
        let state = x.problem.as_deref().map_or_else(|| "opens".to_owned(), |p| format!("DOES NOT OPEN: {p}"));
        println!("  {}/{}  {sealed}  updated {}  {state}", x.owner, x.field, time(Some(x.updated_at)));
    }
}
