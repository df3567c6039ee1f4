//! `traceparent` headers (W3C Trace Context), as every service reads them on every request.
//!
//! Properties: a header that parses has a non-zero trace id and parent; the header we write for
//! a parsed context parses again to the same trace, with our span as the parent and the same
//! sampling; a child's header does too.
#![no_main]

use brigade_chassis::trace_context::TraceContext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A header value that is not text never reaches the parser (`to_str` refuses it).
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let Some(context) = TraceContext::from_traceparent(header) else {
        return;
    };
    assert_ne!(context.trace_id, [0; 16]);
    assert_ne!(context.parent_span_id, Some([0; 8]));
    for written in [context, context.child()] {
        let header = written.to_traceparent();
        let again = TraceContext::from_traceparent(&header)
            .unwrap_or_else(|| panic!("our own header {header:?} does not parse"));
        assert_eq!(again.trace_id, written.trace_id, "{header}");
        assert_eq!(again.parent_span_id, Some(written.span_id), "{header}");
        assert_eq!(again.sampled, written.sampled, "{header}");
        assert_eq!(again.trace_id_hex(), written.trace_id_hex());
    }
});
