//! The safe core of key management: generating keys and key pairs, wrapping, unwrapping and
//! deriving, with the key policy of the attribute table enforced (PKCS#11 v3.0 §5.14, §4.7-4.9:
//! CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED, CKA_WRAP/UNWRAP/DERIVE_TEMPLATE).

use super::Module;
use crate::error::{fail, Error, Result};
use crate::mechanism::build;
use crate::mechanism::ops::Out;
use crate::mechanism::policy::{self as algorithms, Purpose};
use crate::mechanism::Mechanism;
use crate::object::attr::{AttrValue, Attribute, Attributes};
use crate::object::policy::{self, KeyFunction};
use crate::object::rules;
use cryptoki_sys::*;

/// A handle error on a key argument, named for that argument.
fn named(e: Error, as_rv: CK_RV) -> Error {
    if matches!(e.rv(), CKR_OBJECT_HANDLE_INVALID | CKR_KEY_HANDLE_INVALID) {
        Error::new(as_rv)
    } else {
        e
    }
}

impl Module {
    pub fn generate_key(
        &self,
        sh: CK_SESSION_HANDLE,
        mech_type: CK_MECHANISM_TYPE,
        mech: &Mechanism,
        template: &[Attribute],
    ) -> Result<CK_OBJECT_HANDLE> {
        self.with_token_audited(sh, "C_GenerateKey", Some(mech_type), |s, r| {
            let key_type = match mech {
                Mechanism::AesKeyGen => CKK_AES,
                Mechanism::AesXtsKeyGen => CKK_AES_XTS,
                Mechanism::GenericSecretKeyGen | Mechanism::Pbkdf2 { .. } => CKK_GENERIC_SECRET,
                Mechanism::HkdfKeyGen => CKK_HKDF,
                Mechanism::DesKeyGen(kt) | Mechanism::HmacKeyGen(kt) => *kt,
                _ => return fail(CKR_MECHANISM_INVALID),
            };
            algorithms::allows_mechanism(r.policy(), mech_type, Purpose::Generate)?;
            let (mut attrs, len) =
                rules::generate_secret(template, key_type, mech_type, &Self::ctx(r))?;
            algorithms::check_key(r.policy(), &attrs, Purpose::Generate)?;
            let value = match mech {
                Mechanism::Pbkdf2 { .. } => {
                    build::derive(mech, &Attributes::new(), None, Some(len))?
                }
                _ => build::generated_secret(mech, len)?,
            };
            rules::add_computed(&mut attrs, CKA_VALUE, AttrValue::Bytes(value.to_vec()));
            rules::check(&attrs)?;
            self.store_new(s, r, attrs)
        })
    }

    pub fn generate_key_pair(
        &self,
        sh: CK_SESSION_HANDLE,
        mech_type: CK_MECHANISM_TYPE,
        mech: &Mechanism,
        public: &[Attribute],
        private: &[Attribute],
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        self.with_token_audited(sh, "C_GenerateKeyPair", Some(mech_type), |s, r| {
            let key_type = match mech {
                Mechanism::RsaKeyPairGen => CKK_RSA,
                Mechanism::EcKeyPairGen => CKK_EC,
                Mechanism::EdwardsKeyPairGen => CKK_EC_EDWARDS,
                Mechanism::MontgomeryKeyPairGen => CKK_EC_MONTGOMERY,
                _ => return fail(CKR_MECHANISM_INVALID),
            };
            algorithms::allows_mechanism(r.policy(), mech_type, Purpose::Generate)?;
            let (mut pubk, mut privk) =
                rules::generate_pair(public, private, key_type, mech_type, &Self::ctx(r))?;
            // The public template carries the size (CKA_MODULUS_BITS) or the curve.
            algorithms::check_key(r.policy(), &pubk, Purpose::Generate)?;
            let material = build::generate_pair(mech, &pubk)?;
            for a in &material.public {
                rules::add_computed(&mut pubk, a.ty, a.value.clone());
            }
            for a in &material.private {
                rules::add_computed(&mut privk, a.ty, a.value.clone());
            }
            if let Some(info) = build::public_key_info(&pubk) {
                rules::add_computed(
                    &mut pubk,
                    CKA_PUBLIC_KEY_INFO,
                    AttrValue::Bytes(info.clone()),
                );
                rules::add_computed(&mut privk, CKA_PUBLIC_KEY_INFO, AttrValue::Bytes(info));
            }
            rules::check(&pubk)?;
            rules::check(&privk)?;
            // Both halves or neither: a failure storing the private half removes the public one.
            let hpub = self.store_new(s, r, pubk)?;
            match self.store_new(s, r, privk) {
                Ok(hpriv) => Ok((hpub, hpriv)),
                Err(e) => {
                    if let Ok(super::ObjEntry::Token { id, .. }) = self.entry(s.slot.id, hpub) {
                        let _ = r.delete(id);
                    }
                    self.forget_handle(hpub);
                    Err(e)
                }
            }
        })
    }

