use std::fs;
use std::os::unix::fs::PermissionsExt;

use secrecy::ExposeSecret;

use super::*;

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o7777
}

fn write_with_mode(path: &Path, text: &str, mode: u32) {
    fs::write(path, text).expect("write");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn first_use_generates_a_0600_file_in_a_0700_folder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data").join("secrets");
    let source = FileSource::open_or_generate(&dir).expect("generate");
    assert!(source.was_generated());
    assert_eq!(source.path(), dir.join(SECRETS_FILE_NAME));
    assert_eq!(mode_of(&dir), 0o700);
    assert_eq!(mode_of(source.path()), 0o600);
    for name in SecretName::ALL {
        let value = source.get(name).expect("infallible").expect("generated");
        assert_eq!(value.expose_secret().len(), 43, "{name}");
    }
    // Nothing but the file is left in the folder (no temporary names).
    let entries: Vec<_> = fs::read_dir(&dir).expect("read_dir").collect();
    assert_eq!(entries.len(), 1);
}

#[test]
fn second_use_reads_the_same_values_without_regenerating() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("secrets");
    let first = FileSource::open_or_generate(&dir).expect("generate");
    let second = FileSource::open_or_generate(&dir).expect("reopen");
    assert!(!second.was_generated());
    for name in SecretName::ALL {
        let a = first.get(name).expect("ok").expect("present");
        let b = second.get(name).expect("ok").expect("present");
        assert_eq!(a.expose_secret(), b.expose_secret());
    }
}

#[test]
fn concurrent_first_use_agrees_on_one_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("secrets");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let dir = dir.clone();
            std::thread::spawn(move || FileSource::open_or_generate(&dir))
        })
        .collect();
    let sources: Vec<FileSource> = handles
        .into_iter()
        .map(|h| h.join().expect("thread").expect("open"))
        .collect();
    let generated = sources.iter().filter(|s| s.was_generated()).count();
    assert_eq!(generated, 1);
    let reference = sources[0]
        .get(SecretName::JwtSecret)
        .expect("ok")
        .expect("present");
    for source in &sources {
        let value = source
            .get(SecretName::JwtSecret)
            .expect("ok")
            .expect("present");
        assert_eq!(value.expose_secret(), reference.expose_secret());
    }
}

#[test]
fn a_file_readable_by_others_is_refused_with_the_fix() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join(SECRETS_FILE_NAME);
    write_with_mode(
        &path,
        "jwt_secret = \"0123456789abcdef0123456789abcdef-x\"\n",
        0o644,
    );
    let err = FileSource::open(&path).expect_err("0644 must be refused");
    assert!(
        matches!(err, SecretsError::InsecurePermissions { mode: 0o644, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains(&format!("chmod 600 {}", path.display())),
        "{message}"
    );
    assert!(!message.contains("0123456789abcdef"), "{message}");

    // The same refusal through the generating entry point; the file is left untouched.
    let err = FileSource::open_or_generate(tmp.path()).expect_err("refused");
    assert!(matches!(err, SecretsError::InsecurePermissions { .. }));
    assert_eq!(mode_of(&path), 0o644);

    // Group-readable only is refused too; 0400 is fine.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
    assert!(FileSource::open(&path).is_err());
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).expect("chmod");
    assert!(FileSource::open(&path).is_ok());
}

#[test]
fn a_folder_others_can_write_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("secrets");
    fs::create_dir(&dir).expect("mkdir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod");
    let err = FileSource::open_or_generate(&dir).expect_err("refused");
    assert!(err.to_string().contains("chmod 700"), "{err}");
    assert!(!dir.join(SECRETS_FILE_NAME).exists());
}

#[test]
fn unknown_keys_and_non_strings_are_refused_by_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join(SECRETS_FILE_NAME);
    write_with_mode(
        &path,
        "jwt_secrte = \"value-that-must-not-leak-1234567890\"\n",
        0o600,
    );
    let err = FileSource::open(&path).expect_err("unknown key");
    assert!(matches!(&err, SecretsError::UnknownKey { key, .. } if key == "jwt_secrte"));
    assert!(!err.to_string().contains("must-not-leak"));

    write_with_mode(&path, "master_key = 12345\n", 0o600);
    let err = FileSource::open(&path).expect_err("not a string");
    assert!(matches!(
        err,
        SecretsError::NotAString {
            name: SecretName::MasterKey,
            ..
        }
    ));
}

#[test]
fn syntax_errors_report_the_line_but_never_the_content() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join(SECRETS_FILE_NAME);
    write_with_mode(
        &path,
        "jwt_secret = \"fine-value-aaaaaaaaaaaaaaaaaaaaaaaaaa\"\nbot_key_secret = \"leaky-secret-unterminated\n",
        0o600,
    );
    let err = FileSource::open(&path).expect_err("syntax");
    assert!(
        matches!(err, SecretsError::Syntax { line: 2, .. }),
        "{err:?}"
    );
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("leaky-secret") && !shown.contains("fine-value"),
        "{shown}"
    );
}

#[test]
fn a_missing_name_in_an_existing_file_is_simply_absent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join(SECRETS_FILE_NAME);
    write_with_mode(
        &path,
        "jwt_secret = \"only-this-one-is-here-0123456789abc\"\n",
        0o600,
    );
    let source = FileSource::open(&path).expect("open");
    assert!(source.get(SecretName::JwtSecret).expect("ok").is_some());
    assert!(source.get(SecretName::BotKeySecret).expect("ok").is_none());
}

#[test]
fn debug_shows_names_and_path_but_no_values() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let source = FileSource::open_or_generate(tmp.path()).expect("generate");
    let debug = format!("{source:?}");
    for name in SecretName::ALL {
        let value = source.get(name).expect("ok").expect("present");
        assert!(!debug.contains(value.expose_secret()), "{debug}");
    }
    assert!(debug.contains("JwtSecret"), "{debug}");
}
