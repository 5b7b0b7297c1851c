//! Issuing and verifying tokens.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Header, Validation};
use scribe_core::{OrgId, SessionId, UserId};
use secrecy::SecretString;

use super::claims::{TokenClaims, TokenType, WireClaims};
use super::keys::JwtKeys;
use crate::clock::Clock;
use crate::error::{AuthError, TokenRejection};
use crate::principal::{Principal, UserPrincipal};
use crate::random::random_url_token;
use crate::role::Role;

/// Longest token accepted for parsing; ours are about 400 bytes.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// Random bytes in a `jti` (128 bits).
const JTI_BYTES: usize = 16;

/// Token settings. `Default` gives the documented values.
#[derive(Clone, Debug)]
pub struct TokenConfig {
    /// `iss` written and required (default `nexus-scribe`).
    pub issuer: String,
    /// `aud` written and required (default `nexus-scribe-api`).
    pub audience: String,
    /// Lifetime of access tokens (1 hour).
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens (30 days).
    pub refresh_ttl: Duration,
    /// Lifetime of pre-MFA tokens (5 minutes).
    pub pre_mfa_ttl: Duration,
    /// Clock skew tolerated on `iat`, `nbf` and `exp` between nodes (5 s).
    pub leeway: Duration,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            issuer: "nexus-scribe".to_owned(),
            audience: "nexus-scribe-api".to_owned(),
            access_ttl: Duration::from_secs(60 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 60 * 60),
            pre_mfa_ttl: Duration::from_secs(5 * 60),
            leeway: Duration::from_secs(5),
        }
    }
}

impl TokenConfig {
    fn ttl(&self, kind: TokenType) -> Duration {
        match kind {
            TokenType::Access => self.access_ttl,
            TokenType::Refresh => self.refresh_ttl,
            TokenType::PreMfa => self.pre_mfa_ttl,
        }
    }
}

/// A freshly signed token. `token` is what the client receives; never log it (log
/// [`crate::token_fingerprint`] or `token_id` instead).
#[derive(Debug)]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: SecretString,
    /// Its `jti`.
    pub token_id: String,
    /// Its `exp`, seconds since the Unix epoch.
    pub expires_at: u64,
    /// Seconds until it expires (the `expires_in` of the login response).
    pub expires_in: u64,
}

/// A verified access token: who it is for, and its claims (for logout / denylisting).
#[derive(Clone, Debug)]
pub struct VerifiedAccess {
    principal: Principal,
    claims: TokenClaims,
}

impl VerifiedAccess {
    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
    /// The caller, by value.
    pub fn into_principal(self) -> Principal {
        self.principal
    }
    /// The caller with the role the store holds now instead of the one in the token (a role
    /// change takes effect at once, not when the token expires).
    pub fn into_principal_with_role(self, role: Role) -> Principal {
        Principal::User(UserPrincipal::new(
            self.claims.user_id,
            self.claims.org_id,
            role,
        ))
    }
    /// The token's claims.
    pub fn claims(&self) -> &TokenClaims {
        &self.claims
    }
}

/// Signs and verifies tokens with [`JwtKeys`]; HS256 only.
pub struct TokenService {
    keys: RwLock<Arc<JwtKeys>>,
    config: TokenConfig,
    clock: Arc<dyn Clock>,
    validation: Validation,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("keys", &self.current_keys())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TokenService {
    /// A service signing with `keys.current`.
    pub fn new(keys: JwtKeys, config: TokenConfig, clock: Arc<dyn Clock>) -> Self {
        // The library checks the header's algorithm against this list and the signature; every
        // claim is checked below against the injected clock, so its own time checks are off.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        Self {
            keys: RwLock::new(Arc::new(keys)),
            config,
            clock,
            validation,
        }
    }

