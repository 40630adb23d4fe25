//! The aws-lc backend's calls into the C library (`aws-lc-sys`): RSA keys and the raw RSA
//! operations, NIST-curve keys with ECDSA over a caller's digest and ECDH, AES key schedules
//! with bulk CBC, and streaming AES-GCM from a key context set up once ([`GcmKey`]) and copied
//! per operation. This is the only file of the crate outside `src/ffi`
//! with `unsafe` code; every wrapper here is safe to call, and the rest of `src/crypto` builds
//! the PKCS#11 semantics (lengths, padding, return codes) on top. The C API is used rather than
//! aws-lc-rs's safe one because PKCS#11 needs what that API does not offer: signing a
//! caller-supplied digest (`CKM_ECDSA`, `CKM_RSA_PKCS`), raw RSA, PSS/OAEP with any MGF1 hash
//! and label, and GCM with any IV and tag length; aws-lc-rs provides the library set-up.
//!
//! Ownership: each wrapper owns one aws-lc object and frees it on drop; aws-lc clears the
//! secret parts of RSA and EC keys, big numbers and cipher contexts when it frees them
//! (`BN_clear_free`, `EVP_CIPHER_CTX_free`), and the AES key schedules kept in Rust memory are
//! wiped here. A failed call may leave entries on aws-lc's thread-local error queue: they are
//! cleared, as nothing reads them.
#![allow(unsafe_code)]

use aws_lc_sys as sys;
use std::ffi::c_int;
use std::ptr::{self, NonNull};
use zeroize::{Zeroize, Zeroizing};

/// One-time set-up before the first call into aws-lc: `aws_lc_rs::init` (aws-lc's library
/// initialisation, processor feature detection included, in case its static initialiser did not
/// run), and pinning the library in memory.
///
/// aws-lc keeps per-thread state (its error queue, its random generator) under a pthread key
/// whose destructor is code of this library. Were the module unloaded (`dlclose`, as
/// `C_Finalize` callers and test harnesses do) while a thread that used aws-lc lives on, that
/// thread would jump into unmapped code when it exits. So the first use of aws-lc marks the
/// library as never unloaded (`RTLD_NODELETE`), which glibc already does on its own for a
/// library with Rust thread-locals; a later `dlopen` gets the same copy back.
pub(super) fn setup() {
    static PIN: std::sync::Once = std::sync::Once::new();
    PIN.call_once(|| {
        aws_lc_rs::init();
        #[cfg(unix)]
        {
            let here: fn() = setup;
            // SAFETY: Dl_info is plain data (pointers and integers), valid when zeroed.
            let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
            // SAFETY: dladdr only reads the loader's tables for an address of our own code and
            // fills `info`.
            let found = unsafe { libc::dladdr(here as *const libc::c_void, &mut info) } != 0;
            if found && !info.dli_fname.is_null() {
                // SAFETY: dli_fname is the NUL-terminated path of the object holding `here`,
                // owned by the loader; RTLD_NOLOAD only takes a new reference to that already
                // loaded object (never loads another), and RTLD_NODELETE pins it. The
                // reference is kept on purpose.
                unsafe {
                    libc::dlopen(
                        info.dli_fname,
                        libc::RTLD_NOW | libc::RTLD_NOLOAD | libc::RTLD_NODELETE,
                    )
                };
            }
        }
    });
}

/// `Some(())` for aws-lc's success value 1, else `None` (and the error queue cleared).
pub(super) fn ok(rc: c_int) -> Option<()> {
    if rc == 1 {
        Some(())
    } else {
        clear_errors();
        None
    }
}

fn clear_errors() {
    // SAFETY: ERR_clear_error only touches aws-lc's thread-local error queue.
    unsafe { sys::ERR_clear_error() }
}

/// A non-null pointer from aws-lc, or `None` (and the error queue cleared).
pub(super) fn non_null<T>(p: *mut T) -> Option<NonNull<T>> {
    let r = NonNull::new(p);
    if r.is_none() {
        clear_errors();
    }
    r
}

// ---------------------------------------------------------------------------------------------
// Big numbers

/// An owned `BIGNUM`, cleared and freed on drop (it may hold a secret).
struct Bn(NonNull<sys::BIGNUM>);

