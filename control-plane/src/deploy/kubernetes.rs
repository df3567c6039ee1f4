//! One service's Kubernetes objects, from what its code declares ([`Declared`]): the
//! ServiceAccount, the Service, the Deployment, its PodDisruptionBudget, its
//! HorizontalPodAutoscaler when it scales with load, and its NetworkPolicy with exactly the edges
//! of `DEPENDS_ON`. What is not per service (default deny, NATS, PostgreSQL, configuration) is
//! written by hand beside them in `deploy/kubernetes`.

use std::time::Duration;

use brigade_chassis::discovery::DEFAULT_DNS_REFRESH;
use serde_json::{json, Value};

use crate::run::Declared;

/// The port every instance listens on in a pod, and that DNS discovery's template names.
pub const PORT: u16 = 8080;

/// The services that get a HorizontalPodAutoscaler: the edges, and the services whose load
/// follows the shoppers' (browsing, checkouts).
const AUTOSCALED: [&str; 4] = ["gateway", "storefront", "catalog", "orders"];

/// How long in-flight requests may take once the instance drains (`BRIGADE_SHUTDOWN_GRACE`);
/// the chassis waits as long again for its background tasks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long a cluster's DNS may keep answering with a removed pod's address (CoreDNS's TTL
/// for cluster records).
const CLUSTER_DNS_TTL: Duration = Duration::from_secs(5);

/// Where the projected ServiceAccount token that proves the service's identity is mounted.
pub const IDENTITY_DIR: &str = "/var/run/secrets/brigade/identity";

/// The pod label that says which service a pod runs.
const NAME_LABEL: &str = "app.kubernetes.io/name";

/// The labels that give a pod's needs to the hand-written policies for the broker and the
/// database (`base/nats`, `components/postgres-*`).
pub const NEEDS_NATS: &str = "brigade.dev/needs-nats";
pub const NEEDS_POSTGRES: &str = "brigade.dev/needs-postgres";

/// The image every service runs (the multi-call `brigade` binary); overlays set the
/// registry and tag with kustomize's `images`.
const IMAGE: &str = "brigade";

/// The pause before SIGTERM: the pod has left its Service's endpoints at once, but callers keep
/// the address until their resolver asks again (every refresh) and the cluster DNS stops giving
/// it (its TTL). The chassis's own drain starts after it.
pub fn pre_stop() -> Duration {
    DEFAULT_DNS_REFRESH + CLUSTER_DNS_TTL + Duration::from_secs(2)
}

/// The pre-stop pause, the drain of requests and of background tasks, and a margin: the
/// kubelet kills only a process that overran all of it.
pub fn termination_grace() -> Duration {
    pre_stop() + SHUTDOWN_GRACE * 2 + Duration::from_secs(5)
}

/// Every object of `service`, given every service's declaration (for who calls it).
pub fn objects(service: &Declared, all: &[Declared]) -> Vec<Value> {
    let mut objects = vec![
        service_account(service),
        kube_service(service),
        deployment(service),
        disruption_budget(service),
    ];
    if AUTOSCALED.contains(&service.name) {
        objects.push(autoscaler(service));
    }
    objects.push(network_policy(service, all));
    objects
}

fn labels(service: &Declared) -> Value {
    json!({
        NAME_LABEL: service.name,
        "app.kubernetes.io/part-of": "brigade",
        "app.kubernetes.io/component": if service.public_port.is_some() { "edge" } else { "service" },
    })
}

fn selector(service: &Declared) -> Value {
    json!({ NAME_LABEL: service.name })
}

fn metadata(service: &Declared) -> Value {
    json!({ "name": service.name, "labels": labels(service) })
}

fn service_account(service: &Declared) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(service),
        // The projected identity token is mounted on its own; the API token is not needed.
        "automountServiceAccountToken": false,
    })
}

/// Headless for a service that others call: its name resolves to every ready pod, which is
/// what DNS discovery balances across. An edge gets a cluster address, for an Ingress, a
/// load balancer or `kubectl port-forward`, on its well-known port.
fn kube_service(service: &Declared) -> Value {
    let mut spec = json!({
        "selector": selector(service),
        "ports": [{
            "name": "http",
            "port": service.public_port.unwrap_or(PORT),
            "targetPort": "http",
            "protocol": "TCP",
        }],
    });
    if service.public_port.is_none() {
        spec["clusterIP"] = json!("None");
    }
    json!({ "apiVersion": "v1", "kind": "Service", "metadata": metadata(service), "spec": spec })
}

