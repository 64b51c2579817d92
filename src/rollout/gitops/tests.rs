use super::*;

fn policy(labels_: &[(&str, &str)], annotations: &[(&str, &str)]) -> PolicyObject {
    PolicyObject {
        kind: crate::cluster::PolicyKind::CiliumNetworkPolicy,
        name: "p".into(),
        namespace: Some("shop".into()),
        labels: labels_.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        annotations: annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        uid: None,
        resource_version: None,
        created: None,
        body: serde_json::Map::new(),
    }
}

fn flux(namespace: &str, name: &str) -> Owner {
    Owner::Flux {
        namespace: namespace.into(),
        name: name.into(),
    }
}

fn kustomization(namespace: &str, name: &str, suspended: bool, parent: Option<Owner>) -> KustomizationInfo {
    KustomizationInfo {
        namespace: namespace.into(),
        name: name.into(),
        suspended,
        resource_version: Some("7".into()),
        parent,
        annotations: BTreeMap::new(),
        git: Default::default(),
    }
}

const NOTE: PauseNote<'static> = PauseNote {
    operator: "alice",
    at: "2026-11-24T05:00:00Z",
    reason: "tighten rollback-namespace of auth",
};

#[test]
fn owners_are_read_from_flux_labels_argo_tracking_ids_and_helm() {
    assert_eq!(
        Owner::of(&policy(
            &[(labels::FLUX_NAME, "apps"), (labels::FLUX_NAMESPACE, "gitops")],
            &[]
        )),
        Some(flux("gitops", "apps"))
    );
    // Flux's namespace label is optional: Flux's own namespace then.
    assert_eq!(
        Owner::of(&policy(&[(labels::FLUX_NAME, "apps")], &[])),
        Some(flux("flux-system", "apps"))
    );
    let tracked = |id: &str| Owner::of(&policy(&[], &[(labels::ARGO_TRACKING, id)]));
    assert_eq!(
        tracked("shop:cilium.io/CiliumNetworkPolicy:shop/allow-web"),
        Some(Owner::Argo {
            namespace: "argocd".into(),
            name: "shop".into()
        })
    );
    // Applications in any namespace: `<namespace>_<name>`.
    assert_eq!(
        tracked("team-a_shop:cilium.io/CiliumNetworkPolicy:shop/allow-web"),
        Some(Owner::Argo {
            namespace: "team-a".into(),
            name: "shop".into()
        })
    );
    // Argo CD's label tracking counts only when such an Application exists.
    let labelled = policy(&[(labels::ARGO_INSTANCE, "shop")], &[]);
    assert_eq!(Owner::of(&labelled), None);
    let applications = [ApplicationInfo {
        namespace: "gitops".into(),
        name: "shop".into(),
        automated: None,
        resource_version: None,
        parent: None,
        annotations: BTreeMap::new(),
        git: Default::default(),
    }];
    let view = GitOpsView {
        kustomizations: None,
        applications: Some(&applications),
    };
    let shop = Owner::Argo {
        namespace: "gitops".into(),
        name: "shop".into(),
    };
    assert_eq!(view.owner_of(&labelled), Some(shop.clone()));
    assert!(may_own(&shop, &labelled));
    assert_eq!(GitOpsView::default().owner_of(&labelled), None);
    assert_eq!(view.owner_of(&policy(&[(labels::ARGO_INSTANCE, "other")], &[])), None);
    let helm = Owner::of(&policy(&[], &[(labels::HELM_RELEASE, "jellyfin")])).expect("helm");
    assert!(!helm.reconciles());
    assert_eq!(Owner::of(&policy(&[("app", "x")], &[])), None);
}

/// Label tracking names an Application outside Argo CD's namespace as
/// `<namespace>_<name>`; a bare name is the one in Argo CD's namespace when
/// Applications of that name exist in several.
#[test]
fn label_tracking_tells_applications_of_the_same_name_apart() {
    let application = |namespace: &str| ApplicationInfo {
        namespace: namespace.into(),
        name: "shop".into(),
        automated: None,
        resource_version: None,
        parent: None,
        annotations: BTreeMap::new(),
        git: Default::default(),
    };
    let applications = [application("team-a"), application("argocd"), application("team-b")];
    let view = GitOpsView {
        kustomizations: None,
        applications: Some(&applications),
    };
    let argo = |namespace: &str| Owner::Argo {
        namespace: namespace.into(),
        name: "shop".into(),
    };
    let labelled = |instance: &str| policy(&[(labels::ARGO_INSTANCE, instance)], &[]);
    assert_eq!(view.owner_of(&labelled("team-b_shop")), Some(argo("team-b")));
    assert_eq!(view.owner_of(&labelled("shop")), Some(argo("argocd")));
    assert_eq!(view.owner_of(&labelled("team-c_shop")), None);
    assert!(may_own(&argo("team-b"), &labelled("team-b_shop")));
    assert!(!may_own(&argo("team-a"), &labelled("team-b_shop")));
    assert!(!may_own(&argo("team-a"), &labelled("other")));
}

