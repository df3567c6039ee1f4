//! What can be tested of the deployment without a cluster or a container daemon: the checked-in
//! Kubernetes manifests are what the services' code declares (`brigade deploy render --check`),
//! the binary the image ships needs only the libraries the distroless runtime has, and every
//! entrypoint the Dockerfile and the manifests name is a command the binary knows.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const BRIGADE: &str = env!("CARGO_BIN_EXE_brigade");

/// The repository's root (the control plane's crate is one folder below it).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn kubernetes_tree() -> PathBuf {
    root().join("deploy/kubernetes")
}

/// `brigade deploy render --check --dir DIR`: whether it passed, and what it printed.
fn check(dir: &Path) -> (bool, String) {
    let output = Command::new(BRIGADE)
        .args(["deploy", "render", "--check", "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_checked_in_manifests_are_what_the_code_declares() {
    let (passed, text) = check(&kubernetes_tree());
    assert!(
        passed,
        "the manifests drifted from the services' DEPENDS_ON; run `brigade deploy render`:\n{text}"
    );
}

#[test]
fn a_manifest_that_differs_from_the_declaration_is_named() {
    let scratch = tempfile::tempdir().unwrap();
    let tree = scratch.path().join("kubernetes");
    copy_tree(&kubernetes_tree(), &tree);
    // An edge the code does not declare, added by hand: payments let in from the cart.
    let payments = tree.join("base/services/payments.yaml");
    let text = std::fs::read_to_string(&payments).unwrap();
    let edited = text.replacen(
        "app.kubernetes.io/name: orders",
        "app.kubernetes.io/name: cart",
        1,
    );
    assert_ne!(text, edited, "payments' policy names orders, its caller");
    std::fs::write(&payments, edited).unwrap();
    // And a file for a service that does not exist.
    std::fs::write(tree.join("base/services/wishlist.yaml"), "---\n").unwrap();
    let (passed, message) = check(&tree);
    assert!(!passed, "{message}");
    assert!(
        message.contains("base/services/payments.yaml: differs at line")
            && message.contains("- ")
            && message.contains("+ "),
        "{message}"
    );
    assert!(
        message.contains("wishlist.yaml: not made from any service's declaration"),
        "{message}"
    );

    // Rendering makes the tree right again.
    let output = Command::new(BRIGADE)
        .args(["deploy", "render", "--dir"])
        .arg(&tree)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let (passed, message) = check(&tree);
    assert!(passed, "{message}");
}

/// The libraries glibc and the compiler's runtime provide, which the distroless `cc` image
/// (the Dockerfile's runtime) carries; anything else would be missing in the container.
const GLIBC_LIBRARIES: [&str; 10] = [
    "linux-vdso.so.1",
    "libc.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
    "linux-gate.so.1",
];

#[test]
fn the_binary_needs_only_the_libraries_of_the_runtime_image() {
    let output = Command::new("ldd")
        .arg(BRIGADE)
        .output()
        .expect("ldd (glibc's libc-bin) is needed to list the binary's libraries");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    let libraries: Vec<&str> = text
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(|name| name.rsplit('/').next().unwrap_or(name))
        .collect();
    assert!(libraries.contains(&"libc.so.6"), "{text}");
    let foreign: Vec<&&str> = libraries
        .iter()
        .filter(|l| !GLIBC_LIBRARIES.contains(l))
        .collect();
    assert!(
        foreign.is_empty(),
        "the image's runtime (distroless cc) lacks {foreign:?}:\n{text}"
    );
}

/// The services the Dockerfile's targets start (`CMD ["run", "SERVICE"]`), and its entrypoint.
fn dockerfile_entrypoints() -> (String, BTreeSet<String>) {
    let text = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let mut entrypoint = String::new();
    let mut services = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("ENTRYPOINT ") {
            let parsed: Vec<String> = serde_json::from_str(rest).unwrap();
            entrypoint = parsed.join(" ");
        }
        if let Some(rest) = line.strip_prefix("CMD ") {
            let parsed: Vec<String> = serde_json::from_str(rest).unwrap();
            if parsed.first().map(String::as_str) == Some("run") {
                services.insert(parsed[1].clone());
            }
        }
    }
    (entrypoint, services)
}

/// The services the generated Deployments start (`args: [run, SERVICE]`).
fn manifest_entrypoints() -> BTreeSet<String> {
    let mut services = BTreeSet::new();
    for entry in std::fs::read_dir(kubernetes_tree().join("base/services")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut lines = text.lines().map(str::trim);
        while let Some(line) = lines.next() {
            // The container's first key, so it follows the list's dash.
            if line == "args:" || line == "- args:" {
                assert_eq!(lines.next(), Some("- run"), "{text}");
                let service = lines.next().and_then(|l| l.strip_prefix("- ")).unwrap();
                services.insert(service.to_owned());
            }
        }
    }
    services
}

#[test]
fn every_entrypoint_of_the_image_and_the_manifests_is_a_command_of_the_binary() {
    let (entrypoint, in_dockerfile) = dockerfile_entrypoints();
    assert_eq!(entrypoint, "/usr/local/bin/brigade");
    let dockerfile = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("COPY --from=builder /out/brigade /usr/local/bin/brigade"),
        "the entrypoint is the binary the build copies"
    );
    let in_manifests = manifest_entrypoints();
    assert_eq!(in_dockerfile, in_manifests);
    assert_eq!(in_manifests.len(), 12, "{in_manifests:?}");
    for service in &in_manifests {
        let output = Command::new(BRIGADE)
            .args(["run", service, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "brigade run {service}: {output:?}");
        assert!(
            help.contains("--listen"),
            "brigade run {service} --help:\n{help}"
        );
    }
    let unknown = Command::new(BRIGADE)
        .args(["run", "wishlist", "--help"])
        .output()
        .unwrap();
    assert!(!unknown.status.success(), "an unknown service is refused");
}