impl Bn {
    fn from_be(bytes: &[u8]) -> Option<Bn> {
        // SAFETY: BN_bin2bn reads exactly `bytes.len()` bytes from a live slice; a NULL `ret`
        // asks it to allocate a new BIGNUM, which we own from here on.
        non_null(unsafe { sys::BN_bin2bn(bytes.as_ptr(), bytes.len(), ptr::null_mut()) }).map(Bn)
    }

    fn from_u64(v: u64) -> Option<Bn> {
        // SAFETY: BN_new has no preconditions; the result is checked for NULL.
        let bn = Bn(non_null(unsafe { sys::BN_new() })?);
        // SAFETY: `bn` is a valid BIGNUM we own.
        ok(unsafe { sys::BN_set_u64(bn.0.as_ptr(), v) })?;
        Some(bn)
    }

    fn as_ptr(&self) -> *const sys::BIGNUM {
        self.0.as_ptr()
    }

    /// Give up ownership (to a call that takes it over, such as `ECDSA_SIG_set0`).
    fn into_raw(self) -> *mut sys::BIGNUM {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }
}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: we own this BIGNUM and nothing else refers to it.
        unsafe { sys::BN_clear_free(self.0.as_ptr()) }
    }
}

/// Big-endian bytes of `bn` without leading zeros (empty for zero or NULL).
///
/// # Safety
/// `bn` is NULL or points to a BIGNUM that stays alive and unchanged during the call.
unsafe fn bn_to_vec(bn: *const sys::BIGNUM) -> Zeroizing<Vec<u8>> {
    if bn.is_null() {
        return Zeroizing::new(Vec::new());
    }
    // SAFETY: `bn` is a live BIGNUM (caller's contract).
    let n = unsafe { sys::BN_num_bytes(bn) } as usize;
    let mut out = Zeroizing::new(vec![0u8; n]);
    // SAFETY: BN_bn2bin writes exactly BN_num_bytes(bn) = `out.len()` bytes.
    unsafe { sys::BN_bn2bin(bn, out.as_mut_ptr()) };
    out
}

/// `bn` as exactly `len` big-endian bytes, or `None` if it does not fit.
///
/// # Safety
/// As for [`bn_to_vec`], and `bn` is not NULL.
unsafe fn bn_to_padded(bn: *const sys::BIGNUM, len: usize) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    // SAFETY: BN_bn2bin_padded writes at most `len` bytes into a buffer of that size.
    ok(unsafe { sys::BN_bn2bin_padded(out.as_mut_ptr(), len, bn) })?;
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// RSA

/// An aws-lc `RSA` key: public (n, e) or private with all CRT values. Private operations use
/// aws-lc's constant-time, blinded CRT code, which also checks each result against the public
/// key (a fault in the CRT computation fails instead of leaking a factor).
pub struct Rsa(NonNull<sys::RSA>);

// SAFETY: aws-lc documents RSA objects as safe to use from several threads at once for the
// operations used here (its blinding cache and Montgomery contexts are guarded by the key's
// own lock); the key is never mutated through `&self` otherwise.
unsafe impl Send for Rsa {}
// SAFETY: see the `Send` impl above.
unsafe impl Sync for Rsa {}

impl Drop for Rsa {
    fn drop(&mut self) {
        // SAFETY: we hold one reference to this RSA object; RSA_free drops it and clears the
        // private values when the last reference goes.
        unsafe { sys::RSA_free(self.0.as_ptr()) }
    }
}

impl Clone for Rsa {
    fn clone(&self) -> Self {
        // SAFETY: RSA_up_ref only increments the reference count of a live key (always 1).
        unsafe { sys::RSA_up_ref(self.0.as_ptr()) };
        Rsa(self.0)
    }
}

/// The components of an RSA private key, big-endian: n, e, d, p, q, dP, dQ, qInv.
pub type RsaParts = [Zeroizing<Vec<u8>>; 8];

impl Rsa {
    /// A public key; aws-lc checks n (odd, at most 16384 bits) and e (odd, 2..33 bits, < n).
    pub fn new_public(n: &[u8], e: &[u8]) -> Option<Rsa> {
        setup();
        let (n, e) = (Bn::from_be(n)?, Bn::from_be(e)?);
        // SAFETY: both BIGNUMs are live; RSA_new_public_key copies them and returns a new key
        // (or NULL), which we own.
        non_null(unsafe { sys::RSA_new_public_key(n.as_ptr(), e.as_ptr()) }).map(Rsa)
    }