#[test]
fn keys_round_trip_through_the_namespace_annotation() {
    let owners = [
        flux("flux-system", "apps"),
        Owner::Argo {
            namespace: "argocd".into(),
            name: "shop".into(),
        },
    ];
    let recorded = record_pauses(&owners);
    assert_eq!(recorded, "flux:flux-system/apps,argo:argocd/shop");
    let annotations = BTreeMap::from([(labels::PAUSED_OWNERS.to_string(), recorded)]);
    assert_eq!(recorded_pauses(&annotations), owners);
    assert_eq!(Owner::from_key("helm:x/y"), None);
    assert_eq!(Owner::from_key("nonsense"), None);
}

#[test]
fn a_rollback_pauses_each_reconciling_owner_once_and_warns_about_parents() {
    let a = policy(&[(labels::FLUX_NAME, "apps")], &[]);
    let b = policy(&[(labels::FLUX_NAME, "apps")], &[]);
    let helm = policy(&[], &[(labels::HELM_RELEASE, "jellyfin")]);
    let root = flux("flux-system", "flux-system");
    let kustomizations = [
        kustomization("flux-system", "apps", false, Some(root.clone())),
        kustomization("flux-system", "flux-system", false, None),
    ];
    let view = GitOpsView {
        kustomizations: Some(&kustomizations),
        applications: None,
    };
    let (changes, warnings) = pauses_for(&[&a, &b, &helm], &view, &NOTE);
    assert_eq!(changes.len(), 1, "one pause for the one Flux owner; Helm needs none");
    let (helm_warning, warnings): (Vec<String>, Vec<String>) = warnings
        .into_iter()
        .partition(|w| w.starts_with("Helm release jellyfin"));
    assert_eq!(helm_warning.len(), 1, "{helm_warning:?}");
    let pause = &changes[0];
    assert_eq!(pause.owner, flux("flux-system", "apps"));
    assert!(pause.pause && pause.enabled);
    assert_eq!(pause.resource_version.as_deref(), Some("7"));
    assert_eq!(pause.note[labels::SUSPENDED_BY], "alice");
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("applied by Flux Kustomization flux-system/flux-system, which will undo the pause"),
        "{warnings:?}"
    );
    // The patch: suspend, conditioned on the version seen, with who/when/why.
    let patch = pause.patch();
    assert_eq!(patch["spec"]["suspend"], true);
    assert_eq!(patch["metadata"]["resourceVersion"], "7");
    assert_eq!(patch["metadata"]["annotations"][labels::SUSPENDED_REASON], NOTE.reason);

    // Already suspended: nothing to do. Not visible: said.
    let suspended = [kustomization("flux-system", "apps", true, None)];
    let view = GitOpsView {
        kustomizations: Some(&suspended),
        applications: None,
    };
    assert_eq!(pauses_for(&[&a], &view, &NOTE), (vec![], vec![]));
    let (changes, warnings) = pauses_for(&[&a], &GitOpsView::default(), &NOTE);
    assert!(changes.is_empty());
    assert!(warnings[0].contains("cannot be read here"), "{warnings:?}");
}

#[test]
fn argo_auto_sync_is_turned_off_saved_and_put_back() {
    let app = ApplicationInfo {
        namespace: "argocd".into(),
        name: "shop".into(),
        automated: Some(serde_json::json!({"prune": true, "selfHeal": true})),
        resource_version: Some("3".into()),
        parent: None,
        annotations: BTreeMap::new(),
        git: Default::default(),
    };
    let tracked = policy(
        &[],
        &[(labels::ARGO_TRACKING, "shop:cilium.io/CiliumNetworkPolicy:shop/x")],
    );
    let applications = [app];
    let view = GitOpsView {
        kustomizations: None,
        applications: Some(&applications),
    };
    let (changes, _) = pauses_for(&[&tracked], &view, &NOTE);
    let patch = changes[0].patch();
    assert!(patch["spec"]["syncPolicy"]["automated"].is_null());
    let saved = patch["metadata"]["annotations"][labels::ARGO_AUTOMATED]
        .as_str()
        .expect("saved");
    assert_eq!(
        serde_json::from_str::<Value>(saved).expect("json"),
        serde_json::json!({"prune": true, "selfHeal": true})
    );
    // The way back restores what was saved and clears the notes.
    let back = changes[0].reversed().patch();
    assert_eq!(back["spec"]["syncPolicy"]["automated"]["selfHeal"], true);
    assert!(back["metadata"]["annotations"][labels::SUSPENDED_BY].is_null());
    assert_eq!(
        changes[0].summary(),
        "turn off auto-sync of Argo CD Application argocd/shop"
    );
}
