//! What a service declares it depends on ([`Dependencies`]): the services it calls, the event
//! feeds it consumes, whether it publishes events. The declaration is the one source of the
//! edges a deployment allows (`brigade deploy render` turns it into Kubernetes NetworkPolicies),
//! so the chassis holds the code to it: a service that asks for a client of a service it did not
//! declare, subscribes to a feed it did not declare, or publishes without saying so is refused
//! with [`Undeclared`] while it starts, instead of being cut off by the network later.

/// What a service depends on, declared once beside its name (`const DEPENDS_ON` in its
/// `impl Service`). Whether it needs a database is not declared here: it follows from its
/// migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependencies {
    /// The services it calls (`ctx.client(…)`), the users service included when it verifies
    /// access tokens with keys fetched from there.
    pub calls: &'static [&'static str],
    /// The services whose events it consumes (`ctx.subscribe(…)`).
    pub consumes: &'static [&'static str],
    /// Whether it publishes events (`ctx.publish_events(…)`).
    pub publishes: bool,
    /// The services that read its event feed (the embedded transport): the only callers its
    /// feed accepts. Each of them names this service in its own `consumes`; the control plane's
    /// tests hold the two sides together.
    pub read_by: &'static [&'static str],
}

impl Dependencies {
    /// Depends on nothing: calls nobody, consumes and publishes no events.
    pub const NONE: Dependencies = Dependencies {
        calls: &[],
        consumes: &[],
        publishes: false,
        read_by: &[],
    };

    /// Whether it takes part in events at all, and so needs the broker when there is one.
    pub fn uses_events(&self) -> bool {
        self.publishes || !self.consumes.is_empty()
    }

    /// `Ok` when `caller` declared that it calls `service`.
    pub fn check_call(&self, caller: &'static str, service: &str) -> Result<(), Undeclared> {
        match self.calls.contains(&service) {
            true => Ok(()),
            false => Err(Undeclared::new(caller, Use::Call, service)),
        }
    }

    /// `Ok` when `caller` declared that it consumes `source`'s events.
    pub fn check_consume(&self, caller: &'static str, source: &str) -> Result<(), Undeclared> {
        match self.consumes.contains(&source) {
            true => Ok(()),
            false => Err(Undeclared::new(caller, Use::Consume, source)),
        }
    }

    /// `Ok` when `caller` declared that it publishes events.
    pub fn check_publish(&self, caller: &'static str) -> Result<(), Undeclared> {
        match self.publishes {
            true => Ok(()),
            false => Err(Undeclared::new(caller, Use::Publish, caller)),
        }
    }
}

/// What a service did beyond its declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Asked for a client of another service.
    Call,
    /// Subscribed to another service's events.
    Consume,
    /// Published events.
    Publish,
}

/// A service used a dependency it did not declare in its `DEPENDS_ON`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.explain())]
pub struct Undeclared {
    /// The service whose code went beyond its declaration.
    pub caller: &'static str,
    pub what: Use,
    /// The service it called or consumed (itself, for publishing).
    pub service: String,
}

impl Undeclared {
    fn new(caller: &'static str, what: Use, service: &str) -> Undeclared {
        Undeclared {
            caller,
            what,
            service: service.to_owned(),
        }
    }

    fn explain(&self) -> String {
        let (caller, service) = (self.caller, &self.service);
        // The fix, and why it matters: the deployment's network policies come from the
        // declaration, so an undeclared edge would be cut off on a cluster.
        let why = "the deployment's network policies allow only the declared edges; after \
                   the edit, run `brigade deploy render`";
        match self.what {
            Use::Call => format!(
                "{caller} calls {service} but does not declare it: add \"{service}\" to \
                 DEPENDS_ON.calls in {caller}'s `impl Service` ({why})"
            ),
            Use::Consume => format!(
                "{caller} consumes {service}'s events but does not declare it: add \"{service}\" \
                 to DEPENDS_ON.consumes in {caller}'s `impl Service` ({why})"
            ),
            Use::Publish => format!(
                "{caller} publishes events but does not declare it: set DEPENDS_ON.publishes \
                 in {caller}'s `impl Service` ({why})"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CART: Dependencies = Dependencies {
        calls: &["catalog", "users"],
        consumes: &["orders"],
        publishes: false,
        read_by: &[],
    };

    #[test]
    fn only_what_is_declared_is_allowed_and_a_refusal_says_how_to_fix_it() {
        assert_eq!(CART.check_call("cart", "catalog"), Ok(()));
        assert_eq!(CART.check_consume("cart", "orders"), Ok(()));
        let refused = CART.check_call("cart", "payments").unwrap_err();
        assert_eq!(refused.what, Use::Call);
        let message = refused.to_string();
        assert!(
            message.contains("cart calls payments")
                && message.contains("DEPENDS_ON.calls")
                && message.contains("brigade deploy render"),
            "{message}"
        );
        let refused = CART.check_consume("cart", "catalog").unwrap_err();
        assert!(
            refused.to_string().contains("DEPENDS_ON.consumes"),
            "{refused}"
        );
        let refused = CART.check_publish("cart").unwrap_err();
        assert!(
            refused.to_string().contains("DEPENDS_ON.publishes"),
            "{refused}"
        );
        assert!(CART.uses_events());
        assert!(!Dependencies::NONE.uses_events());
    }
}
