//! The fake's memory: KV v2 secrets by mount, tokens with wall-clock expiry, AppRole and
//! Kubernetes credentials, wrapped responses, seal state, injected failures and counters.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use super::wire::{self, Auth};
use super::{FakeVaultStats, LOGIN_POLICY};

/// Vault's default system max lease TTL (32 days): the ceiling of tokens added with a TTL.
pub(super) const SYSTEM_MAX_TTL: Duration = Duration::from_secs(768 * 3600);

/// Everything the fake knows; one lock, never held across an `.await`.
pub(super) struct State {
    pub(super) sealed: bool,
    /// mount → path → secret.
    pub(super) kv: BTreeMap<String, BTreeMap<String, Secret>>,
    /// token id → token (service tokens; wrapping tokens live in `wraps`).
    pub(super) tokens: HashMap<String, Token>,
    /// wrapping token → the response it wraps.
    pub(super) wraps: HashMap<String, Wrapped>,
    /// role_id → role.
    pub(super) approles: HashMap<String, AppRole>,
    /// Kubernetes role → the service-account JWTs it accepts.
    pub(super) kubernetes: HashMap<String, Vec<String>>,
    /// login alias → entity id (the same role logs in as the same entity).
    pub(super) entities: HashMap<String, String>,
    pub(super) login_ttl: Duration,
    pub(super) login_max_ttl: Duration,
    pub(super) failure: Option<Failure>,
    pub(super) stats: FakeVaultStats,
    pub(super) cluster_name: String,
    pub(super) cluster_id: String,
}

impl State {
    pub(super) fn new() -> State {
        let cluster_id = wire::uuid();
        State {
            sealed: false,
            kv: BTreeMap::from([("secret".to_owned(), BTreeMap::new())]),
            tokens: HashMap::new(),
            wraps: HashMap::new(),
            approles: HashMap::new(),
            kubernetes: HashMap::new(),
            entities: HashMap::new(),
            login_ttl: Duration::from_secs(3600),
            login_max_ttl: Duration::from_secs(24 * 3600),
            failure: None,
            stats: FakeVaultStats::default(),
            cluster_name: format!("vault-cluster-{}", &cluster_id[..8]),
            cluster_id,
        }
    }

    /// The token `id` if it exists and has not expired; an expired one is forgotten, as Vault's
    /// expiration manager revokes it.
    pub(super) fn live_token(&mut self, id: &str) -> Option<&mut Token> {
        let now = Instant::now();
        if self.tokens.get(id).is_some_and(|t| !t.live(now)) {
            self.tokens.remove(id);
        }
        self.tokens.get_mut(id)
    }

    /// Whether `id` is a wrapping token that can still be unwrapped.
    pub(super) fn live_wrapping_token(&mut self, id: &str) -> bool {
        let now = Instant::now();
        if self.wraps.get(id).is_some_and(|w| now >= w.expires) {
            self.wraps.remove(id);
        }
        self.wraps.contains_key(id)
    }

    /// The entity a login alias maps to, created on first login.
    pub(super) fn entity(&mut self, alias: &str) -> String {
        self.entities
            .entry(alias.to_owned())
            .or_insert_with(wire::uuid)
            .clone()
    }

    /// Issues a token for a login: the configured login TTL (capped at the max TTL), renewable.
    pub(super) fn login_token(
        &mut self,
        meta: BTreeMap<String, String>,
        display_name: String,
        path: &str,
        entity_id: String,
    ) -> Auth {
        let ttl = self.login_ttl.min(self.login_max_ttl);
        let token = Token::new(TokenSpec {
            id: wire::service_token(),
            policies: login_policies(),
            meta: Some(meta),
            display_name,
            path: path.to_owned(),
            entity_id,
            ttl: Some(ttl),
            renewable: true,
            max_ttl: self.login_max_ttl,
        });
        let auth = token.auth(ttl);
        self.tokens.insert(token.id.clone(), token);
        auth
    }
}

/// The policies of tokens issued by logins (sorted, as Vault lists them).
pub(super) fn login_policies() -> Vec<String> {
    vec!["default".to_owned(), LOGIN_POLICY.to_owned()]
}