    pub fn wrap_key(
        &self,
        sh: CK_SESSION_HANDLE,
        mech_type: CK_MECHANISM_TYPE,
        mech: &Mechanism,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
        cap: Option<usize>,
    ) -> Result<Out> {
        self.with_token_audited(sh, "C_WrapKey", Some(mech_type), |s, r| {
            policy::mechanism_offers(mech_type, KeyFunction::Wrap)?;
            let wk = self
                .key_for(s, r, wrapping, CKA_WRAP, mech_type)
                .map_err(|e| named(e, CKR_WRAPPING_KEY_HANDLE_INVALID))?;
            let e = self
                .entry(s.slot.id, key)
                .map_err(|e| named(e, CKR_KEY_HANDLE_INVALID))?;
            let (target, withheld) = self
                .read_object(r, &e)
                .map_err(|e| named(e, CKR_KEY_HANDLE_INVALID))?;
            Self::audit_object(r, &target);
            Self::audit_base(r, &wk);
            policy::may_wrap(&wk, &target)?;
            if !withheld.is_empty() {
                return fail(CKR_USER_NOT_LOGGED_IN);
            }
            let bytes = build::key_bytes_for_wrap(&target)?;
            let wrapped = build::wrap(mech, &wk, &bytes)?;
            Ok(match cap {
                None => Out::Len(wrapped.len()),
                Some(c) if c < wrapped.len() => Out::TooSmall(wrapped.len()),
                Some(_) => Out::Data(zeroize::Zeroizing::new(wrapped)),
            })
        })
    }

