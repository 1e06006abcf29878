//! The embedded demo: a config and two versions of a static site, compiled into the binary and
//! unpacked into a private temporary directory at start, so the demo runs through exactly the
//! same config loader and static-file path as any real site.

use std::path::PathBuf;

const FILES: &[(&str, &str)] = &[
    ("graygate.yaml", include_str!("../demo/graygate.yaml")),
    ("1.0.0/index.html", include_str!("../demo/1.0.0/index.html")),
    ("1.0.0/style.css", include_str!("../demo/1.0.0/style.css")),
    ("1.1.0/index.html", include_str!("../demo/1.1.0/index.html")),
    ("1.1.0/style.css", include_str!("../demo/1.1.0/style.css")),
];

/// The unpacked demo; its directory is removed when dropped.
pub struct Demo {
    dir: PathBuf,
}

impl Demo {
    pub fn unpack() -> std::io::Result<Demo> {
        let dir = std::env::temp_dir().join(format!("graygate-demo-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        for (name, text) in FILES {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, text)?;
        }
        Ok(Demo { dir })
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("graygate.yaml")
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
