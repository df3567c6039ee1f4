//! YAML text for the generated manifests: a JSON value written as block YAML, keys in the
//! value's order, strings quoted only where plain YAML would read them as something else. Kept
//! here (rather than a YAML crate) because the output is checked in and compared byte for byte:
//! it must not change with a dependency's formatting choices.

use serde_json::Value;

/// `documents` as one YAML stream, each after a `---` line.
pub fn stream(documents: &[Value]) -> String {
    let mut out = String::new();
    for document in documents {
        out.push_str("---\n");
        block(document, 0, &mut out);
    }
    out
}

/// `value` as the body of a block at `indent` spaces (a map's entries or a list's items).
fn block(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                out.push_str(&format!("{pad}{}:", scalar_string(key)));
                nested(item, indent + 2, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str(&format!("{pad}-"));
                match item {
                    // A map in a list starts on the dash's line: `- name: x`.
                    Value::Object(map) if !map.is_empty() => {
                        let mut inner = String::new();
                        block(item, indent + 2, &mut inner);
                        out.push(' ');
                        out.push_str(&inner[indent + 2..]);
                    }
                    _ => nested(item, indent + 2, out),
                }
            }
        }
        scalar => {
            out.push_str(&format!("{pad}{}\n", inline(scalar)));
        }
    }
}

/// What follows a key or a dash: an inline scalar or empty collection, else a nested block.
fn nested(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            block(value, indent, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            block(value, indent, out);
        }
        _ => out.push_str(&format!(" {}\n", inline(value))),
    }
}

fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar_string(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// A string plain when YAML would read it back as the same string, else double-quoted (JSON's
/// escaping is valid YAML).
fn scalar_string(s: &str) -> String {
    let plain_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    let starts_plainly = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/');
    let reserved = matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
    );
    if plain_chars && starts_plainly && !reserved {
        s.to_owned()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn maps_lists_and_scalars_are_written_as_yaml_reads_them() {
        let text = stream(&[
            json!({
                "kind": "Service",
                "spec": {
                    "args": ["run", "catalog"],
                    "empty": {},
                    "flags": {"colon": "a: b", "number": "8080", "on": true, "text": "true"},
                    "ports": [{"name": "http", "port": 8080}],
                    "selector": {"app": "catalog"}
                }
            }),
            json!({"kind": "ServiceAccount"}),
        ]);
        let expected = "---\nkind: Service\nspec:\n  args:\n    - run\n    - catalog\n  empty: {}\n  \
                        flags:\n    colon: \"a: b\"\n    number: \"8080\"\n    \"on\": true\n    \
                        text: \"true\"\n  ports:\n    - name: http\n      port: 8080\n  selector:\n    \
                        app: catalog\n---\nkind: ServiceAccount\n";
        assert_eq!(text, expected);
    }
}
