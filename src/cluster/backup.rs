//! Backups: the full objects, written and fsynced before anything is deleted.
//!
//! A backup is a multi-document YAML file that `kubectl apply -f` also accepts,
//! with a comment header saying where it came from.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Deserialize;

use super::objects::PolicyObject;

/// A backup that could not be written or read, naming the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), location.as_deref().unwrap_or(""))]
pub struct BackupError {
    pub path: PathBuf,
    /// ` document 2, line 7` when known.
    pub location: Option<String>,
    pub message: String,
}

/// Where the backup came from, written as its header.
pub struct BackupHeader<'a> {
    pub context: &'a str,
    pub namespace: &'a str,
    pub action: &'a str,
    pub written: Timestamp,
}

/// Writes `objects` to `path` (which must not exist) and fsyncs file and directory,
/// so the backup survives a crash that happens during the deletes that follow.
pub fn write(path: &Path, header: &BackupHeader<'_>, objects: &[&PolicyObject]) -> Result<(), BackupError> {
    let fail = |message: String| BackupError {
        path: path.to_path_buf(),
        location: None,
        message,
    };
    let dir = path.parent().ok_or_else(|| fail("has no parent directory".into()))?;
    fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create the directory: {e}")))?;

    let mut text = format!(
        "# tighten backup\n# context: {}\n# namespace: {}\n# action: {}\n# written: {}\n# restore: select the namespace in tighten and press the restore key, or kubectl apply -f {}\n",
        header.context,
        header.namespace,
        header.action,
        header.written,
        path.display()
    );
    for object in objects {
        let yaml = serde_yaml::to_string(&object.without_server_fields().to_manifest())
            .map_err(|e| fail(format!("cannot render {}: {e}", object.object_ref())))?;
        text.push_str("---\n");
        text.push_str(&yaml);
    }

    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| fail(format!("cannot create: {e}")))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| fail(format!("cannot write: {e}")))?;
    // The directory entry must be durable too, or the file may vanish on a crash.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail(format!("cannot sync the directory: {e}")))?;
    Ok(())
}

/// Reads a backup back into policy objects.
pub fn read(path: &Path) -> Result<Vec<PolicyObject>, BackupError> {
    let text = fs::read_to_string(path).map_err(|e| BackupError {
        path: path.to_path_buf(),
        location: None,
        message: format!("cannot read: {e}"),
    })?;
    parse(path, &text)
}

/// Parses backup text; errors name the document and line.
pub fn parse(path: &Path, text: &str) -> Result<Vec<PolicyObject>, BackupError> {
    let mut objects = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let at = |line: Option<usize>| {
            Some(match line {
                Some(l) => format!(":{l} (document {})", index + 1),
                None => format!(" (document {})", index + 1),
            })
        };
        let value = serde_json::Value::deserialize(document).map_err(|e| BackupError {
            path: path.to_path_buf(),
            location: at(e.location().map(|l| l.line())),
            message: e.to_string(),
        })?;
        if value.is_null() {
            continue;
        }
        let object = PolicyObject::from_manifest(&value).map_err(|e| BackupError {
            path: path.to_path_buf(),
            location: at(None),
            message: e.to_string(),
        })?;
        objects.push(object);
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(name: &str) -> PolicyObject {
        PolicyObject::from_manifest(&json!({
            "kind": "CiliumNetworkPolicy",
            "metadata": {"name": name, "namespace": "shop", "resourceVersion": "7", "uid": "u"},
            "spec": {"endpointSelector": {}},
            "status": {"ok": true}
        }))
        .expect("valid")
    }

    #[test]
    fn backups_round_trip_without_server_fields() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("shop/backup.yaml");
        let (a, b) = (object("a"), object("b"));
        let header = BackupHeader {
            context: "demo",
            namespace: "shop",
            action: "rollback-namespace",
            written: Timestamp::UNIX_EPOCH,
        };
        write(&path, &header, &[&a, &b]).expect("written");
        let back = read(&path).expect("read back");
        assert_eq!(back, vec![a.without_server_fields(), b.without_server_fields()]);
        let text = fs::read_to_string(&path).expect("text");
        assert!(text.starts_with("# tighten backup\n# context: demo\n"));
        // Never overwrites an existing backup.
        assert!(write(&path, &header, &[&a]).is_err());
    }

    #[test]
    fn bad_backups_name_file_document_and_line() {
        let path = Path::new("/backups/shop.yaml");
        let text = "---\nkind: CiliumNetworkPolicy\nmetadata: {name: a, namespace: shop}\n---\nkind: [oops\n";
        let err = parse(path, text).expect_err("second document is broken");
        let shown = err.to_string();
        assert!(shown.starts_with("/backups/shop.yaml:"), "{shown}");
        assert!(shown.contains("document 2"), "{shown}");

        let err = parse(path, "kind: Deployment\nmetadata: {name: a}\n").expect_err("not a policy");
        assert!(err.to_string().contains("document 1"), "{err}");
    }
}