/// A KV v2 secret: its versions, version `n` at index `n - 1`.
#[derive(Default)]
pub(super) struct Secret {
    pub(super) versions: Vec<Version>,
}

/// One version of a KV v2 secret.
pub(super) struct Version {
    pub(super) data: BTreeMap<String, String>,
    pub(super) created: SystemTime,
    pub(super) deleted: Option<SystemTime>,
    pub(super) destroyed: bool,
}

/// An AppRole: its name (token metadata `role_name`) and the secret ids it accepts.
pub(super) struct AppRole {
    pub(super) name: String,
    pub(super) secret_ids: Vec<String>,
}

/// A response-wrapped response, returned once by `sys/wrapping/unwrap`.
pub(super) struct Wrapped {
    pub(super) body: String,
    pub(super) expires: Instant,
}

/// Injected failures: the next `remaining` API requests answer `status` with `message`.
pub(super) struct Failure {
    pub(super) status: u16,
    pub(super) remaining: usize,
    pub(super) message: String,
}

/// What a new token is made of.
pub(super) struct TokenSpec {
    pub(super) id: String,
    pub(super) policies: Vec<String>,
    pub(super) meta: Option<BTreeMap<String, String>>,
    pub(super) display_name: String,
    pub(super) path: String,
    pub(super) entity_id: String,
    /// `None`: never expires (no renewable lease).
    pub(super) ttl: Option<Duration>,
    pub(super) renewable: bool,
    pub(super) max_ttl: Duration,
}

/// A service token and its lease.
pub(super) struct Token {
    pub(super) id: String,
    pub(super) accessor: String,
    pub(super) policies: Vec<String>,
    pub(super) meta: Option<BTreeMap<String, String>>,
    pub(super) display_name: String,
    pub(super) path: String,
    pub(super) entity_id: String,
    pub(super) issued: SystemTime,
    /// The TTL it was created with (zero when it never expires); renewals default to it.
    pub(super) creation_ttl: Duration,
    pub(super) renewable: bool,
    pub(super) max_ttl: Duration,
    /// `None`: never expires.
    pub(super) expiry: Option<Expiry>,
    pub(super) last_renewal: Option<SystemTime>,
}

/// When a token's lease ends: monotonic for the check, wall clock for what is printed.
pub(super) struct Expiry {
    pub(super) at: Instant,
    pub(super) wall: SystemTime,
}

impl Expiry {
    pub(super) fn after(ttl: Duration) -> Expiry {
        Expiry {
            at: Instant::now() + ttl,
            wall: SystemTime::now() + ttl,
        }
    }
}

impl Token {
    pub(super) fn new(spec: TokenSpec) -> Token {
        Token {
            id: spec.id,
            accessor: wire::accessor(),
            policies: spec.policies,
            meta: spec.meta,
            display_name: spec.display_name,
            path: spec.path,
            entity_id: spec.entity_id,
            issued: SystemTime::now(),
            creation_ttl: spec.ttl.unwrap_or_default(),
            renewable: spec.renewable,
            max_ttl: spec.max_ttl,
            expiry: spec.ttl.map(Expiry::after),
            last_renewal: None,
        }
    }

    fn live(&self, now: Instant) -> bool {
        self.expiry.as_ref().is_none_or(|e| now < e.at)
    }

    pub(super) fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }

    /// Whether its lease can be renewed (Vault: a lease with an expiry, marked renewable).
    pub(super) fn lease_renewable(&self) -> bool {
        self.renewable && self.expiry.is_some()
    }

    /// The auth block for this token with a lease of `lease`.
    pub(super) fn auth(&self, lease: Duration) -> Auth {
        Auth {
            client_token: self.id.clone(),
            accessor: self.accessor.clone(),
            policies: self.policies.clone(),
            token_policies: self.policies.clone(),
            metadata: self.meta.clone(),
            lease_duration: lease.as_secs(),
            renewable: self.lease_renewable(),
            entity_id: self.entity_id.clone(),
            token_type: "service".to_owned(),
            orphan: true,
            mfa_requirement: None,
            num_uses: 0,
        }
    }
}