    /// A private key from all eight components; aws-lc's `RSA_check_key` verifies that they
    /// belong together (n = pq, de = 1 mod p-1 and q-1, the CRT values), else `None`.
    pub fn new_private(parts: [&[u8]; 8]) -> Option<Rsa> {
        setup();
        let [n, e, d, p, q, dp, dq, qi] = parts.map(Bn::from_be);
        let [n, e, d, p, q, dp, dq, qi] = [n?, e?, d?, p?, q?, dp?, dq?, qi?];
        // SAFETY: all eight BIGNUMs are live for the call; RSA_new_private_key copies them and
        // returns a new key (or NULL), which we own.
        non_null(unsafe {
            sys::RSA_new_private_key(
                n.as_ptr(),
                e.as_ptr(),
                d.as_ptr(),
                p.as_ptr(),
                q.as_ptr(),
                dp.as_ptr(),
                dq.as_ptr(),
                qi.as_ptr(),
            )
        })
        .map(Rsa)
    }

    /// A new key pair. aws-lc generates multiples of 128 bits with e below 2^32 only: the
    /// caller checks for that first.
    pub fn generate(bits: usize, e: u64) -> Option<Rsa> {
        setup();
        let bits = c_int::try_from(bits).ok()?;
        let e = Bn::from_u64(e)?;
        // SAFETY: RSA_new has no preconditions; the result is checked and owned by `key`.
        let key = Rsa(non_null(unsafe { sys::RSA_new() })?);
        // SAFETY: `key` is a fresh RSA object, `e` a live BIGNUM (copied), no callback.
        ok(unsafe { sys::RSA_generate_key_ex(key.0.as_ptr(), bits, e.as_ptr(), ptr::null_mut()) })?;
        Some(key)
    }

    /// Modulus length in bytes.
    pub fn size(&self) -> usize {
        // SAFETY: the key is live and has a modulus.
        unsafe { sys::RSA_size(self.0.as_ptr()) as usize }
    }

    /// n, e, d, p, q, dP, dQ, qInv (absent ones empty), big-endian without leading zeros.
    pub fn parts(&self) -> RsaParts {
        let mut p: [*const sys::BIGNUM; 8] = [ptr::null(); 8];
        let k = self.0.as_ptr();
        let [n, e, d, p1, p2, dp, dq, qi] = &mut p;
        // SAFETY: the getters store borrowed pointers (or NULL) to the key's own BIGNUMs, which
        // live as long as the key; nothing changes them while `self` is borrowed.
        unsafe {
            sys::RSA_get0_key(k, n, e, d);
            sys::RSA_get0_factors(k, p1, p2);
            sys::RSA_get0_crt_params(k, dp, dq, qi);
        }
        // SAFETY: each pointer is NULL or one of the key's BIGNUMs, alive for this call.
        p.map(|bn| unsafe { bn_to_vec(bn) })
    }

    /// `x^e mod n` of a `size()`-byte big-endian `x` below the modulus (else `None`).
    pub fn public_raw(&self, x: &[u8]) -> Option<Vec<u8>> {
        let k = self.size();
        let mut out = vec![0u8; k];
        let mut out_len = 0usize;
        // SAFETY: `out` has room for `k` bytes, `x` is a live slice of `x.len()` bytes; with
        // RSA_NO_PADDING aws-lc requires x.len() == k and x < n, and fails otherwise.
        ok(unsafe {
            sys::RSA_encrypt(
                self.0.as_ptr(),
                &mut out_len,
                out.as_mut_ptr(),
                k,
                x.as_ptr(),
                x.len(),
                sys::RSA_NO_PADDING,
            )
        })?;
        (out_len == k).then_some(out)
    }

    /// `x^d mod n` (blinded CRT, result verified) of a `size()`-byte big-endian `x` below the
    /// modulus (else `None`).
    pub fn private_raw(&self, x: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let k = self.size();
        let mut out = Zeroizing::new(vec![0u8; k]);
        let mut out_len = 0usize;
        // SAFETY: as in `public_raw`; RSA_decrypt with RSA_NO_PADDING is the raw private
        // transform, writing `k` bytes into `out`.
        ok(unsafe {
            sys::RSA_decrypt(
                self.0.as_ptr(),
                &mut out_len,
                out.as_mut_ptr(),
                k,
                x.as_ptr(),
                x.len(),
                sys::RSA_NO_PADDING,
            )
        })?;
        (out_len == k).then_some(out)
    }
}

