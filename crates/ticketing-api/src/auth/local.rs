//! Tokens without an identity provider: an HS256 secret kept in the data directory, and the [`LocalSigner`] that
//! issues Cognito-shaped access tokens with it, for `cloudbash token`, the development sign-in and tests. Kept apart
//! from the checks (`verify.rs`) because only local hosts have a secret at all: a host that trusts an identity
//! provider, or runs behind API Gateway, never reads or creates one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use uuid::Uuid;

use super::verify::{Claims, unix_seconds};
use super::{ACCESS_TOKEN_USE, ADMIN_GROUP, AuthError};
use crate::limits::{SECRET_BYTES_MAX, SECRET_BYTES_MIN};

/// The name of the signing secret's file inside the data directory.
pub const SECRET_FILE_NAME: &str = "jwt-secret";

/// The app client id of locally issued tokens; plays the role of a Cognito app client id.
pub const LOCAL_CLIENT_ID: &str = "cloudbash-local";

/// The issuer of locally issued tokens. Cognito's is `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
pub const LOCAL_ISSUER: &str = "urn:cloudbash:local";

/// The HS256 key shared by the local signer and verifier. Its bytes never appear in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(Arc<[u8]>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Secret(..)")
    }
}

impl Secret {
    /// A secret with these bytes, for a key supplied by configuration (and tests).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(Arc::from(bytes.into()))
    }

    /// Reads the secret from `data_dir`, or on first start creates it there with [`SECRET_BYTES_MIN`] random
    /// bytes, readable by the owner only, so that tokens stay valid across restarts.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, AuthError> {
        let path = data_dir.join(SECRET_FILE_NAME);
        match read_secret(&path) {
            Err(AuthError::SecretIo { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
            loaded => return loaded,
        }
        let mut bytes = vec![0; SECRET_BYTES_MIN];
        getrandom::fill(&mut bytes).map_err(AuthError::Random)?;
        fs::create_dir_all(data_dir).map_err(|source| AuthError::SecretIo { path: path.clone(), source })?;
        match write_new_secret(&path, &bytes) {
            Ok(()) => Ok(Self::from_bytes(bytes)),
            // Another process started at the same time and won: use its secret, so both accept the same tokens.
            Err(source) if source.kind() == io::ErrorKind::AlreadyExists => read_secret(&path),
            Err(source) => Err(AuthError::SecretIo { path, source }),
        }
    }

    /// The key's bytes, for the signer and the verifier.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

fn read_secret(path: &Path) -> Result<Secret, AuthError> {
    let io_error = |source| AuthError::SecretIo { path: path.to_owned(), source };
    let file = File::open(path).map_err(io_error)?;
    let mut bytes = Vec::with_capacity(SECRET_BYTES_MIN);
    // Reading one byte past the maximum is enough to know the file is too large, without reading all of it.
    file.take(SECRET_BYTES_MAX as u64 + 1).read_to_end(&mut bytes).map_err(io_error)?;
    if !(SECRET_BYTES_MIN..=SECRET_BYTES_MAX).contains(&bytes.len()) {
        return Err(AuthError::SecretSize { path: path.to_owned(), len: bytes.len() });
    }
    Ok(Secret::from_bytes(bytes))
}

/// Creates the file (never overwriting one) with owner-only permissions, and removes it again if the write fails,
/// so that a later start does not find a truncated secret.
fn write_new_secret(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if written.is_err() {
        drop(file);
        // The write error is the one worth reporting; a failed cleanup leaves a short file that load refuses.
        let _ = fs::remove_file(path);
    }
    written
}

/// Issues tokens in local mode, where there is no Cognito: for `cloudbash token` and tests.
#[derive(Clone)]
pub struct LocalSigner {
    key: EncodingKey,
    issuer: String,
}

impl std::fmt::Debug for LocalSigner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("LocalSigner").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl LocalSigner {
    /// A signer with this secret, naming `issuer` in every token.
    pub fn new(secret: &Secret, issuer: impl Into<String>) -> Self {
        Self { key: EncodingKey::from_secret(secret.bytes()), issuer: issuer.into() }
    }

    /// A Cognito-shaped access token for user `sub`, in the admin group when `admin`, valid for `lifetime` from
    /// `now` (see [`crate::limits::TOKEN_LIFETIME_DEFAULT`]).
    pub fn issue(&self, sub: Uuid, admin: bool, lifetime: Duration, now: SystemTime) -> String {
        let iat = unix_seconds(now);
        let claims = Claims {
            sub: sub.to_string(),
            groups: if admin { vec![ADMIN_GROUP.to_owned()] } else { Vec::new() },
            iss: self.issuer.clone(),
            client_id: Some(LOCAL_CLIENT_ID.to_owned()),
            aud: None,
            token_use: ACCESS_TOKEN_USE.to_owned(),
            exp: iat.saturating_add(lifetime.as_secs()),
            iat,
            jti: Some(Uuid::new_v4().to_string()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .expect("HS256 accepts a key of any length and the claims are plain strings and numbers")
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;
    use crate::auth::Verifier;
    use crate::limits::TOKEN_LIFETIME_DEFAULT;
    use crate::test_support::{TEST_ISSUER, TEST_SECRET, test_signer};

    #[test]
    fn an_issued_token_carries_cognito_access_token_claims() {
        let now = SystemTime::now();
        let token = test_signer().issue(Uuid::new_v4(), true, TOKEN_LIFETIME_DEFAULT, now);
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_aud = false;

        let claims =
            jsonwebtoken::decode::<serde_json::Value>(&token, &DecodingKey::from_secret(TEST_SECRET), &validation)
                .expect("the token is signed with the test secret")
                .claims;

        assert_eq!(claims["cognito:groups"], serde_json::json!(["admin"]));
        assert_eq!(claims["token_use"], "access");
        assert_eq!(claims["client_id"], LOCAL_CLIENT_ID);
        assert_eq!(claims["iss"], TEST_ISSUER);
        assert_eq!(claims["exp"].as_u64(), Some(unix_seconds(now) + TOKEN_LIFETIME_DEFAULT.as_secs()));
        assert!(claims.get("aud").is_none(), "Cognito access tokens have no `aud`: {claims}");
    }

    #[test]
    fn the_secret_file_is_created_once_and_reused() {
        let data_dir = tempfile::tempdir().expect("a temporary directory can be created");

        let first = Secret::load_or_create(data_dir.path()).expect("the secret is created");
        let second = Secret::load_or_create(data_dir.path()).expect("the secret is read back");

        assert_eq!(first.0.len(), SECRET_BYTES_MIN);
        assert_eq!(first.0, second.0);
        let token = LocalSigner::new(&first, TEST_ISSUER).issue(
            Uuid::new_v4(),
            false,
            TOKEN_LIFETIME_DEFAULT,
            SystemTime::now(),
        );
        assert!(Verifier::new(&second, TEST_ISSUER).verify(&token, SystemTime::now()).is_ok());
    }

    #[test]
    fn the_secret_file_is_created_inside_a_missing_data_directory() {
        let root = tempfile::tempdir().expect("a temporary directory can be created");
        let data_dir = root.path().join("data");

        Secret::load_or_create(&data_dir).expect("the secret is created");

        assert!(data_dir.join(SECRET_FILE_NAME).is_file());
    }

    #[cfg(unix)]
    #[test]
    fn the_secret_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let data_dir = tempfile::tempdir().expect("a temporary directory can be created");

        Secret::load_or_create(data_dir.path()).expect("the secret is created");

        let mode = fs::metadata(data_dir.path().join(SECRET_FILE_NAME)).expect("the file exists").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_truncated_secret_file_is_refused_not_replaced() {
        let data_dir = tempfile::tempdir().expect("a temporary directory can be created");
        let path = data_dir.path().join(SECRET_FILE_NAME);
        fs::write(&path, [1, 2, 3]).expect("the file can be written");

        let loaded = Secret::load_or_create(data_dir.path());

        assert!(matches!(loaded, Err(AuthError::SecretSize { len: 3, .. })));
        assert_eq!(fs::read(&path).expect("the file is still there"), [1, 2, 3]);
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        assert_eq!(format!("{:?}", Secret::from_bytes(b"hunter2-hunter2".to_vec())), "Secret(..)");
    }
}