    /// Swaps in rotated keys (e.g. the new `jwt_secret` as current, the old one as previous);
    /// tokens in flight keep verifying against the previous keys until they expire.
    pub fn replace_keys(&self, keys: JwtKeys) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
    }

    fn current_keys(&self) -> Arc<JwtKeys> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The settings in use.
    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    /// An access token for `user` of `org` with `role` in `session`, valid from now for
    /// `access_ttl`.
    pub fn issue_access(
        &self,
        user: UserId,
        org: OrgId,
        role: Role,
        session: SessionId,
    ) -> Result<IssuedToken, AuthError> {
        self.issue(TokenType::Access, user, org, role, Some(session))
    }

    /// A refresh token of `session`, valid for `refresh_ttl` (spent on its first use: the store
    /// keeps its hash and rotates it).
    pub fn issue_refresh(
        &self,
        user: UserId,
        org: OrgId,
        role: Role,
        session: SessionId,
    ) -> Result<IssuedToken, AuthError> {
        self.issue(TokenType::Refresh, user, org, role, Some(session))
    }

    /// A pre-MFA token: proof that the password was right, good for `pre_mfa_ttl` and for
    /// nothing but completing the second factor.
    pub fn issue_pre_mfa(
        &self,
        user: UserId,
        org: OrgId,
        role: Role,
    ) -> Result<IssuedToken, AuthError> {
        self.issue(TokenType::PreMfa, user, org, role, None)
    }

    pub(crate) fn issue(
        &self,
        kind: TokenType,
        user: UserId,
        org: OrgId,
        role: Role,
        session: Option<SessionId>,
    ) -> Result<IssuedToken, AuthError> {
        let now = self.clock.unix_seconds();
        let ttl = self.config.ttl(kind).as_secs();
        let token_id = random_url_token(JTI_BYTES)?.to_string();
        let claims = WireClaims {
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            sub: user.to_string(),
            org: org.to_string(),
            role: role.as_str().to_owned(),
            typ: kind.as_str().to_owned(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(ttl),
            jti: token_id.clone(),
            sid: session.map(|s| s.to_string()),
        };
        let keys = self.current_keys();
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &keys.current.encoding,
        )
        .map_err(|e| AuthError::Signing(e.to_string()))?;
        Ok(IssuedToken {
            token: SecretString::from(token),
            token_id,
            expires_at: claims.exp,
            expires_in: ttl,
        })
    }

    /// Verifies an access token and returns the caller.
    pub fn verify_access(&self, token: &str) -> Result<VerifiedAccess, AuthError> {
        let claims = self.verify(token, TokenType::Access)?;
        let principal = Principal::User(UserPrincipal::new(
            claims.user_id,
            claims.org_id,
            claims.role,
        ));
        Ok(VerifiedAccess { principal, claims })
    }

    /// Verifies a token of kind `expected`: size, header algorithm (HS256 only, from this
    /// verifier, never from the header), signature against the current then previous keys, `iss`,
    /// `aud`, `typ`, `iat`, `nbf`, `exp` (with the configured leeway), the lifetime allowed for
    /// the kind, and the shape of `sub`, `org`, `jti`. Refusals carry the reason for logging.
    pub fn verify(&self, token: &str, expected: TokenType) -> Result<TokenClaims, AuthError> {
        let reject = |r| Err(AuthError::InvalidToken(r));
        if token.len() > MAX_TOKEN_BYTES {
            return reject(TokenRejection::Malformed);
        }
        if let Err(r) = check_header(token) {
            return reject(r);
        }
        let raw = self.decode(token)?;
        let claims: WireClaims = serde_json::from_value(raw)
            .map_err(|_| AuthError::InvalidToken(TokenRejection::Claims))?;
        if claims.iss != self.config.issuer {
            return reject(TokenRejection::Issuer);
        }
        if claims.aud != self.config.audience {
            return reject(TokenRejection::Audience);
        }
        let token_type = match TokenType::parse(&claims.typ) {
            Some(t) if t == expected => t,
            _ => return reject(TokenRejection::Type),
        };
        self.check_times(&claims, token_type)?;
        let (Ok(user_id), Ok(org_id)) = (claims.sub.parse::<UserId>(), claims.org.parse::<OrgId>())
        else {
            return reject(TokenRejection::Claims);
        };
        if claims.jti.is_empty() || claims.jti.len() > 128 {
            return reject(TokenRejection::Claims);
        }
        // Access and refresh tokens belong to a session; pre-MFA tokens to none.
        let session_id = match (token_type, claims.sid.as_deref()) {
            (TokenType::PreMfa, None) => None,
            (TokenType::Access | TokenType::Refresh, Some(sid)) => match sid.parse() {
                Ok(s) => Some(s),
                Err(_) => return reject(TokenRejection::Claims),
            },
            _ => return reject(TokenRejection::Claims),
        };
        Ok(TokenClaims {
            user_id,
            org_id,
            role: Role::from_stored(&claims.role),
            token_type,
            issued_at: claims.iat,
            not_before: claims.nbf,
            expires_at: claims.exp,
            token_id: claims.jti,
            session_id,
        })
    }

    /// Signature check with the current key, then previous ones; the claims as a JSON object.
    fn decode(&self, token: &str) -> Result<serde_json::Value, AuthError> {
        let keys = self.current_keys();
        let mut last = TokenRejection::Signature;
        for key in std::iter::once(&keys.current).chain(&keys.previous) {
            match jsonwebtoken::decode::<serde_json::Value>(token, &key.decoding, &self.validation)
            {
                Ok(data) => {
                    if data.header.crit.is_some() {
                        // RFC 7515 §4.1.11: we understand no critical extensions.
                        return Err(AuthError::InvalidToken(TokenRejection::Malformed));
                    }
                    return Ok(data.claims);
                }
                Err(e) => {
                    last = rejection_of(e.kind());
                    if last != TokenRejection::Signature {
                        break;
                    }
                }
            }
        }
        Err(AuthError::InvalidToken(last))
    }

    fn check_times(&self, claims: &WireClaims, kind: TokenType) -> Result<(), AuthError> {
        let now = self.clock.unix_seconds();
        let leeway = self.config.leeway.as_secs();
        let reject = |r| Err(AuthError::InvalidToken(r));
        if claims.iat > now.saturating_add(leeway) {
            return reject(TokenRejection::IssuedAt);
        }
        if claims.nbf > now.saturating_add(leeway) {
            return reject(TokenRejection::NotYetValid);
        }
        // RFC 7519 §4.1.4: valid only *before* exp.
        if now >= claims.exp.saturating_add(leeway) {
            return reject(TokenRejection::Expired);
        }
        if claims.exp.saturating_sub(claims.iat) > self.config.ttl(kind).as_secs() {
            return reject(TokenRejection::IssuedAt);
        }
        Ok(())
    }
}

/// The header's `alg` must be exactly `HS256`. Checked on the raw JSON so that `none` and
/// algorithms the library does not know are reported as algorithm refusals, not parse errors.
fn check_header(token: &str) -> Result<(), TokenRejection> {
    let header_b64 = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| TokenRejection::Malformed)?;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| TokenRejection::Malformed)?;
    match header.get("alg").and_then(serde_json::Value::as_str) {
        Some("HS256") => Ok(()),
        Some(_) => Err(TokenRejection::Algorithm),
        None => Err(TokenRejection::Malformed),
    }
}

fn rejection_of(kind: &ErrorKind) -> TokenRejection {
    match kind {
        ErrorKind::InvalidSignature => TokenRejection::Signature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::InvalidAlgorithmName => TokenRejection::Algorithm,
        _ => TokenRejection::Malformed,
    }
}
