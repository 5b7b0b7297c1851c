//! `tls self-signed`: a development certificate (rcgen, ECDSA P-256) and its private key,
//! each written to a temporary file and renamed into place (the key with mode 0600), and the
//! configuration lines that serve HTTPS with them.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, KeyUsagePurpose};

/// What the certificate is for when no `--host` is given.
const DEFAULT_HOSTS: &[&str] = &["localhost", "127.0.0.1", "::1"];

pub fn self_signed(out: &Path, hosts: &[String], days: u32, force: bool) -> anyhow::Result<()> {
    let hosts: Vec<String> = if hosts.is_empty() {
        DEFAULT_HOSTS.iter().map(|h| (*h).to_owned()).collect()
    } else {
        hosts.to_vec()
    };
    let cert = out.join("cert.pem");
    let key = out.join("key.pem");
    if !force {
        for file in [&cert, &key] {
            if file.exists() {
                bail!(
                    "{} exists: pass --force to replace it (a running server picks up the \
                     new pair on SIGHUP or within seconds)",
                    file.display()
                );
            }
        }
    }
    let made = generate(&hosts, days)?;
    if !out.is_dir() {
        create_private_dir(out)?;
    }
    write_replacing(&key, made.key_pem.as_bytes(), 0o600)?;
    write_replacing(&cert, made.cert_pem.as_bytes(), 0o644)?;
    let cert = absolute(&cert)?;
    let key = absolute(&key)?;
    let quoted = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
    println!(
        "wrote {cert}: a self-signed certificate for {hosts} (ECDSA P-256), valid until {until}\n\
         wrote {key}: its private key (mode 0600)\n\
         \n\
         Serve HTTPS with them, in config.toml:\n\
         \n\
         [server.tls]\n\
         cert_path = {cert_q}\n\
         key_path = {key_q}\n\
         \n\
         or in the environment:\n\
         \n\
         NEXUS_SCRIBE__SERVER__TLS__CERT_PATH={cert}\n\
         NEXUS_SCRIBE__SERVER__TLS__KEY_PATH={key}\n\
         \n\
         Clients must trust {cert} (e.g. `nexus-scribe bot stream --ca-cert {cert}`, \
         `curl --cacert {cert}`). For development only: in production use a certificate \
         from a real CA.",
        cert = cert.display(),
        key = key.display(),
        hosts = hosts.join(", "),
        until = made.not_after.date(),
        cert_q = quoted(&cert),
        key_q = quoted(&key),
    );
    Ok(())
}

/// A generated pair, PEM.
struct SelfSigned {
    cert_pem: String,
    key_pem: String,
    not_after: time::OffsetDateTime,
}

/// A self-signed server certificate for `hosts` (names or IP addresses), valid from an hour ago
/// (clocks drift) for `days`.
fn generate(hosts: &[String], days: u32) -> anyhow::Result<SelfSigned> {
    // rcgen takes any ASCII as a DNS name; a client checks names as rustls does.
    if let Some(bad) = hosts
        .iter()
        .find(|h| rustls::pki_types::ServerName::try_from(h.as_str()).is_err())
    {
        bail!("--host {bad:?} is not a host name or IP address");
    }
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .context("cannot generate an ECDSA P-256 key")?;
    let mut params =
        CertificateParams::new(hosts.to_vec()).context("--host: not a host name or IP address")?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "NexusScribe development certificate");
    params.distinguished_name = name;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(i64::from(days));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params
        .self_signed(&key)
        .context("cannot sign the certificate")?;
    Ok(SelfSigned {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after: params.not_after,
    })
}

/// Creates `dir` (and its parents) with mode 0700 for the folder itself.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Writes `bytes` to a new temporary file beside `path` with `mode`, then renames it over
/// `path`, so a reader (a server reloading) sees the old file or the new one, never half.
fn write_replacing(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .context("no file name")?
        .to_string_lossy()
        .into_owned();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = renamed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    path.canonicalize()
        .with_context(|| format!("cannot resolve {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_pair_the_server_loads_with_a_private_key_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("tls");
        self_signed(&out, &["notes.example.org".into()], 30, false).expect("writes");
        let files = gateway::tls::CertFiles {
            cert: out.join("cert.pem"),
            key: out.join("key.pem"),
        };
        let tls = gateway::tls::Tls::from_files(files.clone()).expect("the server loads it");
        let first = tls.certs.current().cert[0].clone();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&files.key), 0o600);
            assert_eq!(mode(&out), 0o700);
        }
        let err = self_signed(&out, &[], 30, false).expect_err("exists");
        assert!(format!("{err:#}").contains("--force"), "{err:#}");
        self_signed(&out, &[], 30, true).expect("replaces");
        tls.certs.reload().expect("reloads");
        assert_ne!(tls.certs.current().cert[0], first, "a new certificate");
        let leftovers: Vec<_> = std::fs::read_dir(&out)
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    }

    #[test]
    fn a_bad_host_is_named() {
        // (No `expect_err`: the pair holds a private key and has no `Debug`.)
        let Err(err) = generate(&["not a host name!".into()], 1) else {
            panic!("a bad host was accepted");
        };
        assert!(format!("{err:#}").contains("--host"), "{err:#}");
    }
}
