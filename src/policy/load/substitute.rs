//! Flux post-build variable substitution (`spec.postBuild.substitute`), on a
//! file's text before it is parsed, as kustomize-controller does it after the
//! build.
//!
//! Flux's envsubst reads only the braced form: `${VAR}`, and with a default
//! `${VAR:=default}`, `${VAR:-default}` (also `=` and `-`: every form takes the
//! default when the variable is unset or empty). A bare `$VAR` is left alone,
//! which is how Flux users keep shell scripts intact, and `$$` writes one `$`,
//! so `$${VAR}` stays `${VAR}`. Documents labelled or annotated
//! `kustomize.toolkit.fluxcd.io/substitute: disabled` are left as they are.
//!
//! Unlike kustomize-controller without its strict mode, which writes an empty
//! string, a variable with no value and no default is an error here: an empty
//! CIDR or name would make the policy mean something else than in the cluster.

use std::collections::BTreeMap;

use serde_json::Value;

/// The label or annotation with which Flux skips a document.
const DISABLE_KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// A `${...}` that cannot be substituted, at a 1-based line of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubstituteError {
    pub line: usize,
    pub message: String,
}

/// Whether a variable name is one Flux accepts (`^[_[:alpha:]][_[:alpha:][:digit:]]*$`).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Substitutes `vars` into each document of `text` that has a `${`.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> Result<String, SubstituteError> {
    let mut out = String::with_capacity(text.len());
    let mut first_line = 1;
    for (document, separator) in documents(text) {
        if document.contains("${") && !disabled(document) {
            out.push_str(&expand(document, vars, first_line)?);
        } else {
            out.push_str(document);
        }
        out.push_str(separator);
        first_line += document.matches('\n').count() + separator.matches('\n').count();
    }
    Ok(out)
}

/// The documents of a YAML stream with the `---` line that follows each, split on
/// the text, as Flux does, so that the line numbers stay the file's.
fn documents(text: &str) -> Vec<(&str, &str)> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        if body.starts_with("---") && body[3..].chars().all(|c| c == ' ' || c == '\t') {
            parts.push((&text[start..offset], line));
            start = offset + line.len();
        }
        offset += line.len();
    }
    parts.push((&text[start..], ""));
    parts
}

fn disabled(document: &str) -> bool {
    let Ok(value) = serde_yaml::from_str::<Value>(document) else {
        return false;
    };
    ["labels", "annotations"].iter().any(|field| {
        value
            .get("metadata")
            .and_then(|m| m.get(field))
            .and_then(|m| m.get(DISABLE_KEY))
            .and_then(Value::as_str)
            == Some("disabled")
    })
}