// ---------------------------------------------------------------------------------------------
// NIST curves

/// aws-lc's curve identifiers for P-256, P-384 and P-521.
pub const NID_P256: c_int = sys::NID_X9_62_prime256v1;
pub const NID_P384: c_int = sys::NID_secp384r1;
pub const NID_P521: c_int = sys::NID_secp521r1;

/// An aws-lc `EC_KEY`: a private scalar (with its public point) or a public point alone.
pub struct EcKey(NonNull<sys::EC_KEY>);

// SAFETY: an EC_KEY is only read after construction (signing, verification and ECDH take it as
// `const`), and aws-lc allows concurrent reads of one key.
unsafe impl Send for EcKey {}
// SAFETY: see the `Send` impl above.
unsafe impl Sync for EcKey {}

impl Drop for EcKey {
    fn drop(&mut self) {
        // SAFETY: we hold one reference; EC_KEY_free clears the private scalar with the last.
        unsafe { sys::EC_KEY_free(self.0.as_ptr()) }
    }
}

impl Clone for EcKey {
    fn clone(&self) -> Self {
        // SAFETY: EC_KEY_up_ref only increments the reference count of a live key.
        unsafe { sys::EC_KEY_up_ref(self.0.as_ptr()) };
        EcKey(self.0)
    }
}

/// An owned `EC_POINT`, freed on drop.
struct Point(NonNull<sys::EC_POINT>);

impl Drop for Point {
    fn drop(&mut self) {
        // SAFETY: we own this point.
        unsafe { sys::EC_POINT_free(self.0.as_ptr()) }
    }
}

impl EcKey {
    fn empty(nid: c_int) -> Option<EcKey> {
        setup();
        // SAFETY: EC_KEY_new_by_curve_name has no preconditions; the result is owned.
        non_null(unsafe { sys::EC_KEY_new_by_curve_name(nid) }).map(EcKey)
    }

    fn group(&self) -> *const sys::EC_GROUP {
        // SAFETY: every EcKey was made for a curve, so its group is set (a static object).
        unsafe { sys::EC_KEY_get0_group(self.0.as_ptr()) }
    }

    fn new_point(&self) -> Option<Point> {
        // SAFETY: the group is valid; the new point is owned by the returned `Point`.
        non_null(unsafe { sys::EC_POINT_new(self.group()) }).map(Point)
    }

    /// A key from the `field_len`-byte scalar `d`, which must be in 1..n-1; its public point is
    /// computed too.
    pub fn from_private(nid: c_int, d: &[u8]) -> Option<EcKey> {
        let key = EcKey::empty(nid)?;
        let d = Bn::from_be(d)?;
        // SAFETY: key and BIGNUM are live; EC_KEY_set_private_key copies the scalar and fails
        // unless 0 < d < n.
        ok(unsafe { sys::EC_KEY_set_private_key(key.0.as_ptr(), d.as_ptr()) })?;
        let public = key.new_point()?;
        // SAFETY: `public` belongs to the key's group; computing d*G needs no other inputs
        // (NULL q and m) and no BN_CTX.
        ok(unsafe {
            sys::EC_POINT_mul(
                key.group(),
                public.0.as_ptr(),
                d.as_ptr(),
                ptr::null(),
                ptr::null(),
                ptr::null_mut(),
            )
        })?;
        // SAFETY: EC_KEY_set_public_key copies the point, which is on the key's group.
        ok(unsafe { sys::EC_KEY_set_public_key(key.0.as_ptr(), public.0.as_ptr()) })?;
        Some(key)
    }

    /// A public key from a SEC 1 point (compressed or uncompressed), which aws-lc checks to be
    /// on the curve. The caller rules out other encodings first.
    pub fn from_public(nid: c_int, point: &[u8]) -> Option<EcKey> {
        let key = EcKey::empty(nid)?;
        let p = key.new_point()?;
        // SAFETY: `point` is a live slice; `p` belongs to the key's group; no BN_CTX.
        ok(unsafe {
            sys::EC_POINT_oct2point(
                key.group(),
                p.0.as_ptr(),
                point.as_ptr(),
                point.len(),
                ptr::null_mut(),
            )
        })?;
        // SAFETY: as in `from_private`.
        ok(unsafe { sys::EC_KEY_set_public_key(key.0.as_ptr(), p.0.as_ptr()) })?;
        Some(key)
    }

