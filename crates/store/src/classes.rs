//! User classes: feature switches and quotas.

use deskward_core::class::Features;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{flag_of, Conn, Result, Tx, conflict, new_id};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassRow {
    pub id: i64,
    pub domain_id: i64,
    pub name: String,
    pub features: Features,
    pub quota_storage_bytes: Option<i64>,
    pub quota_documents: Option<i64>,
}

macro_rules! select {
    ($tail:literal) => {
        concat!("SELECT id, domain_id, name, feature_web, feature_mail, feature_im, \
     feature_documents, feature_helpdesk, quota_storage_bytes, quota_documents FROM user_classes", " ", $tail)
    };
}

fn from_row(row: &AnyRow) -> Result<ClassRow> {
    Ok(ClassRow {
        id: row.try_get("id")?,
        domain_id: row.try_get("domain_id")?,
        name: row.try_get("name")?,
        features: Features {
            web: flag_of(row, "feature_web")?,
            mail: flag_of(row, "feature_mail")?,
            im: flag_of(row, "feature_im")?,
            documents: flag_of(row, "feature_documents")?,
            helpdesk: flag_of(row, "feature_helpdesk")?,
        },
        quota_storage_bytes: row.try_get("quota_storage_bytes")?,
        quota_documents: row.try_get("quota_documents")?,
    })
}

impl ClassRow {
    pub async fn find(c: &mut Conn, domain_id: i64, name: &str) -> Result<Option<ClassRow>> {
        let row = sqlx::query(select!("WHERE domain_id = $1 AND name = $2"))
            .bind(domain_id)
            .bind(name)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn get(c: &mut Conn, id: i64) -> Result<Option<ClassRow>> {
        let row = sqlx::query(select!("WHERE id = $1")).bind(id).fetch_optional(c).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list(c: &mut Conn, domain_id: i64) -> Result<Vec<ClassRow>> {
        let rows = sqlx::query(select!("WHERE domain_id = $1 ORDER BY name"))
            .bind(domain_id)
            .fetch_all(c)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn insert(tx: &mut Tx, row: &ClassRow) -> Result<i64> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO user_classes (id, domain_id, name, feature_web, feature_mail, feature_im, \
             feature_documents, feature_helpdesk, quota_storage_bytes, quota_documents) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(id)
        .bind(row.domain_id)
        .bind(&row.name)
        .bind(i64::from(row.features.web))
        .bind(i64::from(row.features.mail))
        .bind(i64::from(row.features.im))
        .bind(i64::from(row.features.documents))
        .bind(i64::from(row.features.helpdesk))
        .bind(row.quota_storage_bytes)
        .bind(row.quota_documents)
        .execute(tx.conn())
        .await
        .map_err(conflict(format!("user class {}", row.name)))?;
        Ok(id)
    }

    pub async fn update(tx: &mut Tx, row: &ClassRow) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        sqlx::query(
            "UPDATE user_classes SET feature_web = $1, feature_mail = $2, feature_im = $3, \
             feature_documents = $4, feature_helpdesk = $5, quota_storage_bytes = $6, \
             quota_documents = $7 WHERE id = $8",
        )
        .bind(i64::from(row.features.web))
        .bind(i64::from(row.features.mail))
        .bind(i64::from(row.features.im))
        .bind(i64::from(row.features.documents))
        .bind(i64::from(row.features.helpdesk))
        .bind(row.quota_storage_bytes)
        .bind(row.quota_documents)
        .bind(row.id)
        .execute(tx.conn())
        .await?;
        Ok(())
    }

    pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
        crate::auth_epoch::bump(tx).await?;
        sqlx::query("DELETE FROM user_classes WHERE id = $1").bind(id).execute(tx.conn()).await?;
        Ok(())
    }
}