/// Expands one document; `first_line` is the file line the document starts on.
fn expand(text: &str, vars: &BTreeMap<String, String>, first_line: usize) -> Result<String, SubstituteError> {
    let mut parser = Parser {
        text,
        pos: 0,
        vars,
        first_line,
    };
    parser.text_until(None)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    vars: &'a BTreeMap<String, String>,
    first_line: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn error(&self, at: usize, message: String) -> SubstituteError {
        SubstituteError {
            line: self.first_line + self.text[..at].matches('\n').count(),
            message,
        }
    }

    /// Literal text and expansions, up to the end, or (inside a default) up to
    /// the `}` that closes it, which is left for the caller.
    fn text_until(&mut self, close: Option<usize>) -> Result<String, SubstituteError> {
        let mut out = String::new();
        while let Some(c) = self.rest().chars().next() {
            if c == '}' && close.is_some() {
                return Ok(out);
            }
            if self.rest().starts_with("$$") {
                out.push('$');
                self.pos += 2;
            } else if self.rest().starts_with("${") {
                out.push_str(&self.expansion()?);
            } else {
                out.push(c);
                self.pos += c.len_utf8();
            }
        }
        match close {
            Some(open) => Err(self.error(open, format!("{} has no closing }}", self.snippet(open)))),
            None => Ok(out),
        }
    }

    /// One `${...}`, the parser at its `$`.
    fn expansion(&mut self) -> Result<String, SubstituteError> {
        let open = self.pos;
        self.pos += 2;
        let name_len = self
            .rest()
            .find(|c: char| !(c == '_' || c.is_alphanumeric()))
            .unwrap_or(self.rest().len());
        let name = self.rest()[..name_len].to_string();
        self.pos += name_len;
        if name.is_empty() {
            return Err(self.error(open, format!("{}: a variable name must follow ${{", self.snippet(open))));
        }
        let value = self.vars.get(&name).filter(|v| !v.is_empty());
        let operator = ["}", ":=", ":-", "=", "-"]
            .into_iter()
            .find(|op| self.rest().starts_with(op));
        match operator {
            Some("}") => {
                self.pos += 1;
                match self.vars.get(&name) {
                    Some(value) => Ok(value.clone()),
                    None => Err(self.error(open, format!("${{{name}}} has no value: give it with --var {name}=..."))),
                }
            }
            Some(op) => {
                self.pos += op.len();
                let default = self.text_until(Some(open))?;
                self.pos += 1;
                Ok(value.cloned().unwrap_or(default))
            }
            None if self.rest().is_empty() => {
                Err(self.error(open, format!("{} has no closing }}", self.snippet(open))))
            }
            None => Err(self.error(
                open,
                format!(
                    "{}: tighten substitutes ${{{name}}}, ${{{name}:=default}} and ${{{name}:-default}} only",
                    self.snippet(open)
                ),
            )),
        }
    }

    /// The expansion starting at `open`, for messages, up to its line's end.
    fn snippet(&self, open: usize) -> &str {
        let text = &self.text[open..];
        let end = text
            .find('}')
            .map(|i| i + 1)
            .into_iter()
            .chain(text.find('\n'))
            .min()
            .unwrap_or(text.len());
        &text[..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn each_syntax_is_substituted() {
        let v = vars(&[("CIDR", "10.0.0.0/8"), ("EMPTY", "")]);
        let s = |t| substitute(t, &v).expect("substitutes");
        assert_eq!(s("cidr: ${CIDR}\n"), "cidr: 10.0.0.0/8\n");
        assert_eq!(s("a: ${CIDR:=1.2.3.4/32}"), "a: 10.0.0.0/8");
        assert_eq!(s("a: ${MISSING:=1.2.3.4/32}"), "a: 1.2.3.4/32");
        assert_eq!(s("a: ${MISSING:-x}-${MISSING-y}-${MISSING=z}"), "a: x-y-z");
        assert_eq!(s("a: ${EMPTY:-fallback} b: ${EMPTY}."), "a: fallback b: .");
        assert_eq!(
            s("a: ${MISSING:-${CIDR}}"),
            "a: 10.0.0.0/8",
            "a default may hold a variable"
        );
        assert_eq!(s("a: ${MISSING:=}"), "a: ");
    }

    #[test]
    fn escapes_and_bare_dollars_stay_literal() {
        let v = vars(&[("NAME", "shop")]);
        let s = |t| substitute(t, &v).expect("substitutes");
        assert_eq!(s("a: $${NAME} ${NAME}"), "a: ${NAME} shop");
        assert_eq!(s("a: $NAME ${NAME} $ 5$"), "a: $NAME shop $ 5$");
        assert_eq!(s("a: $$$${NAME}"), "a: $${NAME}");
    }

    #[test]
    fn a_variable_without_value_names_its_line() {
        let text = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n---\nmetadata:\n  name: x\nspec:\n  cidr: ${CLUSTER_NAME}\n";
        let err = substitute(text, &BTreeMap::new()).expect_err("no value");
        assert_eq!(err.line, 7);
        assert_eq!(
            err.message,
            "${CLUSTER_NAME} has no value: give it with --var CLUSTER_NAME=..."
        );
        let err = substitute("a: 1\nb: ${X^^}\n", &BTreeMap::new()).expect_err("unsupported");
        assert_eq!(err.line, 2);
        assert!(
            err.message.starts_with("${X^^}: tighten substitutes"),
            "{}",
            err.message
        );
        let err = substitute("a: ${X:-1\nb: 2\n", &BTreeMap::new()).expect_err("unclosed");
        assert_eq!((err.line, err.message.as_str()), (1, "${X:-1 has no closing }"));
        let err = substitute("a: ${}\n", &BTreeMap::new()).expect_err("no name");
        assert!(err.message.contains("a variable name"), "{}", err.message);
    }

    #[test]
    fn documents_that_disable_substitution_are_left_alone() {
        let text = "metadata:\n  annotations: {kustomize.toolkit.fluxcd.io/substitute: disabled}\ndata: ${KEEP}\n---\nname: ${NAME}\n";
        let out = substitute(text, &vars(&[("NAME", "shop")])).expect("substitutes");
        assert_eq!(
            out,
            "metadata:\n  annotations: {kustomize.toolkit.fluxcd.io/substitute: disabled}\ndata: ${KEEP}\n---\nname: shop\n"
        );
    }

    #[test]
    fn broken_text_is_an_error_not_a_panic() {
        let v = vars(&[("A", "é")]);
        for text in [
            "${",
            "$",
            "${A:-",
            "${A:-${",
            "$${",
            "${é}",
            "${A:-}}",
            "x\n${A",
            "${A}${A:=€}",
        ] {
            let _ = substitute(text, &v);
        }
        assert_eq!(substitute("${é}", &v).expect_err("unset").line, 1);
        assert_eq!(substitute("${A}${A:=€}", &v).expect("substitutes"), "éé");
    }

    #[test]
    fn names_are_checked_as_flux_checks_them() {
        assert!(valid_name("CLUSTER_CIDR") && valid_name("_x1"));
        assert!(!valid_name("1X") && !valid_name("my-var") && !valid_name(""));
    }
}