    /// A new key pair from aws-lc's generator.
    pub fn generate(nid: c_int) -> Option<EcKey> {
        let key = EcKey::empty(nid)?;
        // SAFETY: the key is fresh and has a group.
        ok(unsafe { sys::EC_KEY_generate_key(key.0.as_ptr()) })?;
        Some(key)
    }

    /// The private scalar as `len` bytes.
    pub fn private_bytes(&self, len: usize) -> Option<Zeroizing<Vec<u8>>> {
        // SAFETY: the getter returns the key's own scalar (or NULL), alive while `self` is.
        let d = unsafe { sys::EC_KEY_get0_private_key(self.0.as_ptr()) };
        if d.is_null() {
            return None;
        }
        // SAFETY: `d` is a live BIGNUM of the key.
        unsafe { bn_to_padded(d, len) }
    }

    /// The public point, uncompressed (`1 + 2 * field_len` bytes).
    pub fn public_point(&self) -> Option<Vec<u8>> {
        // SAFETY: the getter returns the key's own point (or NULL).
        let p = unsafe { sys::EC_KEY_get0_public_key(self.0.as_ptr()) };
        if p.is_null() {
            return None;
        }
        let form = sys::point_conversion_form_t::POINT_CONVERSION_UNCOMPRESSED;
        // SAFETY: with a NULL buffer EC_POINT_point2oct only returns the needed length.
        let n = unsafe {
            sys::EC_POINT_point2oct(self.group(), p, form, ptr::null_mut(), 0, ptr::null_mut())
        };
        let mut out = vec![0u8; n];
        // SAFETY: `out` has the `n` bytes the encoding needs.
        let written = unsafe {
            sys::EC_POINT_point2oct(self.group(), p, form, out.as_mut_ptr(), n, ptr::null_mut())
        };
        (n > 0 && written == n).then_some(out)
    }

    /// ECDSA over a caller's digest of any length (aws-lc takes the leftmost bits of the order's
    /// length, FIPS 186-4 §6.4), with a random nonce hedged by the key and digest; `r || s`,
    /// each `field_len` bytes.
    pub fn sign_digest(&self, digest: &[u8], field_len: usize) -> Option<Vec<u8>> {
        // SAFETY: `digest` is a live slice; the key has a private scalar (the caller made it
        // with `from_private` or `generate`); the returned signature is owned and freed below.
        let sig = non_null(unsafe {
            sys::ECDSA_do_sign(digest.as_ptr(), digest.len(), self.0.as_ptr())
        })?;
        let (mut r, mut s) = (ptr::null(), ptr::null());
        // SAFETY: ECDSA_SIG_get0 stores borrowed pointers to the signature's own r and s.
        unsafe { sys::ECDSA_SIG_get0(sig.as_ptr(), &mut r, &mut s) };
        // SAFETY: r and s live as long as `sig`, which is freed only after this.
        let out = unsafe {
            match (bn_to_padded(r, field_len), bn_to_padded(s, field_len)) {
                (Some(r), Some(s)) => {
                    let mut v = Vec::with_capacity(2 * field_len);
                    v.extend_from_slice(&r);
                    v.extend_from_slice(&s);
                    Some(v)
                }
                _ => None,
            }
        };
        // SAFETY: we own the signature returned by ECDSA_do_sign.
        unsafe { sys::ECDSA_SIG_free(sig.as_ptr()) };
        out
    }

