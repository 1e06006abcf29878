//! graygate's configuration as written by operators: a YAML file parsed into plain serde structs
//! ([`Config`]), with every error located at `file:line:column` and a field path.
//!
//! This crate sits before the request path. It only reads text; it does not check meaning.
//! The stage crates (route, canary, upstream, files) turn these structs into their runtime types
//! and report what is wrong as [`FieldError`]s (a field path and a message); [`Document::locate`]
//! turns those into [`ConfigError`]s that point at the offending line, so every kind of mistake
//! reads the same way whether the YAML parser or a stage found it.

mod error;
mod locate;
mod model;

pub use error::{ConfigError, ConfigErrors, FieldError, FieldPath, Segment};
pub use model::*;

use std::path::{Path, PathBuf};

/// A configuration text together with where it came from, kept so that errors found after
/// parsing (by the stages that build runtime types) can still be pointed at a line.
#[derive(Debug, Clone)]
pub struct Document {
    origin: String,
    text: String,
    base_dir: PathBuf,
}

impl Document {
    /// Reads a configuration file. Relative paths inside it resolve against its directory.
    pub fn read(path: &Path) -> Result<Document, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::one(ConfigError {
                origin: path.display().to_string(),
                line: 0,
                column: 0,
                path: FieldPath::root(),
                message: format!("cannot read the file: {e}"),
            })
        })?;
        let base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(Document::from_text(
            path.display().to_string(),
            text,
            base_dir,
        ))
    }

    /// A configuration held in memory; `origin` names it in errors.
    pub fn from_text(
        origin: impl Into<String>,
        text: impl Into<String>,
        base_dir: impl Into<PathBuf>,
    ) -> Document {
        Document {
            origin: origin.into(),
            text: text.into(),
            base_dir: base_dir.into(),
        }
    }

    /// The directory relative paths in this document resolve against.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Where this document came from (a file name, or a label for embedded text).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Parses the YAML into the configuration model. Unknown fields, wrong types and YAML syntax
    /// errors come back located at the line and column of the offending node.
    pub fn parse(&self) -> Result<Config, ConfigErrors> {
        match serde_saphyr::from_str::<Config>(&self.text) {
            Ok(config) => Ok(config),
            Err(err) => {
                let (line, column) = err
                    .location()
                    .map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
                let index = locate::Index::build(&self.text);
                let mut path = index.path_at(line, column);
                let message = error::plain_message(&err);
                let (mut line, mut column) = (line, column);
                // The parser points a missing field at some key of the mapping that lacks it;
                // the error belongs to the mapping, where it starts.
                if message.starts_with("missing field") {
                    path.0.pop();
                    (line, column) = index.find(&path);
                }
                Err(ConfigErrors::one(ConfigError {
                    origin: self.origin.clone(),
                    line,
                    column,
                    path,
                    message,
                }))
            }
        }
    }

    /// Points field errors found by the stages at their place in this document.
    pub fn locate(&self, errors: Vec<FieldError>) -> ConfigErrors {
        let index = locate::Index::build(&self.text);
        ConfigErrors(
            errors
                .into_iter()
                .map(|e| {
                    let (line, column) = index.find(&e.path);
                    ConfigError {
                        origin: self.origin.clone(),
                        line,
                        column,
                        path: e.path,
                        message: e.message,
                    }
                })
                .collect(),
        )
    }
}
