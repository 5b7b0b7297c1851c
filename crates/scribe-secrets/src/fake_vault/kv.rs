//! The KV v2 engine's read side: `{mount}/data/{path}[?version=N]` and
//! `{mount}/metadata/{path}`, answered as `vault-plugin-secrets-kv` answers them.

use axum::http::Method;
use serde_json::{json, Map, Value};

use super::router::{Reply, Request};
use super::state::{Secret, State, Version};
use super::wire::{self, Envelope, POLICY_DENIED};

/// The frameworks's answer to a path the mounted engine has no handler for.
const UNSUPPORTED_PATH: &str = "1 error occurred:\n\t* unsupported path\n\n";

/// Routes an authenticated request that is not a token endpoint. Tokens may only read KV paths:
/// anything else is refused by policy, except that a root token learns the mount is absent.
pub(super) fn route(state: &mut State, request: &Request<'_>, is_root: bool) -> Reply {
    let (mount, rest) = request.path.split_once('/').unwrap_or((request.path, ""));
    if !state.kv.contains_key(mount) {
        if is_root {
            return Reply::errors(
                404,
                &[&format!(
                    "no handler for route {:?}. route entry not found.",
                    request.path
                )],
            );
        }
        return Reply::errors(403, &[POLICY_DENIED]);
    }
    if *request.method != Method::GET {
        return Reply::errors(403, &[POLICY_DENIED]);
    }
    let (api, path) = rest.split_once('/').unwrap_or((rest, ""));
    match api {
        "data" if !path.is_empty() && !path.ends_with('/') => {
            read_data(state, mount, path, request)
        }
        "metadata" if !path.is_empty() && !path.ends_with('/') => read_metadata(state, mount, path),
        _ => Reply::errors(404, &[UNSUPPORTED_PATH]),
    }
}

/// The `version` query parameter: 0 (latest) when absent.
fn requested_version(query: Option<&str>) -> Result<u64, Reply> {
    let raw = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "version")
        .map(|(_, value)| value);
    match raw {
        None | Some("") => Ok(0),
        Some(value) => value.parse().map_err(|_| {
            Reply::errors(
                400,
                &[&format!(
                    "1 error occurred:\n\t* error converting input {value} for field \"version\": cannot parse '' as int: strconv.ParseInt: parsing {value:?}: invalid syntax\n\n"
                )],
            )
        }),
    }
}

fn version_metadata(version: &Version, number: u64) -> Value {
    json!({
        "created_time": wire::rfc3339_nano(version.created),
        "custom_metadata": null,
        "deletion_time": version.deleted.map(wire::rfc3339_nano).unwrap_or_default(),
        "destroyed": version.destroyed,
        "version": number,
    })
}

/// `GET {mount}/data/{path}`: the version's data and metadata; 404 `{"errors":[]}` for an absent
/// secret or version; 404 with the envelope and `data: null` for a deleted or destroyed one.
fn read_data(state: &mut State, mount: &str, path: &str, request: &Request<'_>) -> Reply {
    let asked = match requested_version(request.query) {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    state.stats.kv_reads += 1;
    let Some(secret) = state.kv.get(mount).and_then(|m| m.get(path)) else {
        return Reply::errors(404, &[]).not_found();
    };
    let number = if asked == 0 {
        secret.versions.len() as u64
    } else {
        asked
    };
    let Some(version) = usize::try_from(number)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| secret.versions.get(i))
    else {
        return Reply::errors(404, &[]).not_found();
    };
    let metadata = version_metadata(version, number);
    if version.deleted.is_some() || version.destroyed {
        // The engine answers with its own body (logical.RespondWithStatusCode), marshalled before
        // the mount type is attached.
        let envelope = Envelope::data(json!({ "data": null, "metadata": metadata }), "");
        return Reply::json(404, &envelope).not_found();
    }
    let data: Map<String, Value> = version
        .data
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Reply::ok(&Envelope::data(
        json!({ "data": data, "metadata": metadata }),
        "kv",
    ))
}

/// `GET {mount}/metadata/{path}`: the key's metadata and every version's times.
fn read_metadata(state: &mut State, mount: &str, path: &str) -> Reply {
    state.stats.metadata_reads += 1;
    let Some(secret) = state.kv.get(mount).and_then(|m| m.get(path)) else {
        return Reply::errors(404, &[]).not_found();
    };
    Reply::ok(&Envelope::data(metadata(secret), "kv"))
}

fn metadata(secret: &Secret) -> Value {
    let versions: Map<String, Value> = secret
        .versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut entry = version_metadata(v, 0);
            if let Value::Object(fields) = &mut entry {
                fields.remove("version");
                fields.remove("custom_metadata");
            }
            ((i + 1).to_string(), entry)
        })
        .collect();
    let first = secret.versions.first().map(|v| v.created);
    let last = secret.versions.last().map(|v| v.created);
    json!({
        "cas_required": false,
        "created_time": first.map(wire::rfc3339_nano).unwrap_or_default(),
        "current_version": secret.versions.len(),
        "custom_metadata": null,
        "delete_version_after": "0s",
        "max_versions": 0,
        "oldest_version": 0,
        "updated_time": last.map(wire::rfc3339_nano).unwrap_or_default(),
        "versions": versions,
    })
}