fn deployment(service: &Declared) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": service.name,
            "labels": labels(service),
            "annotations": checkov_skips(service),
        },
        "spec": {
            // Two at least, everywhere: a service keeps answering while one pod restarts, and
            // two pods of a service with a store run its migrations at the same moment on
            // every rollout (the chassis's migrations are safe concurrently).
            "replicas": 2,
            "revisionHistoryLimit": 3,
            "selector": { "matchLabels": selector(service) },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": { "maxSurge": 1, "maxUnavailable": 0 },
            },
            "template": {
                "metadata": { "labels": pod_labels(service) },
                "spec": pod_spec(service),
            },
        },
    })
}

/// Checkov's findings that the manifests answer by design rather than by a change, with why
/// (checkov reads `checkov.io/skip…` annotations).
fn checkov_skips(service: &Declared) -> Value {
    let mut skips = vec![
        "CKV_K8S_43=The image is built from deploy/Dockerfile by the user and pinned by tag in \
         the overlay (kustomize images); no digest exists before it is built",
    ];
    if service.store {
        skips.push(
            "CKV_K8S_35=The chassis reads its database URL from BRIGADE_DATABASE_URL only \
             (hidden from --help and logs); the password comes from a Secret reference",
        );
    }
    if service.name == "storefront" {
        skips.push(
            "CKV_K8S_35=The storefront reads its cookie key from BRIGADE_STOREFRONT_COOKIE_KEY \
             (hidden from logs); the value comes from a Secret reference",
        );
    }
    let mut annotations = serde_json::Map::new();
    for (i, skip) in skips.into_iter().enumerate() {
        annotations.insert(format!("checkov.io/skip{}", i + 1), json!(skip));
    }
    Value::Object(annotations)
}

/// The pod's labels: the service, and what the hand-written broker and database policies
/// let through, from the declaration.
fn pod_labels(service: &Declared) -> Value {
    let mut labels = labels(service);
    if service.depends_on.uses_events() {
        labels[NEEDS_NATS] = json!("true");
    }
    if service.store {
        labels[NEEDS_POSTGRES] = json!("true");
    }
    labels
}

fn pod_spec(service: &Declared) -> Value {
    json!({
        "serviceAccountName": service.name,
        "automountServiceAccountToken": false,
        "enableServiceLinks": false,
        "terminationGracePeriodSeconds": termination_grace().as_secs(),
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "fsGroup": 65532,
            "seccompProfile": { "type": "RuntimeDefault" },
        },
        "containers": [container(service)],
        "volumes": [
            {
                "name": "identity",
                "projected": {
                    "sources": [{
                        "serviceAccountToken": {
                            "audience": "brigade",
                            "expirationSeconds": 3600,
                            "path": "token",
                        },
                    }],
                },
            },
            { "name": "tmp", "emptyDir": { "sizeLimit": "64Mi" } },
        ],
    })
}

fn container(service: &Declared) -> Value {
    let probe = |path: &str, period: u64, failures: u64| {
        json!({
            "httpGet": { "path": path, "port": "http" },
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": failures,
        })
    };
    json!({
        "name": service.name,
        "image": IMAGE,
        "imagePullPolicy": "Always",
        // The multi-call binary is the image's entrypoint; `run SERVICE` picks the service.
        "args": ["run", service.name],
        "ports": [{ "name": "http", "containerPort": PORT, "protocol": "TCP" }],
        "env": env(service),
        "startupProbe": probe("/livez", 2, 30),
        "livenessProbe": probe("/livez", 10, 3),
        "readinessProbe": probe("/readyz", 5, 2),
        "lifecycle": {
            "preStop": { "sleep": { "seconds": pre_stop().as_secs() } },
        },
        "resources": {
            "requests": { "cpu": "50m", "memory": "64Mi" },
            "limits": { "cpu": "1", "memory": "256Mi" },
        },
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "privileged": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "capabilities": { "drop": ["ALL"] },
            "seccompProfile": { "type": "RuntimeDefault" },
        },
        "volumeMounts": [
            { "name": "identity", "mountPath": IDENTITY_DIR, "readOnly": true },
            { "name": "tmp", "mountPath": "/tmp" },
        ],
    })
}

