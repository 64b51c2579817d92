//! A Kubernetes Event on the namespace for each action, so `kubectl get events`
//! and cluster audit pipelines see what tighten did.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Client;
use kube::api::{Api, PostParams};

use crate::cluster::{AuditOutcome, AuditRecord, ClusterError};

use super::apply::classify;

pub async fn announce(client: &Client, record: &AuditRecord) -> Result<(), ClusterError> {
    let (kind, outcome) = match &record.outcome {
        AuditOutcome::Succeeded => ("Normal", "succeeded".to_string()),
        AuditOutcome::Failed(why) => ("Warning", format!("failed: {why}")),
        AuditOutcome::Refused(why) => ("Warning", format!("refused: {why}")),
    };
    let reason: String = record
        .action
        .split('-')
        .map(|w| {
            w.chars()
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + &w[1..])
                .unwrap_or_default()
        })
        .collect();
    let message = format!(
        "{} by {}: {outcome}{}",
        record.action,
        record.user,
        record.backup_note()
    );
    let now = Time(record.time);
    let event = Event {
        metadata: ObjectMeta {
            generate_name: Some("tighten-".into()),
            namespace: Some(record.namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Namespace".into()),
            name: Some(record.namespace.clone()),
            // The API server wants it equal to the Event's own namespace, even
            // though a Namespace is cluster-scoped.
            namespace: Some(record.namespace.clone()),
            ..ObjectReference::default()
        },
        reason: Some(format!("Tighten{reason}")),
        message: Some(message),
        type_: Some(kind.into()),
        source: Some(EventSource {
            component: Some("tighten".into()),
            ..EventSource::default()
        }),
        reporting_component: Some("tighten".into()),
        reporting_instance: Some(record.user.clone()),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        count: Some(1),
        ..Event::default()
    };
    Api::<Event>::namespaced(client.clone(), &record.namespace)
        .create(&PostParams::default(), &event)
        .await
        .map(|_| ())
        .map_err(|e| classify(&format!("create Event in {}", record.namespace), e))
}