    pub fn unwrap_key(
        &self,
        sh: CK_SESSION_HANDLE,
        mech_type: CK_MECHANISM_TYPE,
        mech: &Mechanism,
        unwrapping: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        template: &[Attribute],
    ) -> Result<CK_OBJECT_HANDLE> {
        self.with_token_audited(sh, "C_UnwrapKey", Some(mech_type), |s, r| {
            policy::mechanism_offers(mech_type, KeyFunction::Unwrap)?;
            let uk = self
                .key_for(s, r, unwrapping, CKA_UNWRAP, mech_type)
                .map_err(|e| named(e, CKR_UNWRAPPING_KEY_HANDLE_INVALID))?;
            Self::audit_base(r, &uk);
            policy::single_call_key(&uk)?;
            let template = policy::unwrap_template(&uk, mech_type, template)?;
            let ctx = Self::ctx(r);
            // A private key's type may be left to the PKCS#8 encoding it arrives in; otherwise
            // the template is judged before anything is decrypted.
            let declared = |ty| {
                template
                    .iter()
                    .find(|a| a.ty == ty)
                    .and_then(|a| a.value.as_ulong())
            };
            let (early, inferred) = if declared(CKA_CLASS) == Some(CKO_PRIVATE_KEY)
                && declared(CKA_KEY_TYPE).is_none()
            {
                let bytes = build::unwrap(mech, &uk, wrapped)?;
                let key_type = build::private_key_type(&bytes)?;
                (Some(bytes), Some(key_type))
            } else {
                (None, None)
            };
            let mut attrs = rules::unwrapped(&template, None, inferred, &ctx)?;
            let bytes = match early {
                Some(bytes) => bytes,
                None => build::unwrap(mech, &uk, wrapped)?,
            };
            let class = attrs.class().unwrap_or(CKO_SECRET_KEY);
            let key_type = attrs.key_type().unwrap_or(CKK_GENERIC_SECRET);
            for a in build::key_from_bytes(class, key_type, &bytes)? {
                rules::add_computed(&mut attrs, a.ty, a.value.clone());
            }
            if class == CKO_PRIVATE_KEY {
                if let Some(info) = build::public_key_info(&attrs) {
                    rules::add_computed(&mut attrs, CKA_PUBLIC_KEY_INFO, AttrValue::Bytes(info));
                }
            }
            algorithms::check_key(r.policy(), &attrs, Purpose::Import)?;
            // Material that does not fit its declared type came from a bad wrapped blob.
            rules::check(&attrs).map_err(|e| {
                if e.rv() == CKR_ATTRIBUTE_VALUE_INVALID {
                    Error::new(CKR_WRAPPED_KEY_INVALID)
                } else {
                    e
                }
            })?;
            self.store_new(s, r, attrs)
        })
    }

    /// C_DeriveKey. Returns the new key and, for SP 800-108, the additional keys in the order
    /// of the parameter's CK_DERIVED_KEY array: all of them are stored or none is.
    pub fn derive_key(
        &self,
        sh: CK_SESSION_HANDLE,
        mech_type: CK_MECHANISM_TYPE,
        mech: &Mechanism,
        base: CK_OBJECT_HANDLE,
        template: &[Attribute],
    ) -> Result<(CK_OBJECT_HANDLE, Vec<CK_OBJECT_HANDLE>)> {
        self.with_token_audited(sh, "C_DeriveKey", Some(mech_type), |s, r| {
            policy::mechanism_offers(mech_type, KeyFunction::Derive)?;
            let bk = self.key_for(s, r, base, CKA_DERIVE, mech_type)?;
            Self::audit_base(r, &bk);
            policy::single_call_key(&bk)?;
            if let Mechanism::PubKeyFromPrivKey = mech {
                return self
                    .public_from_private(s, r, &bk, template)
                    .map(|h| (h, Vec::new()));
            }
            // A second key feeds the value: HKDF's salt (CKF_HKDF_SALT_KEY, used only when
            // extracting) or CONCATENATE_BASE_AND_KEY's other key. It passes the checks the
            // base key does: found, readable, CKA_DERIVE true and the mechanism allowed.
            // Without that, a key could be turned into an HMAC oracle by extracting with a
            // known IKM, or folded into a readable concatenation.
            let other = match mech {
                Mechanism::HkdfDerive {
                    extract: true,
                    salt_type: CKF_HKDF_SALT_KEY,
                    salt_key,
                    ..
                } => Some(self.key_for(s, r, *salt_key, CKA_DERIVE, mech_type)?),
                Mechanism::ConcatenateBaseAndKey { other } => {
                    Some(self.key_for(s, r, *other, CKA_DERIVE, mech_type)?)
                }
                _ => None,
            };
            if let Some(sk) = &other {
                policy::single_call_key(sk)?;
            }
            let keys: Vec<&Attributes> = std::iter::once(&*bk).chain(other.as_deref()).collect();
            let ctx = Self::ctx(r);
            let make = |t: &[Attribute]| {
                let t = policy::derive_template(&keys, mech_type, t)?;
                rules::derived(&keys, &t, CKK_GENERIC_SECRET, mech_type, &ctx)
            };
            let (mut attrs, len) = make(template)?;
            if let Mechanism::Sp800108(k) = mech {
                let mut sets = vec![(attrs, len)];
                for t in &k.additional {
                    sets.push(make(t)?);
                }
                // Every key needs its length: CKA_VALUE_LEN (§2.42).
                let lens = sets
                    .iter()
                    .map(|(_, l)| l.ok_or(Error::new(CKR_TEMPLATE_INCOMPLETE)))
                    .collect::<Result<Vec<_>>>()?;
                let values = build::sp800_108_derive(k, &bk, &lens)?;
                let mut made = Vec::with_capacity(sets.len());
                for ((mut a, _), mut v) in sets.into_iter().zip(values) {
                    if let Some(kt) = a.key_type() {
                        build::set_key_parity(kt, &mut v);
                    }
                    rules::add_computed(&mut a, CKA_VALUE, AttrValue::Bytes(v.to_vec()));
                    rules::check(&a)?;
                    made.push(a);
                }
                let handles = self.store_all(s, r, made)?;
                let (first, rest) = handles.split_first().ok_or(Error::new(CKR_GENERAL_ERROR))?;
                return Ok((*first, rest.to_vec()));
            }
            let mut value = build::derive(mech, &bk, other.as_deref(), len)?;
            if let Some(kt) = attrs.key_type() {
                build::set_key_parity(kt, &mut value);
            }
            rules::add_computed(&mut attrs, CKA_VALUE, AttrValue::Bytes(value.to_vec()));
            rules::check(&attrs)?;
            self.store_new(s, r, attrs).map(|h| (h, Vec::new()))
        })
    }

