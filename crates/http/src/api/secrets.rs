//! `/secrets`: whether stored secrets are encrypted, and turning encryption on. Turning it off
//! and rotating the key are not here on purpose: only the host's operator may
//! (`deskward secrets disable|rotate`).

use axum::Json;
use axum::extract::State as Extract;
use deskward_app::Acknowledgements;
use deskward_proto::{EnableEncryption, SecretsState};

use crate::extract::{ApiJson, Session};
use crate::{ApiError, State, convert};

pub async fn status(Extract(app): Extract<State>, Session(caller): Session) -> Result<Json<SecretsState>, ApiError> {
    Ok(Json(convert::secrets_state(&app.secrets_status(&caller).await?)))
}

pub async fn enable(
    Extract(app): Extract<State>,
    Session(caller): Session,
    ApiJson(req): ApiJson<EnableEncryption>,
) -> Result<Json<SecretsState>, ApiError> {
    let ack = Acknowledgements { key_loss: req.i_understand_key_loss, key_backed_up: req.key_backed_up };
    Ok(Json(convert::secrets_state(&app.enable_encryption(&caller, ack).await?)))
}