fn plain(name: &str, value: impl Into<String>) -> Value {
    json!({ "name": name, "value": value.into() })
}

fn from_config(name: &str, config_map: &str, key: &str) -> Value {
    json!({ "name": name, "valueFrom": { "configMapKeyRef": { "name": config_map, "key": key } } })
}

fn from_secret(name: &str, secret: &str, key: &str) -> Value {
    json!({ "name": name, "valueFrom": { "secretKeyRef": { "name": secret, "key": key } } })
}

/// The configuration: the chassis's flags as `BRIGADE_*` variables, the shared settings from
/// the `brigade-config` ConfigMap, the database from its Secret and the `brigade-postgres`
/// ConfigMap, and the identity token's settings.
fn env(service: &Declared) -> Vec<Value> {
    let mut env = vec![
        json!({ "name": "BRIGADE_INSTANCE_ID", "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } }),
        plain("BRIGADE_LISTEN", format!("0.0.0.0:{PORT}")),
        plain("BRIGADE_DISCOVERY", "dns"),
        plain("BRIGADE_DNS_TEMPLATE", format!("{{service}}:{PORT}")),
        plain("BRIGADE_LOG_FORMAT", "json"),
        from_config("BRIGADE_LOG", "brigade-config", "log"),
        plain(
            "BRIGADE_SHUTDOWN_GRACE",
            humantime::format_duration(SHUTDOWN_GRACE).to_string(),
        ),
        // No registry on a cluster: nothing to deregister from, so no pause of its own (the
        // pre-stop hook has waited for the callers' DNS already).
        plain("BRIGADE_DEREGISTER_DELAY", "0s"),
        plain("BRIGADE_DATA_DIR", "/tmp"),
    ];
    if service.depends_on.uses_events() {
        env.push(from_config("BRIGADE_EVENTS", "brigade-config", "events"));
        env.push(from_config(
            "BRIGADE_EVENTS_NAMESPACE",
            "brigade-config",
            "events-namespace",
        ));
    }
    if service.store {
        let secret = format!("brigade-db-{}", service.name);
        env.push(from_secret("BRIGADE_PG_PASSWORD", &secret, "password"));
        env.push(from_config("BRIGADE_PG_HOST", "brigade-postgres", "host"));
        env.push(from_config("BRIGADE_PG_PORT", "brigade-postgres", "port"));
        // Kubernetes expands $(VAR) from the variables above: a database and a role named after
        // the service (the password must be URL-safe: see the README).
        env.push(plain(
            "BRIGADE_DATABASE_URL",
            format!(
                "postgres://{0}:$(BRIGADE_PG_PASSWORD)@$(BRIGADE_PG_HOST):$(BRIGADE_PG_PORT)/{0}",
                service.name
            ),
        ));
    }
    if service.name == "storefront" {
        // Shared by every replica, so that a session sealed by one is read by the others.
        env.push(from_secret(
            "BRIGADE_STOREFRONT_COOKIE_KEY",
            "brigade-storefront",
            "cookie-key",
        ));
    }
    env.extend([
        plain(
            "BRIGADE_IDENTITY_TOKEN_FILE",
            format!("{IDENTITY_DIR}/token"),
        ),
        plain("BRIGADE_IDENTITY_AUDIENCE", "brigade"),
        from_config("BRIGADE_IDENTITY_ISSUER", "brigade-identity", "issuer"),
        from_config("BRIGADE_IDENTITY_JWKS_URL", "brigade-identity", "jwks-url"),
    ]);
    env
}

fn disruption_budget(service: &Declared) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(service),
        "spec": {
            "maxUnavailable": 1,
            "selector": { "matchLabels": selector(service) },
        },
    })
}

fn autoscaler(service: &Declared) -> Value {
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(service),
        "spec": {
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": service.name },
            "minReplicas": 2,
            "maxReplicas": 8,
            "metrics": [{
                "type": "Resource",
                "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": 70 } },
            }],
        },
    })
}