    /// CKM_PUB_KEY_FROM_PRIV_KEY: a public key object holding the private key's public half,
    /// made from the template as an unwrapped key is (not local, origin unknown).
    fn public_from_private(
        &self,
        s: &crate::session::Session,
        r: &mut crate::token::Ready,
        private: &Attributes,
        template: &[Attribute],
    ) -> Result<CK_OBJECT_HANDLE> {
        let (key_type, public) = build::public_of(private)?;
        let template = policy::derive_template(&[private], CKM_PUB_KEY_FROM_PRIV_KEY, template)?;
        // The mechanism makes a public key of the private key's type; a template naming
        // another class or type contradicts it.
        let contradicts = |ty, want| {
            template
                .iter()
                .any(|a| a.ty == ty && a.value.as_ulong() != Some(want))
        };
        if contradicts(CKA_CLASS, CKO_PUBLIC_KEY) || contradicts(CKA_KEY_TYPE, key_type) {
            return fail(CKR_TEMPLATE_INCONSISTENT);
        }
        let mut attrs = rules::unwrapped(
            &template,
            Some(CKO_PUBLIC_KEY),
            Some(key_type),
            &Self::ctx(r),
        )?;
        for a in public {
            rules::add_computed(&mut attrs, a.ty, a.value.clone());
        }
        if let Some(info) = build::public_key_info(&attrs) {
            rules::add_computed(&mut attrs, CKA_PUBLIC_KEY_INFO, AttrValue::Bytes(info));
        }
        rules::check(&attrs)?;
        self.store_new(s, r, attrs)
    }

    /// Store several new objects, all or none: a failure removes those already stored.
    fn store_all(
        &self,
        s: &crate::session::Session,
        r: &mut crate::token::Ready,
        sets: Vec<Attributes>,
    ) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let mut done = Vec::with_capacity(sets.len());
        for a in sets {
            match self.store_new(s, r, a) {
                Ok(h) => done.push(h),
                Err(e) => {
                    for h in done {
                        if let Ok(super::ObjEntry::Token { id, .. }) = self.entry(s.slot.id, h) {
                            let _ = r.delete(id);
                        }
                        self.forget_handle(h);
                    }
                    return Err(e);
                }
            }
        }
        Ok(done)
    }
}
