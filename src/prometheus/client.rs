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

/// A Prometheus server, reached directly or through the API server's service
/// proxy.
#[derive(Clone)]
pub struct Prometheus {
    /// The URL, or the service-proxy path under the API server.
    base: String,
    /// What errors and the Gate tab call it.
    name: String,
    transport: Transport,
}

#[derive(Clone)]
enum Transport {
    Http(reqwest::Client),
    /// The kube client's credentials carry the request to
    /// `/api/v1/namespaces/NS/services/NAME:PORT/proxy/…`.
    ApiProxy(kube::Client),
}

impl std::fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prometheus").field("name", &self.name).finish()
    }
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
        let base = url.trim_end_matches('/').to_string();
        Ok(Prometheus {
            name: base.clone(),
            base,
            transport: Transport::Http(http),
        })
    }

    /// A Prometheus Service reached through the API server's service proxy,
    /// with the kube client's credentials (RBAC: `get` on `services/proxy`).
    /// `port` is the Service port's name or number.
    pub fn through_api_server(client: kube::Client, namespace: &str, service: &str, port: &str) -> Prometheus {
        Prometheus {
            base: format!("/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy"),
            name: format!("service {namespace}/{service}:{port} (through the API server)"),
            transport: Transport::ApiProxy(client),
        }
    }

    /// What the operator knows it by: its URL, or the Service it was found as.
    pub fn url(&self) -> &str {
        &self.name
    }

    fn unreachable(&self, message: String) -> PromError {
        PromError::Unreachable {
            url: self.name.clone(),
            message,
        }
    }

    /// One GET: the HTTP status and the body.
    async fn fetch(&self, path: &str, params: &[(&str, &str)]) -> Result<(u16, String), PromError> {
        match &self.transport {
            Transport::Http(http) => {
                let response = http
                    .get(format!("{}{path}", self.base))
                    .query(params)
                    .send()
                    .await
                    .map_err(|e| self.unreachable(reason(&e)))?;
                let status = response.status().as_u16();
                let body = response.text().await.map_err(|e| self.unreachable(reason(&e)))?;
                Ok((status, body))
            }
            Transport::ApiProxy(client) => {
                // Only to encode the parameters as a query string.
                let mut url = reqwest::Url::parse("http://api-server").map_err(|e| self.unreachable(e.to_string()))?;
                url.query_pairs_mut().extend_pairs(params);
                let target = format!("{}{path}?{}", self.base, url.query().unwrap_or_default());
                let request = http::Request::get(target)
                    .body(kube::client::Body::empty())
                    .map_err(|e| self.unreachable(e.to_string()))?;
                let exchange = async {
                    let response = client.send(request).await.map_err(|e| crate::errors::with_causes(&e))?;
                    let status = response.status().as_u16();
                    let bytes = response
                        .into_body()
                        .collect_bytes()
                        .await
                        .map_err(|e| crate::errors::with_causes(&e))?;
                    Ok::<_, String>((status, String::from_utf8_lossy(&bytes).into_owned()))
                };
                let (status, body) = tokio::time::timeout(TIMEOUT, exchange)
                    .await
                    .map_err(|_| self.unreachable(format!("no answer within {} s", TIMEOUT.as_secs())))?
                    .map_err(|e| self.unreachable(e))?;
                // The API server's own refusal (no endpoints, forbidden) is a
                // Kubernetes Status, not Prometheus's answer.
                if status >= 400
                    && let Some(message) = api_server_refusal(&body)
                {
                    return Err(self.unreachable(format!("the API server answered HTTP {status}: {message}")));
                }
                Ok((status, body))
            }
        }
    }

    async fn get<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        params: &[(&str, &str)],
        query: &str,
    ) -> Result<T, PromError> {
        let (status, body) = self.fetch(path, params).await?;
        let malformed = |message: String| PromError::Malformed {
            url: self.name.clone(),
            query: query.to_string(),
            message,
        };
        let envelope: Envelope<T> = serde_json::from_str(&body).map_err(|e| {
            let start: String = body.chars().take(120).collect();
            malformed(format!("HTTP {status}, {e}: {start}"))
        })?;
        if envelope.status != "success" {
            return Err(PromError::Rejected {
                url: self.name.clone(),
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
                url: self.name.clone(),
                query: promql.to_string(),
                message: format!("a {} instead of a vector", vector.result_type),
            });
        }
        vector
            .result
            .into_iter()
            .map(|s| {
                let value = s.value.1.parse::<f64>().map_err(|e| PromError::Malformed {
                    url: self.name.clone(),
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

/// The message of a Kubernetes `Status` body, when that is what came back.
fn api_server_refusal(body: &str) -> Option<String> {
    let status: serde_json::Value = serde_json::from_str(body).ok()?;
    (status.get("kind")?.as_str()? == "Status").then(|| {
        status
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("(no message)")
            .to_string()
    })
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

    #[test]
    fn the_api_servers_refusals_are_told_from_prometheus_answers() {
        let status = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"no endpoints available for service \"prometheus-k8s\"","reason":"ServiceUnavailable","code":503}"#;
        assert_eq!(
            api_server_refusal(status).as_deref(),
            Some(r#"no endpoints available for service "prometheus-k8s""#)
        );
        assert_eq!(
            api_server_refusal(r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#),
            None
        );
        assert_eq!(api_server_refusal("<html>"), None);
    }
}
