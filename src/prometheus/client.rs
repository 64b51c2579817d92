//! A small client for Prometheus's HTTP API: instant queries and the label
//! names a metric's series carry. Every error names the server (and the
//! query), so the operator can try it in a browser or Grafana.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// One series of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromError {
    #[error("Prometheus at {url} cannot be reached: {message}")]
    Unreachable { url: String, message: String },
    #[error("Prometheus at {url} rejected `{query}`: {message}")]
    Rejected {
        url: String,
        query: String,
        message: String,
    },
    #[error("Prometheus at {url} answered `{query}` with something unexpected: {message}")]
    Malformed {
        url: String,
        query: String,
        message: String,
    },
}

/// A Prometheus server.
#[derive(Debug, Clone)]
pub struct Prometheus {
    base: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Vector {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<VectorSample>,
}

#[derive(Deserialize)]
struct VectorSample {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

impl Prometheus {
    /// `url` is the server's base (`http://prometheus:9090`, or an API
    /// server's service-proxy path).
    pub fn new(url: &str) -> Result<Prometheus, String> {
        check_url(url)?;
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| format!("--prometheus {url}: {e}"))?;
        Ok(Prometheus {
            base: url.trim_end_matches('/').to_string(),
            http,
        })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    async fn get<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        params: &[(&str, &str)],
        query: &str,
    ) -> Result<T, PromError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .get(&url)
            .query(params)
            .send()
            .await
            .map_err(|e| PromError::Unreachable {
                url: self.base.clone(),
                message: reason(&e),
            })?;
        let status = response.status();
        let body = response.text().await.map_err(|e| PromError::Unreachable {
            url: self.base.clone(),
            message: reason(&e),
        })?;
        let malformed = |message: String| PromError::Malformed {
            url: self.base.clone(),
            query: query.to_string(),
            message,
        };
        let envelope: Envelope<T> = serde_json::from_str(&body).map_err(|e| {
            let start: String = body.chars().take(120).collect();
            malformed(format!("HTTP {status}, {e}: {start}"))
        })?;
        if envelope.status != "success" {
            return Err(PromError::Rejected {
                url: self.base.clone(),
                query: query.to_string(),
                message: envelope.error.unwrap_or_else(|| format!("HTTP {status}")),
            });
        }
        envelope.data.ok_or_else(|| malformed("no data".into()))
    }

    /// An instant query: one sample per series.
    pub async fn query(&self, promql: &str) -> Result<Vec<Sample>, PromError> {
        let vector: Vector = self.get("/api/v1/query", &[("query", promql)], promql).await?;
        if vector.result_type != "vector" {
            return Err(PromError::Malformed {
                url: self.base.clone(),
                query: promql.to_string(),
                message: format!("a {} instead of a vector", vector.result_type),
            });
        }
        vector
            .result
            .into_iter()
            .map(|s| {
                let value = s.value.1.parse::<f64>().map_err(|e| PromError::Malformed {
                    url: self.base.clone(),
                    query: promql.to_string(),
                    message: format!("value {:?}: {e}", s.value.1),
                })?;
                Ok(Sample {
                    labels: s.metric,
                    value,
                })
            })
            .collect()
    }

    /// The label names `metric`'s series carry (empty when it has none).
    pub async fn label_names(&self, metric: &str) -> Result<BTreeSet<String>, PromError> {
        let series: Vec<BTreeMap<String, String>> = self.get("/api/v1/series", &[("match[]", metric)], metric).await?;
        Ok(series
            .into_iter()
            .flat_map(|s| s.into_keys())
            .filter(|k| k != "__name__")
            .collect())
    }
}

/// Whether `url` can name a Prometheus (http or https); the error says why not.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("--prometheus {url}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("--prometheus {url}: want an http or https URL"));
    }
    Ok(())
}

/// The part of a request error an operator acts on: reqwest's own message
/// repeats the URL, the innermost cause says what happened.
fn reason(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", TIMEOUT.as_secs());
    }
    let mut innermost: &dyn std::error::Error = error;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    innermost.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(Prometheus::new("http://127.0.0.1:9090/").is_ok());
        assert_eq!(
            Prometheus::new("http://127.0.0.1:9090/").map(|p| p.url().to_string()),
            Ok("http://127.0.0.1:9090".to_string())
        );
        assert!(Prometheus::new("ftp://x").is_err_and(|e| e.contains("http or https")));
        assert!(Prometheus::new("not a url").is_err_and(|e| e.starts_with("--prometheus not a url")));
    }
}
