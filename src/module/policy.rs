//! Where the module applies the token's algorithm policy (`mechanism::policy`, which decides):
//! the policy of a slot for C_GetMechanismList/Info (PKCS#11 v3.0 §5.5), and the check every
//! function that starts with a key makes (§5.8-5.14: the `Init` functions, wrap, unwrap,
//! derive), asked once from `Module::key_for`.

use super::Module;
use crate::error::Result;
use crate::mechanism::policy::{self, Policy, Purpose};
use crate::object::attr::Attributes;
use crate::token::TokenState;
use cryptoki_sys::*;

impl Module {
    /// The algorithm policy of the token in a slot; for the free slot (and an unreadable
    /// file), the one C_InitToken will give a token there.
    pub fn slot_policy(&self, slot_id: CK_SLOT_ID) -> Result<Policy> {
        let slot = self.slot(slot_id)?;
        let state = slot.state.lock();
        Ok(match &*state {
            TokenState::Ready(r) => r.policy(),
            _ => self.cfg.default_policy,
        })
    }

    /// A key used for `usage` with `mech`: the mechanism first (a strict token has no DES at
    /// all), then the key's size or curve for that use.
    pub(super) fn policy_allows_use(
        policy: Policy,
        mech: CK_MECHANISM_TYPE,
        usage: CK_ATTRIBUTE_TYPE,
        key: &Attributes,
    ) -> Result<()> {
        let Some(purpose) = Purpose::of_usage(usage) else {
            return Ok(());
        };
        policy::allows_mechanism(policy, mech, purpose)?;
        policy::check_key(policy, key, purpose)
    }
}