    /// ECDSA verification of `(r, s)` over a digest of any length with this public key.
    pub fn verify_digest(&self, digest: &[u8], r: &[u8], s: &[u8]) -> bool {
        let (Some(r), Some(s)) = (Bn::from_be(r), Bn::from_be(s)) else {
            return false;
        };
        // SAFETY: ECDSA_SIG_new has no preconditions; the result is freed below.
        let Some(sig) = non_null(unsafe { sys::ECDSA_SIG_new() }) else {
            return false;
        };
        // SAFETY: ECDSA_SIG_set0 takes ownership of both BIGNUMs (given up by `into_raw`).
        let set = unsafe { sys::ECDSA_SIG_set0(sig.as_ptr(), r.into_raw(), s.into_raw()) };
        // SAFETY: signature, digest and key are live; aws-lc checks 0 < r, s < n itself.
        let good = set == 1
            && unsafe {
                sys::ECDSA_do_verify(digest.as_ptr(), digest.len(), sig.as_ptr(), self.0.as_ptr())
            } == 1;
        // SAFETY: we own the signature; it frees r and s with it.
        unsafe { sys::ECDSA_SIG_free(sig.as_ptr()) };
        if !good {
            clear_errors();
        }
        good
    }

    /// ECDH: the x coordinate (`field_len` bytes) of this private key times `peer`'s point.
    pub fn ecdh(&self, peer: &EcKey, field_len: usize) -> Option<Zeroizing<Vec<u8>>> {
        // SAFETY: the getter returns the peer key's own point (or NULL).
        let point = unsafe { sys::EC_KEY_get0_public_key(peer.0.as_ptr()) };
        if point.is_null() {
            return None;
        }
        let mut out = Zeroizing::new(vec![0u8; field_len]);
        // SAFETY: `out` has `field_len` bytes; the point is on the same curve (the caller made
        // both keys for one curve) and alive; no KDF.
        let n = unsafe {
            sys::ECDH_compute_key(
                out.as_mut_ptr().cast(),
                field_len,
                point,
                self.0.as_ptr(),
                None,
            )
        };
        if usize::try_from(n).ok() == Some(field_len) {
            Some(out)
        } else {
            clear_errors();
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AES

/// An AES key schedule for one direction, using the processor's AES instructions where it has
/// them; wiped on drop. Boxed, and filled where it lies: an AES-256 schedule begins with the key
/// itself, and every move of one held inline left an unwiped copy on the stack, which a later
/// heap copy of stack bytes (tokio boxing a large future) carried into a freed block.
pub struct AesSchedule(Box<sys::AES_KEY>);

impl Drop for AesSchedule {
    fn drop(&mut self) {
        self.0.rd_key.zeroize();
        self.0.rounds = 0;
    }
}

impl Clone for AesSchedule {
    fn clone(&self) -> Self {
        let mut k = AesSchedule::empty();
        k.0.rd_key.copy_from_slice(&self.0.rd_key);
        k.0.rounds = self.0.rounds;
        k
    }
}

impl AesSchedule {
    fn empty() -> AesSchedule {
        AesSchedule(Box::new(sys::AES_KEY {
            rd_key: [0; 60],
            rounds: 0,
        }))
    }

    /// `encrypt`: the encryption schedule, else the decryption one. `None` unless the key has
    /// 16, 24 or 32 bytes.
    pub fn new(key: &[u8], encrypt: bool) -> Option<AesSchedule> {
        setup();
        if !matches!(key.len(), 16 | 24 | 32) {
            return None;
        }
        let mut k = AesSchedule::empty();
        let bits = (key.len() * 8) as u32;
        // SAFETY: `key` holds bits/8 bytes; `k.0` is a writable AES_KEY.
        let rc = unsafe {
            if encrypt {
                sys::AES_set_encrypt_key(key.as_ptr(), bits, &mut *k.0)
            } else {
                sys::AES_set_decrypt_key(key.as_ptr(), bits, &mut *k.0)
            }
        };
        (rc == 0).then_some(k)
    }

    /// Encrypt (or, with a decryption schedule, decrypt) one block in place.
    pub fn block(&self, encrypt: bool, b: &mut [u8; 16]) {
        let p = b.as_mut_ptr();
        // SAFETY: in and out are the same 16-byte block, which aws-lc allows.
        unsafe {
            if encrypt {
                sys::AES_encrypt(p, p, &*self.0)
            } else {
                sys::AES_decrypt(p, p, &*self.0)
            }
        }
    }

    /// CBC over the whole blocks of `input` into `out` (as many as both hold), chaining from
    /// and updating `iv`.
    pub fn cbc_into(&self, encrypt: bool, iv: &mut [u8; 16], input: &[u8], out: &mut [u8]) {
        let n = input.len().min(out.len());
        let n = n - n % 16;
        // SAFETY: `n` bytes are readable at `input` and writable at `out` (two distinct live
        // slices, as `&`/`&mut` guarantee); `iv` is a 16-byte buffer aws-lc updates to the last
        // ciphertext block.
        unsafe {
            sys::AES_cbc_encrypt(
                input.as_ptr(),
                out.as_mut_ptr(),
                n,
                &*self.0,
                iv.as_mut_ptr(),
                c_int::from(encrypt),
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AES-GCM

/// An AES-GCM key set up once: a cipher context holding the key schedule and the GHASH tables,
/// never given an IV. Each operation starts from a copy of it ([`GcmKey::start`]), so no key
/// expansion or table set-up happens per operation.
pub struct GcmKey(NonNull<sys::EVP_CIPHER_CTX>);

// SAFETY: after `new` the context is only read: `start` copies it (EVP_CIPHER_CTX_copy takes
// its source as `const` and the GCM copy hook only reads it), so any number of threads may
// copy from it at once; it is freed only by `Drop`, when no one else holds it.
unsafe impl Send for GcmKey {}
// SAFETY: see the `Send` impl above.
unsafe impl Sync for GcmKey {}

impl Drop for GcmKey {
    fn drop(&mut self) {
        // SAFETY: we own the context; freeing it clears the key schedule.
        unsafe { sys::EVP_CIPHER_CTX_free(self.0.as_ptr()) }
    }
}

/// A streaming AES-GCM context (any IV length, tag up to 16 bytes) with key, IV and AAD set.
pub struct GcmCtx(NonNull<sys::EVP_CIPHER_CTX>);

// SAFETY: the context is owned by this value and used only through `&mut self`.
unsafe impl Send for GcmCtx {}

impl Drop for GcmCtx {
    fn drop(&mut self) {
        // SAFETY: we own the context; freeing it cleans up (and clears) the key schedule.
        unsafe { sys::EVP_CIPHER_CTX_free(self.0.as_ptr()) }
    }
}

/// aws-lc's cipher calls take `int` lengths: larger inputs go in pieces of this size.
const CHUNK: usize = 1 << 30;

impl GcmKey {
    /// `None` unless the key has 16, 24 or 32 bytes.
    pub fn new(key: &[u8]) -> Option<GcmKey> {
        setup();
        // SAFETY: these return static cipher descriptions.
        let cipher = unsafe {
            match key.len() {
                16 => sys::EVP_aes_128_gcm(),
                24 => sys::EVP_aes_192_gcm(),
                32 => sys::EVP_aes_256_gcm(),
                _ => return None,
            }
        };
        // SAFETY: EVP_CIPHER_CTX_new has no preconditions; the result is owned by `k`.
        let k = GcmKey(non_null(unsafe { sys::EVP_CIPHER_CTX_new() })?);
        let c = k.0.as_ptr();
        // SAFETY: first the cipher alone, then the key (`key.len()` bytes, matching the
        // cipher) with no IV, which expands the key and computes the GHASH tables.
        unsafe {
            ok(sys::EVP_CipherInit_ex(
                c,
                cipher,
                ptr::null_mut(),
                ptr::null(),
                ptr::null(),
                1,
            ))?;
            ok(sys::EVP_CipherInit_ex(
                c,
                ptr::null(),
                ptr::null_mut(),
                key.as_ptr(),
                ptr::null(),
                1,
            ))?;
        }
        Some(k)
    }

    /// A new operation under this key with `iv` (1 byte or more) and `aad`.
    pub fn start(&self, iv: &[u8], aad: &[u8], encrypt: bool) -> Option<GcmCtx> {
        let iv_len = c_int::try_from(iv.len()).ok().filter(|n| *n > 0)?;
        // SAFETY: EVP_CIPHER_CTX_new has no preconditions; the result is owned by `ctx`.
        let ctx = GcmCtx(non_null(unsafe { sys::EVP_CIPHER_CTX_new() })?);
        let c = ctx.0.as_ptr();
        // SAFETY: the copy only reads the shared key context (see the `Sync` impl) and fills
        // our fresh one; then the IV length (aws-lc allocates for IVs over 16 bytes) and the
        // IV (`iv_len` bytes, live) are set on our copy alone, with the key already there.
        unsafe {
            ok(sys::EVP_CIPHER_CTX_copy(c, self.0.as_ptr()))?;
            ok(sys::EVP_CIPHER_CTX_ctrl(
                c,
                sys::EVP_CTRL_AEAD_SET_IVLEN,
                iv_len,
                ptr::null_mut(),
            ))?;
            ok(sys::EVP_CipherInit_ex(
                c,
                ptr::null(),
                ptr::null_mut(),
                ptr::null(),
                iv.as_ptr(),
                c_int::from(encrypt),
            ))?;
        }
        for part in aad.chunks(CHUNK) {
            let mut n = 0;
            // SAFETY: a NULL output makes EVP_CipherUpdate take `part` as AAD; `part.len()`
            // fits an int (CHUNK).
            ok(unsafe {
                sys::EVP_CipherUpdate(
                    c,
                    ptr::null_mut(),
                    &mut n,
                    part.as_ptr(),
                    part.len() as c_int,
                )
            })?;
        }
        Some(ctx)
    }
}

impl GcmCtx {
    /// Encrypt or decrypt `input` into `out` (GCM output has the input's length; `out` must
    /// have room for all of it, else `None` before anything is done).
    pub fn update_into(&mut self, input: &[u8], out: &mut [u8]) -> Option<()> {
        let out = out.get_mut(..input.len())?;
        for (i, o) in input.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            let mut n = 0;
            // SAFETY: `i` and `o` are live, distinct and of the same length, an int (CHUNK);
            // the output length of GCM equals the input length.
            ok(unsafe {
                sys::EVP_CipherUpdate(
                    self.0.as_ptr(),
                    o.as_mut_ptr(),
                    &mut n,
                    i.as_ptr(),
                    i.len() as c_int,
                )
            })?;
            if usize::try_from(n).ok() != Some(i.len()) {
                return None;
            }
        }
        Some(())
    }

    /// Encryption: end the message and return the full 16-byte tag.
    pub fn tag(&mut self) -> Option<[u8; 16]> {
        let mut n = 0;
        let mut tag = [0u8; 16];
        // SAFETY: GCM's final step writes no output (a NULL-safe zero-length buffer is fine,
        // but we pass the tag buffer for room); then GET_TAG copies 16 bytes into `tag`.
        unsafe {
            ok(sys::EVP_CipherFinal_ex(
                self.0.as_ptr(),
                tag.as_mut_ptr(),
                &mut n,
            ))?;
            ok(sys::EVP_CIPHER_CTX_ctrl(
                self.0.as_ptr(),
                sys::EVP_CTRL_AEAD_GET_TAG,
                16,
                tag.as_mut_ptr().cast(),
            ))?;
        }
        Some(tag)
    }

    /// Decryption: end the message and check `tag` (1..=16 bytes, compared in constant time by
    /// aws-lc against as many bytes of the computed tag).
    pub fn check_tag(&mut self, tag: &[u8]) -> bool {
        let Ok(len) = c_int::try_from(tag.len()) else {
            return false;
        };
        if !(1..=16).contains(&len) {
            return false;
        }
        let mut buf = [0u8; 16];
        buf[..tag.len()].copy_from_slice(tag);
        let mut n = 0;
        let mut out = [0u8; 16];
        // SAFETY: SET_TAG copies `len` (<= 16) bytes from `buf`; the final step writes no
        // output into the 16-byte `out`.
        unsafe {
            ok(sys::EVP_CIPHER_CTX_ctrl(
                self.0.as_ptr(),
                sys::EVP_CTRL_AEAD_SET_TAG,
                len,
                buf.as_mut_ptr().cast(),
            ))
            .is_some()
                && ok(sys::EVP_CipherFinal_ex(
                    self.0.as_ptr(),
                    out.as_mut_ptr(),
                    &mut n,
                ))
                .is_some()
        }
    }
}

/// Fill `out` from aws-lc's generator: a per-thread CTR-DRBG seeded from the operating system
/// (and CPU) entropy, reseeded after a fork (aws-lc detects it), so large requests cost no
/// system call per byte.
pub fn rand_bytes(out: &mut [u8]) -> Option<()> {
    setup();
    // SAFETY: `out` is valid for writes of `out.len()` bytes; RAND_bytes writes exactly that.
    ok(unsafe { sys::RAND_bytes(out.as_mut_ptr(), out.len()) })
}