/// Exactly the edges of the declarations, on top of the namespace's default deny: in from
/// the services that declare they call this one (from anywhere for an edge), out to the
/// services it calls, and out to the cluster DNS that discovery asks. The broker and the
/// database are let through by their own policies, from the pod's labels.
fn network_policy(service: &Declared, all: &[Declared]) -> Value {
    let port = json!([{ "protocol": "TCP", "port": PORT }]);
    let callers: Vec<Value> = all
        .iter()
        .filter(|caller| caller.depends_on.calls.contains(&service.name))
        .map(|caller| json!({ "podSelector": { "matchLabels": selector(caller) } }))
        .collect();
    let ingress = match (service.public_port, callers.is_empty()) {
        // People reach an edge through whatever the cluster puts in front of it.
        (Some(_), _) => vec![json!({ "ports": port })],
        (None, false) => vec![json!({ "from": callers, "ports": port })],
        (None, true) => vec![],
    };
    let mut egress = vec![json!({
        "to": [{
            "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "kube-system" } },
            "podSelector": { "matchLabels": { "k8s-app": "kube-dns" } },
        }],
        "ports": [{ "protocol": "UDP", "port": 53 }, { "protocol": "TCP", "port": 53 }],
    })];
    let called: Vec<Value> = service
        .depends_on
        .calls
        .iter()
        .map(|callee| json!({ "podSelector": { "matchLabels": { NAME_LABEL: callee } } }))
        .collect();
    if !called.is_empty() {
        egress.push(json!({ "to": called, "ports": port }));
    }
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(service),
        "spec": {
            "podSelector": { "matchLabels": selector(service) },
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    })
}

/// The name of the CloudNativePG cluster (its read-write Service is `NAME-rw`).
pub const POSTGRES_CLUSTER: &str = "brigade-postgres";

/// The CloudNativePG cluster: a role per service that keeps a store, its password from the
/// service's `brigade-db-SERVICE` Secret, and a database per such service that the role owns
/// (each service owns its data; none can read another's). Overlays set the instances and
/// storage.
pub fn postgres_cluster(all: &[Declared]) -> Vec<Value> {
    let stores: Vec<&Declared> = all.iter().filter(|d| d.store).collect();
    let roles: Vec<Value> = stores
        .iter()
        .map(|d| {
            json!({
                "name": d.name,
                "ensure": "present",
                "login": true,
                "passwordSecret": { "name": format!("brigade-db-{}", d.name) },
            })
        })
        .collect();
    let mut objects = vec![json!({
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": { "name": POSTGRES_CLUSTER, "labels": { "app.kubernetes.io/part-of": "brigade" } },
        "spec": {
            "instances": 2,
            "storage": { "size": "10Gi" },
            "managed": { "roles": roles },
        },
    })];
    objects.extend(stores.iter().map(|d| {
        json!({
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Database",
            "metadata": {
                "name": format!("brigade-{}", d.name),
                "labels": { "app.kubernetes.io/part-of": "brigade" },
            },
            "spec": {
                "name": d.name,
                "owner": d.name,
                "ensure": "present",
                "cluster": { "name": POSTGRES_CLUSTER },
            },
        })
    }));
    objects
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grace_period_covers_the_pause_and_both_drains() {
        assert!(pre_stop() > DEFAULT_DNS_REFRESH + CLUSTER_DNS_TTL);
        assert!(termination_grace() > pre_stop() + SHUTDOWN_GRACE * 2);
    }

    #[test]
    fn network_policies_have_exactly_the_declared_edges() {
        let all = crate::run::declared();
        let find = |name: &str| all.iter().find(|d| d.name == name).unwrap();
        let policy = network_policy(find("payments"), &all);
        // Payments is called by orders only, and calls nobody.
        let from = &policy["spec"]["ingress"][0]["from"];
        assert_eq!(from.as_array().map(Vec::len), Some(1), "{policy}");
        assert_eq!(from[0]["podSelector"]["matchLabels"][NAME_LABEL], "orders");
        assert_eq!(policy["spec"]["egress"].as_array().map(Vec::len), Some(1));
        let cart = network_policy(find("cart"), &all);
        let to: Vec<&str> = cart["spec"]["egress"][1]["to"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["podSelector"]["matchLabels"][NAME_LABEL].as_str())
            .collect();
        assert_eq!(to, ["catalog", "users"]);
    }
}
