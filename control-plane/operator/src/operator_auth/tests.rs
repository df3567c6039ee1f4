//! The gate on the whole control port: every route that changes the system refuses a caller
//! without the operator credential, with a wrong one, and a console cookie without the
//! same-origin proof; reading stays open; the console's login sets the cookie.

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::Value;

use crate::testing::{client, get, serve, sources, CREDENTIAL};

/// Every route of the control port that changes the system, with a body it would accept.
const CHANGES: &[(&str, Option<&str>)] = &[
    ("/v1/chaos/resume", None),
    ("/v1/chaos/instances/orders-1/kill", None),
    ("/v1/chaos/instances/orders-1/pause", None),
    ("/v1/chaos/instances/orders-1/resume", None),
    ("/v1/chaos/services/orders/kill", None),
    ("/v1/chaos/services/orders/pause?instance=1", None),
    ("/v1/chaos/services/orders/resume", None),
    (
        "/v1/system/services/orders/scale",
        Some(r#"{"instances": 2}"#),
    ),
    ("/v1/system/services/orders/restart", None),
    ("/v1/console/parked/orders/e1/replay", None),
];

/// POSTs `body` to `url` with `headers`: status, problem (or `null`), the answer's headers.
async fn post(
    url: &str,
    body: Option<&str>,
    headers: &[(&str, String)],
) -> (StatusCode, Value, http::HeaderMap) {
    let mut request = Request::builder().method(Method::POST).uri(url);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let body = Bytes::from(body.unwrap_or_default().to_owned());
    let answer = client()
        .send_request(request.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let problem = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    (answer.status, problem, answer.headers)
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

/// The console's session cookie, as `/login` sets it for the control port at `base`.
async fn logged_in_cookie(base: &str) -> String {
    let answer = client()
        .send(Method::GET, &format!("{base}/login?t={CREDENTIAL}"), None)
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.headers[header::LOCATION], "/");
    let set = answer.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(
        !set.contains(CREDENTIAL),
        "the cookie is not the credential: {set}"
    );
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn every_change_without_the_credential_is_refused_with_how_to_authenticate() {
    let base = serve(sources(&["orders"])).await;
    for (path, body) in CHANGES {
        let url = format!("{base}{path}");
        let (status, problem, headers) = post(&url, *body, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {problem}");
        assert_eq!(
            problem["type"], "urn:brigade:problem:operator-credential-required",
            "{path}: {problem}"
        );
        let detail = problem["detail"].as_str().unwrap();
        for hint in [
            "Authorization: Bearer",
            "--operator-token-file",
            "login link",
        ] {
            assert!(detail.contains(hint), "{path}: {detail}");
        }
        assert!(headers.contains_key(header::WWW_AUTHENTICATE), "{path}");

        for wrong in [
            "",
            "AAAA",
            "BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            &format!("{CREDENTIAL}A"),
        ] {
            let (status, problem, _) = post(&url, *body, &[bearer(wrong)]).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{path} `{wrong}`: {problem}"
            );
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("not this system's"),
                "{problem}"
            );
        }
        let (status, _, _) = post(
            &url,
            *body,
            &[("authorization", format!("Basic {CREDENTIAL}"))],
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: another scheme");

        // With it, the gate lets the change through to the route, which has no processes or
        // instances to change here: anything but a refusal of the caller.
        let (status, problem, _) = post(&url, *body, &[bearer(CREDENTIAL)]).await;
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "{path}: {status} {problem}"
        );
        let (status, _, _) = post(
            &url,
            *body,
            &[("authorization", format!("bearer {CREDENTIAL}"))],
        )
        .await;
        assert_ne!(
            status,
            StatusCode::UNAUTHORIZED,
            "{path}: the scheme is case-insensitive"
        );
    }
}

#[tokio::test]
async fn the_console_cookie_changes_nothing_without_the_same_origin_proof() {
    let base = serve(sources(&["orders"])).await;
    let cookie = logged_in_cookie(&base).await;
    let origin = base.clone();
    for (path, body) in CHANGES {
        let url = format!("{base}{path}");
        // A form or a no-cors fetch from another page: the cookie alone.
        let (status, problem, _) = post(&url, *body, &[("cookie", cookie.clone())]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {problem}");
        assert_eq!(problem["type"], "urn:brigade:problem:cross-site-request");
        // With the console's header, but from elsewhere, or with another system's cookie.
        let stale = format!("{}=x{}", cookie.split('=').next().unwrap(), "A".repeat(42));
        for (what, cookie, proof, expected) in [
            // The storefront's port: another origin, the same site.
            (
                "a foreign Origin",
                &cookie,
                ("origin", "http://127.0.0.1:8000"),
                StatusCode::FORBIDDEN,
            ),
            (
                "Sec-Fetch-Site same-site",
                &cookie,
                ("sec-fetch-site", "same-site"),
                StatusCode::FORBIDDEN,
            ),
            // A cookie of another system (another credential) is no login at all.
            (
                "a stale cookie",
                &stale,
                ("origin", origin.as_str()),
                StatusCode::UNAUTHORIZED,
            ),
        ] {
            let headers = [
                ("cookie", cookie.clone()),
                ("x-brigade-console", "1".to_owned()),
                (proof.0, proof.1.to_owned()),
            ];
            let (status, problem, _) = post(&url, *body, &headers).await;
            assert_eq!(status, expected, "{path} with {what}: {problem}");
        }

        // The console's own page: cookie, header, its own origin.
        let console = [
            ("cookie", format!("theme=dark; {cookie}")),
            ("x-brigade-console", "1".to_owned()),
            ("origin", origin.clone()),
            ("sec-fetch-site", "same-origin".to_owned()),
        ];
        let (status, problem, _) = post(&url, *body, &console).await;
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "{path}: {status} {problem}"
        );
    }
}

#[tokio::test]
async fn reading_stays_open_and_the_console_page_needs_the_login() {
    let base = serve(sources(&["orders"])).await;
    for path in ["/v1/system", "/v1/chaos", "/v1/console/parked", "/livez"] {
        let (status, body, _) = get(&format!("{base}{path}")).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let page = |cookie: Option<String>| {
        let url = format!("{base}/");
        async move {
            let mut request = Request::builder().uri(url);
            if let Some(cookie) = cookie {
                request = request.header(header::COOKIE, cookie);
            }
            let answer = client()
                .send_request(request.body(Full::new(Bytes::new())).unwrap())
                .await
                .unwrap();
            (
                answer.status,
                String::from_utf8_lossy(&answer.body).into_owned(),
            )
        }
    };
    let (status, body) = page(None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body.contains("login link printed by <code>brigade up</code>"),
        "{body}"
    );
    assert!(
        !body.contains("app.js"),
        "no console without the login: {body}"
    );
    let (status, body) = page(Some(logged_in_cookie(&base).await)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("/console/app.js"), "{body}");

    for link in [
        "/login",
        "/login?t=",
        "/login?t=AAAA",
        "/login?t=BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let answer = client()
            .send(Method::GET, &format!("{base}{link}"), None)
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{link}");
        assert!(!answer.headers.contains_key(header::SET_COOKIE), "{link}");
    }
}
