//! Product images: `image_url` in the catalog is `/images/{category}/{noun}.jpg`, and the
//! storefront answers that very path with a small SVG drawn from the category and the noun
//! (colours from their hashes, the noun as a caption). The `.jpg` stays in the URL because the
//! catalog's data says so; the answer says what it is (`Content-Type: image/svg+xml`), which
//! is what browsers go by. The same path always gives the same bytes: cached as immutable,
//! with an ETag.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::assets;

/// The longest slug accepted in an image path.
const MAX_SLUG: usize = 64;

/// `GET /images/{category}/{file}`: any well-formed path has its image, so a product added
/// later has one too.
pub async fn serve(Path((category, file)): Path<(String, String)>, request: HeaderMap) -> Response {
    let noun = file
        .strip_suffix(".jpg")
        .or_else(|| file.strip_suffix(".svg"));
    match noun {
        Some(noun) if is_slug(&category) && is_slug(noun) => {
            let svg = svg_for(&category, noun);
            let etag = format!("\"{}\"", assets::content_hash(svg.as_bytes()));
            let mut response = assets::immutable(&request, "image/svg+xml", &etag, svg.into());
            // An image is no document: nothing in it may run or load.
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'"),
            );
            response
        }
        _ => (StatusCode::NOT_FOUND, "no such image").into_response(),
    }
}

fn is_slug(text: &str) -> bool {
    (1..=MAX_SLUG).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A stable 64-bit hash (FNV-1a): the same name gives the same picture in every build.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The picture of `noun` in `category` (both slugs: only `[a-z0-9-]`, so nothing to escape).
pub fn svg_for(category: &str, noun: &str) -> String {
    let family = fnv(category);
    let item = fnv(noun);
    let hue = family % 360;
    let accent = (hue + 120 + item % 120) % 360;
    let (cx, cy, r) = (
        120 + item % 160,
        90 + (item >> 8) % 60,
        40 + (item >> 16) % 30,
    );
    let tilt = (item >> 24) % 40;
    let caption = noun.replace('-', " ");
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300" width="400" height="300" role="img" aria-label="{caption}">
<rect width="400" height="300" fill="hsl({hue},45%,90%)"/>
<rect x="40" y="{band}" width="320" height="60" rx="12" fill="hsl({hue},40%,78%)" transform="rotate(-{tilt} 200 150)"/>
<circle cx="{cx}" cy="{cy}" r="{r}" fill="hsl({accent},55%,45%)"/>
<text x="200" y="270" font-family="sans-serif" font-size="26" text-anchor="middle" fill="hsl({hue},40%,20%)">{caption}</text>
</svg>
"##,
        band = 120 + (family >> 8) % 60,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_deterministic_and_differ_by_name() {
        let kettle = svg_for("kitchen", "kettle");
        assert_eq!(kettle, svg_for("kitchen", "kettle"));
        assert_ne!(kettle, svg_for("kitchen", "teapot"));
        assert_ne!(kettle, svg_for("garden", "kettle"));
        assert!(kettle.starts_with("<svg"));
        assert!(kettle.contains(">kettle</text>"));
        assert!(kettle.len() < 1024, "{} bytes", kettle.len());
    }

    #[test]
    fn only_slugs_make_image_paths() {
        assert!(is_slug("chefs-knife"));
        for bad in ["", "Kettle", "a/b", "a.b", "<script>", &"x".repeat(65)] {
            assert!(!is_slug(bad), "{bad}");
        }
    }
}
